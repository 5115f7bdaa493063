// Compile check for the SDK itself (npm run build): a rule using every API.
import { Event, API, Value, handle } from "./index";
export * from "./exports";

handle((e: Event, api: API): void => {
  api.log("user " + e.user.userId);
  api.setIdTokenClaim("https://example.com/roles", e.user.appMetadata.get("roles"));
  api.setAccessTokenClaim("https://example.com/n", 3);
  api.setAccessTokenClaim("https://example.com/b", true);
  api.setAccessTokenClaim("https://example.com/s", ["a", "b"]);
  api.setAppMetadata("seen", e.now);
  api.deleteUserMetadata("old");
  if (e.secret("X") == "deny") api.deny("no");
  if (e.user.blocked) api.fail("blocked");
  if (!e.authentication.hasMethod("mfa") && e.authentication.methods.length > 0) api.requireMfa();
  api.addRole("editor");
  const v: Value = Value.newObject();
  api.setUserMetadata("obj", v);
});
