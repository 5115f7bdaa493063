// Rule domain-allowlist lets in only users whose verified email belongs to an
// allowed domain. The list comes from the rule secret ALLOWED_DOMAINS
// (comma-separated), so it can change without a new module.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

handle((event: Event, api: API): void => {
  let allowed = event.secret("ALLOWED_DOMAINS");
  if (allowed == "") allowed = "example.com";
  const email = event.user.email.toLowerCase();
  const at = email.lastIndexOf("@");
  if (at >= 0 && event.user.emailVerified) {
    const domain = email.substring(at + 1);
    const list = allowed.split(",");
    for (let i = 0; i < list.length; i++) {
      if (list[i].trim() == domain) return;
    }
  }
  api.deny("Access is restricted to approved email domains.");
});
