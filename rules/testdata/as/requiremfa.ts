// Fixture requiremfa: same as go/requiremfa.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

handle((e: Event, api: API): void => {
  const n = e.user.appMetadata.get("mfa_rule_runs").asNumber() + 1;
  api.setAppMetadata("mfa_rule_runs", n);
  const methods = new Array<string>();
  for (let i = 0; i < e.authentication.methods.length; i++) methods.push(e.authentication.methods[i].name);
  api.setIdTokenClaim("https://example.com/methods", methods);
  if (e.user.appMetadata.get("role").asString() == "admin") {
    api.log("mfa required for " + e.user.userId);
    api.requireMfa();
  }
});
