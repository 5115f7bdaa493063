// Fixture linkto: asks to link the user who logged in to the primary user
// named by the rule's secret "primary" (the link_to command).
package main

import "github.com/authgraph/authgraph/rules-sdk/go/rules"

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		if p := e.Secrets["primary"]; p != "" && p != e.User.UserID {
			api.LinkTo(p)
		}
		return nil
	})
}

func main() {}
