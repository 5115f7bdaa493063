// Fixture counter: same as go/counter.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

handle((e: Event, api: API): void => {
  const n = e.user.appMetadata.get("counter").asNumber() + 1;
  api.setAppMetadata("counter", n);
  api.setAppMetadata("last_rule", "as");
  api.deleteUserMetadata("obsolete");
  api.setIdTokenClaim("https://example.com/counter", n);
  api.setIdTokenClaim("sub", "attacker");
  api.setAccessTokenClaim("urn:example:counter", n);
  api.setAccessTokenClaim("urn:auth0:x", true);
  api.log("as counter=" + (<i64>n).toString() + " key=" + e.secret("API_KEY"));
});
