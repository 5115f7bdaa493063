// Rule roles-claim copies app_metadata.roles into the ID and access tokens
// under a namespaced claim (plain "roles" is a restricted claim name).
import { Event, API, Value, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

const NAMESPACE = "https://example.com/"; // use a URL you control

handle((event: Event, api: API): void => {
  let roles = event.user.appMetadata.get("roles");
  if (!roles.isArray()) roles = Value.newArray();
  api.setIdTokenClaim(NAMESPACE + "roles", roles);
  api.setAccessTokenClaim(NAMESPACE + "roles", roles);
});
