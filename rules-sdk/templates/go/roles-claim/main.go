// Rule roles-claim copies app_metadata.roles into the ID and access tokens
// under a namespaced claim (plain "roles" is a restricted claim name).
package main

import "github.com/authgraph/authgraph/rules-sdk/go/rules"

const namespace = "https://example.com/" // use a URL you control

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		roles, ok := e.User.AppMetadata["roles"].([]any)
		if !ok {
			roles = []any{}
		}
		api.SetIDTokenClaim(namespace+"roles", roles)
		api.SetAccessTokenClaim(namespace+"roles", roles)
		return nil
	})
}

func main() {}
