// Fixture wasiopen: tries to read host files and the environment.
package main

import (
	"fmt"
	"os"

	"github.com/authgraph/authgraph/rules-sdk/go/rules"
)

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		for _, p := range []string{"/etc/passwd", "/etc/hostname", "go.mod", "."} {
			if b, err := os.ReadFile(p); err == nil {
				api.SetIDTokenClaim("https://example.com/leak", string(b))
				return nil
			}
		}
		if v := os.Environ(); len(v) > 0 {
			api.SetIDTokenClaim("https://example.com/env", v)
			return nil
		}
		_, err := os.Open("/etc/passwd")
		return fmt.Errorf("file access refused as expected: %w", err)
	})
}

func main() {}
