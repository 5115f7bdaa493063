module example.com/authgraph-rule-templates

go 1.24

require github.com/authgraph/authgraph/rules-sdk/go v0.0.0

// The templates build against the SDK in this repository. Outside it, drop this
// line and `go get github.com/authgraph/authgraph/rules-sdk/go@latest`.
replace github.com/authgraph/authgraph/rules-sdk/go => ../../go
