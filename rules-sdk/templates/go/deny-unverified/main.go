// Rule deny-unverified refuses users whose email address is not verified.
package main

import "github.com/authgraph/authgraph/rules-sdk/go/rules"

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		if e.User.Email != "" && !e.User.EmailVerified {
			api.Log("denied: unverified email for " + e.User.UserID)
			api.Deny("Please verify your email address before logging in.")
		}
		return nil
	})
}

func main() {}
