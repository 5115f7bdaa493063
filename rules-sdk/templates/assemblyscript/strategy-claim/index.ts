// Rule strategy-claim tells APIs which kind of connection the user signed in
// with (auth0, oidc, samlp, ad, github...).
import { Event, API, handle } from "@authgraph/rules-sdk";
export * from "@authgraph/rules-sdk/assembly/exports";

const NAMESPACE = "https://example.com/";

handle((event: Event, api: API): void => {
  api.setAccessTokenClaim(NAMESPACE + "connection_strategy", event.connection.strategy);
});
