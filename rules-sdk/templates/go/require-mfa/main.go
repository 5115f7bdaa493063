// Rule require-mfa asks administrators (users with the role "admin") for a
// second factor. The host skips the challenge when the user already passed
// one in this session, and never asks at refresh.
package main

import "github.com/authgraph/authgraph/rules-sdk/go/rules"

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		for _, r := range e.Authorization.Roles {
			if r == "admin" {
				if !e.Authentication.HasMethod("mfa") {
					api.Log("second factor required for " + e.User.UserID)
				}
				api.RequireMFA()
				break
			}
		}
		return nil
	})
}

func main() {}
