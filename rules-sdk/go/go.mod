module github.com/authgraph/authgraph/rules-sdk/go

go 1.24
