// Rule require-mfa asks administrators (users with the role "admin") for a
// second factor. The host skips the challenge when the user already passed
// one in this session, and never asks at refresh.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

handle((event: Event, api: API): void => {
  if (event.authorization.roles.includes("admin")) {
    if (!event.authentication.hasMethod("mfa")) {
      api.log("second factor required for " + event.user.userId);
    }
    api.requireMfa();
  }
});
