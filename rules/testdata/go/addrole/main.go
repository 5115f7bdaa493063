// Fixture addrole: the roles command. It adds the role named by the rule's
// secret "add" and removes the one named by "remove", for this login only;
// with the secret "record" it puts the roles it sees
// (event.authorization.roles) in the access token claim
// https://example.com/roles.
package main

import "github.com/authgraph/authgraph/rules-sdk/go/rules"

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		if r := e.Secrets["add"]; r != "" {
			api.AddRole(r)
		}
		if r := e.Secrets["remove"]; r != "" {
			api.RemoveRole(r)
		}
		if e.Secrets["record"] != "" {
			roles := e.Authorization.Roles
			if roles == nil {
				roles = []string{}
			}
			api.SetAccessTokenClaim("https://example.com/roles", roles)
		}
		return nil
	})
}

func main() {}
