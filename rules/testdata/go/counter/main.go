// Fixture counter: increments app_metadata.counter (so a pipeline shows each
// rule seeing the previous one's updates), sets allowed and forbidden
// claims, deletes user_metadata.obsolete and logs a secret.
package main

import (
	"fmt"

	"github.com/authgraph/authgraph/rules-sdk/go/rules"
)

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		n, _ := e.User.AppMetadata["counter"].(float64)
		n++
		api.SetAppMetadata("counter", n)
		api.SetAppMetadata("last_rule", "go")
		api.SetUserMetadata("obsolete", nil)
		api.SetIDTokenClaim("https://example.com/counter", n)
		api.SetIDTokenClaim("sub", "attacker")
		api.SetIDTokenClaim("roles", []string{"admin"})
		api.SetAccessTokenClaim("urn:example:counter", n)
		api.SetAccessTokenClaim("https://tenant.auth0.com/x", true)
		api.SetAccessTokenClaim("scope", "delete:users")
		api.Log(fmt.Sprintf("go counter=%v key=%s", n, e.Secrets["API_KEY"]))
		return nil
	})
}

func main() {}
