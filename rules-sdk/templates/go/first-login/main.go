// Rule first-login stamps app_metadata.first_login_at on the user's first
// login. The time comes from the event: the guest clock is fake.
package main

import (
	"time"

	"github.com/authgraph/authgraph/rules-sdk/go/rules"
)

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		if _, done := e.User.AppMetadata["first_login_at"]; done {
			return nil
		}
		api.SetAppMetadata("first_login_at", e.Now.UTC().Format(time.RFC3339))
		api.SetAppMetadata("first_login_client", e.Client.ClientID)
		return nil
	})
}

func main() {}
