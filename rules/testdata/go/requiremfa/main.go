// Fixture requiremfa: requires MFA for users whose app_metadata.role is
// "admin", counts its runs in app_metadata.mfa_rule_runs (so a test sees
// whether, and how often, its updates were stored) and puts the names of
// event.authentication.methods in the ID token claim
// https://example.com/methods.
package main

import "github.com/authgraph/authgraph/rules-sdk/go/rules"

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		n, _ := e.User.AppMetadata["mfa_rule_runs"].(float64)
		api.SetAppMetadata("mfa_rule_runs", n+1)
		methods := []string{}
		for _, m := range e.Authentication.Methods {
			methods = append(methods, m.Name)
		}
		api.SetIDTokenClaim("https://example.com/methods", methods)
		if e.User.AppMetadata["role"] == "admin" {
			api.Log("mfa required for " + e.User.UserID)
			api.RequireMFA()
		}
		return nil
	})
}

func main() {}
