package graph_test

import (
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
)

// standardIntrospection is the query GraphiQL and codegen tools send: its
// TypeRef fragment nests 13 levels, past the depth limit for data queries.
const standardIntrospection = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`

func TestStandardIntrospectionQueryIsAllowed(t *testing.T) {
	s := apitest.Start(t, apitest.Backends()[0].DSN(t))
	var out struct {
		Schema struct {
			QueryType struct{ Name string } `json:"queryType"`
			Types     []struct{ Name string }
		} `json:"__schema"`
	}
	s.MustGraphQL(t, s.AdminToken(t), standardIntrospection, nil, &out)
	if out.Schema.QueryType.Name != "Query" || len(out.Schema.Types) < 20 {
		t.Fatalf("introspection: %+v", out.Schema.QueryType)
	}
}
