module authgraph.test/rules-fixtures

go 1.24

require github.com/authgraph/authgraph/rules-sdk/go v0.0.0

replace github.com/authgraph/authgraph/rules-sdk/go => ../../../rules-sdk/go
