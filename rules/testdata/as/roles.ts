// Fixture roles: the benchmark's work, same as go/roles.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

handle((e: Event, api: API): void => {
  api.setIdTokenClaim("https://example.com/roles", e.user.appMetadata.get("roles"));
});
