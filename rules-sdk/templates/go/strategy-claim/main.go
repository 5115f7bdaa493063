// Rule strategy-claim tells APIs which kind of connection the user signed in
// with (auth0, oidc, samlp, ad, github...).
package main

import "github.com/authgraph/authgraph/rules-sdk/go/rules"

const namespace = "https://example.com/"

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		api.SetAccessTokenClaim(namespace+"connection_strategy", e.Connection.Strategy)
		return nil
	})
}

func main() {}
