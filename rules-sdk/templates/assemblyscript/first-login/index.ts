// Rule first-login stamps app_metadata.first_login_at on the user's first
// login. The time comes from the event: the guest clock is fake.
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

handle((event: Event, api: API): void => {
  if (event.user.appMetadata.has("first_login_at")) return;
  api.setAppMetadata("first_login_at", event.now);
  api.setAppMetadata("first_login_client", event.client.clientId);
});
