// Fixture roles: the benchmark's work, copy app_metadata.roles into a
// namespaced ID token claim.
package main

import "github.com/authgraph/authgraph/rules-sdk/go/rules"

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		roles, _ := e.User.AppMetadata["roles"].([]any)
		api.SetIDTokenClaim("https://example.com/roles", roles)
		return nil
	})
}

func main() {}
