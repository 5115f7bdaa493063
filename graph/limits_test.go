package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/graph"
	"github.com/authgraph/authgraph/internal/apitest"
)

// introspectionOfDepth returns a query whose deepest field sits at depth.
func introspectionOfDepth(depth int) string {
	// __schema(1) types(2) fields(3) type(4) ofType… name(depth)
	inner := "name"
	for i := 0; i < depth-5; i++ {
		inner = "ofType { " + inner + " }"
	}
	return "{ __schema { types { fields { type { " + inner + " } } } } }"
}

// TestQueryLimits: depth and complexity are refused before anything runs.
func TestQueryLimits(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)

		t.Run("depth at the limit runs", func(t *testing.T) {
			s.MustGraphQL(t, admin, introspectionOfDepth(graph.MaxDepth), nil, &map[string]any{})
		})
		t.Run("depth over the limit is refused", func(t *testing.T) {
			r := s.GraphQL(t, admin, introspectionOfDepth(graph.MaxDepth+1), nil)
			expectError(t, r, "BAD_USER_INPUT", "")
			if !dataIsEmpty(r.Data) {
				t.Fatalf("data %s", r.Data)
			}
		})
		t.Run("depth through fragments is counted", func(t *testing.T) {
			q := `query { users { totalCount } __schema { types { ...T } } }
				fragment T on __Type { fields { type { ...U } } }
				fragment U on __Type { ofType { ... on __Type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } }`
			r := s.GraphQL(t, admin, q, nil)
			expectError(t, r, "BAD_USER_INPUT", "")
			if !dataIsEmpty(r.Data) {
				t.Fatalf("data %s", r.Data)
			}
		})
		t.Run("complexity of a query", func(t *testing.T) {
			// Each users(first: 100) page of full nodes costs ~100×30.
			var b strings.Builder
			b.WriteString("{")
			for i := range 10 {
				fmt.Fprintf(&b, " p%d: users(first: 100) { edges { node { %s } } }", i, userFields)
			}
			b.WriteString(" }")
			r := s.GraphQL(t, admin, b.String(), nil)
			if len(r.Errors) == 0 || r.Errors[0].Code() != "COMPLEXITY_LIMIT_EXCEEDED" || !dataIsEmpty(r.Data) {
				t.Fatalf("want COMPLEXITY_LIMIT_EXCEEDED, got %+v", r.Errors)
			}
			// One such page is fine.
			s.MustGraphQL(t, admin, `{ users(first: 100) { edges { node { `+userFields+` } } } }`, nil, &map[string]any{})
		})
		t.Run("default page size counts toward complexity", func(t *testing.T) {
			var b strings.Builder
			b.WriteString("{")
			for i := range 20 {
				fmt.Fprintf(&b, " p%d: users { edges { node { %s } } }", i, userFields)
			}
			b.WriteString(" }")
			r := s.GraphQL(t, admin, b.String(), nil)
			if len(r.Errors) == 0 || r.Errors[0].Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
				t.Fatalf("want COMPLEXITY_LIMIT_EXCEEDED, got %+v", r.Errors)
			}
		})
		t.Run("an over-complex mutation writes nothing", func(t *testing.T) {
			users, logs := count(t, s, "users"), sapiCount(t, s)
			var b strings.Builder
			b.WriteString("mutation {")
			for i := range 600 {
				fmt.Fprintf(&b, ` a%d: createUser(input: {connection: %q, email: "cx%d@example.com"}) { ...F }`, i, defaultConn, i)
			}
			b.WriteString(" } fragment F on User { " + userFields + " identities { provider userId isSocial profileData connection { id name strategy options secretsSet enabledClients createdAt updatedAt } } }")
			r := s.GraphQL(t, admin, b.String(), nil)
			if len(r.Errors) == 0 || r.Errors[0].Code() != "COMPLEXITY_LIMIT_EXCEEDED" || !dataIsEmpty(r.Data) {
				t.Fatalf("want COMPLEXITY_LIMIT_EXCEEDED, got %d errors, first %+v", len(r.Errors), r.Errors[:min(len(r.Errors), 1)])
			}
			if count(t, s, "users") != users || sapiCount(t, s) != logs {
				t.Fatal("the refused mutation wrote")
			}
		})
		t.Run("usersByEmail is costed", func(t *testing.T) {
			var b strings.Builder
			b.WriteString("{")
			for i := range 100 {
				fmt.Fprintf(&b, ` e%d: usersByEmail(email: "x%d@example.com") { %s }`, i, i, userFields)
			}
			b.WriteString(" }")
			r := s.GraphQL(t, admin, b.String(), nil)
			if len(r.Errors) == 0 || r.Errors[0].Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
				t.Fatalf("want COMPLEXITY_LIMIT_EXCEEDED, got %+v", r.Errors)
			}
		})
	})
}
