// Fixture loop: never returns.
package main

import "github.com/authgraph/authgraph/rules-sdk/go/rules"

var sink int

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		for i := 0; ; i++ {
			sink += i
		}
	})
}

func main() {}
