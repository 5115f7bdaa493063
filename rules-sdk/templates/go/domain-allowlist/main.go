// Rule domain-allowlist lets in only users whose verified email belongs to an
// allowed domain. The list comes from the rule secret ALLOWED_DOMAINS
// (comma-separated), so it can change without a new module.
package main

import (
	"strings"

	"github.com/authgraph/authgraph/rules-sdk/go/rules"
)

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		allowed := e.Secrets["ALLOWED_DOMAINS"]
		if allowed == "" {
			allowed = "example.com"
		}
		_, domain, ok := strings.Cut(strings.ToLower(e.User.Email), "@")
		if ok && e.User.EmailVerified {
			for _, d := range strings.Split(allowed, ",") {
				if strings.TrimSpace(d) == domain {
					return nil
				}
			}
		}
		api.Deny("Access is restricted to approved email domains.")
		return nil
	})
}

func main() {}
