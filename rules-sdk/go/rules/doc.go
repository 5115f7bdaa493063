// Package rules is the Go SDK for Authgraph post-login rules (ABI v1).
//
// A rule is a main package built as a WebAssembly reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o rule.wasm .
//
// It registers one handler in init and leaves main empty:
//
//	package main
//
//	import "github.com/authgraph/authgraph/rules-sdk/go/rules"
//
//	func init() {
//		rules.Handle(func(e *rules.Event, api *rules.API) error {
//			if !e.User.EmailVerified {
//				api.Deny("please verify your email")
//			}
//			return nil
//		})
//	}
//
//	func main() {}
//
// The package has no dependencies outside the standard library. Only the file
// holding the wasm exports is restricted to wasip1, so a rule's logic can be
// unit-tested natively with [Run].
//
// Guest code must be synchronous: goroutines started by a handler never run
// after the export returns. The guest clock is fake; use [Event.Now].
package rules

// ABIVersion is the version of the host/guest contract this SDK implements
// (see rules-sdk/ABI.md).
const ABIVersion = 1
