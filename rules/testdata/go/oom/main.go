// Fixture oom: allocates until the memory limit.
package main

import "github.com/authgraph/authgraph/rules-sdk/go/rules"

var keep [][]byte

func init() {
	rules.Handle(func(e *rules.Event, api *rules.API) error {
		for {
			keep = append(keep, make([]byte, 1<<20))
		}
	})
}

func main() {}
