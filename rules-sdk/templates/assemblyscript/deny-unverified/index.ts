// Rule deny-unverified refuses users whose email address is not verified.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

handle((event: Event, api: API): void => {
  if (event.user.email != "" && !event.user.emailVerified) {
    api.log("denied: unverified email for " + event.user.userId);
    api.deny("Please verify your email address before logging in.");
  }
});
