// Fixture panic: a handler that panics.
package main

import "github.com/authgraph/authgraph/rules-sdk/go/rules"

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		var m map[string]int
		m["boom"] = 1 // assignment to entry in nil map
		return nil
	})
}

func main() {}
