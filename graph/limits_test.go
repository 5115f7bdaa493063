package graph_test

import (
	"context"
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

// ids returns n well-formed node ids that name no object.
func fakeIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%026d", prefix, i)
	}
	return out
}

// TestListArgumentsAreCapped: a self-service user token sent nodes(ids:)
// with 100,000 ids (seconds of work and one error log line per id). Every
// list argument, at the top level or inside an input object, holds at most
// graph.MaxListLength items; a longer one is refused as BAD_USER_INPUT
// before any resolver runs, naming the argument, and logs nothing.
func TestListArgumentsAreCapped(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		jane := createUser(t, s, map[string]any{"connection": defaultConn, "email": "jane-lists@example.com"})
		self := userToken(t, s, jane.UserID, "read:current_user update:current_user_metadata")
		over := graph.MaxListLength + 1
		s.StopJobs() // statements are counted below: no background polling

		for _, n := range []int{100_000, 300_000} {
			t.Run(fmt.Sprintf("%d ids from a self-service token", n), func(t *testing.T) {
				// Baseline: the statements of a request refused before any
				// resolver (token verification may touch the database).
				stmts := func() int64 { return s.Deps.DB.Stats().Statements }
				b0 := stmts()
				expectError(t, s.GraphQL(t, self, introspectionOfDepth(graph.MaxDepth+1), nil), "BAD_USER_INPUT", "")
				baseline := stmts() - b0
				before, b1 := len(s.LogLines()), stmts()
				r := s.GraphQL(t, self, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": fakeIDs("usr_", n)})
				expectError(t, r, "BAD_USER_INPUT", "ids")
				if !dataIsEmpty(r.Data) {
					t.Fatalf("data %s", r.Data)
				}
				if got := stmts() - b1; got > baseline {
					t.Errorf("the refused request ran %d statements, a request refused before resolving %d", got, baseline)
				}
				if logged := s.LogLines()[before:]; len(logged) > 1 {
					t.Errorf("one request logged %d lines, first %q", len(logged), logged[0])
				}
			})
		}
		t.Run("ids at the cap run", func(t *testing.T) {
			// Ids naming nothing: one NOT_FOUND per id, nothing refused.
			r := s.GraphQL(t, admin, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": fakeIDs("usr_", graph.MaxListLength)})
			if len(r.Errors) != graph.MaxListLength {
				t.Fatalf("want %d NOT_FOUND errors, got %d", graph.MaxListLength, len(r.Errors))
			}
			for _, e := range r.Errors {
				if e.Code() != "NOT_FOUND" {
					t.Fatalf("error %+v", e)
				}
			}
		})

		list := func(n int, f func(i int) string) string {
			items := make([]string, n)
			for i := range items {
				items[i] = fmt.Sprintf("%q", f(i))
			}
			return "[" + strings.Join(items, ", ") + "]"
		}
		ids := list(over, func(i int) string { return fmt.Sprintf("usr_%026d", i) })
		urls := list(over, func(i int) string { return fmt.Sprintf("https://app%d.example.com/cb", i) })
		names := list(over, func(i int) string { return fmt.Sprintf("name%d", i) })
		var orders []string
		for range over {
			orders = append(orders, "{field: CREATED_AT, direction: ASC}")
		}
		var scopeInputs []string
		for i := range over {
			scopeInputs = append(scopeInputs, fmt.Sprintf(`{value: "read:thing%d"}`, i))
		}
		cases := []struct{ name, query, field string }{
			{"nodes literal", `{ nodes(ids: ` + ids + `) { id } }`, "ids"},
			{"users orderBy", `{ users(orderBy: [` + strings.Join(orders, ", ") + `]) { totalCount } }`, "orderBy"},
			{"reorderRules", `mutation { reorderRules(ids: ` + list(over, func(i int) string { return fmt.Sprintf("rul_%026d", i) }) + `) { id } }`, "ids"},
			{"grantAdmin scopes", `mutation { grantAdmin(userId: "` + jane.ID + `", scopes: ` + names + `) { scopes } }`, "scopes"},
			{"createClient redirectUris", `mutation { createClient(input: {name: "many", type: "spa", redirectUris: ` + urls + `}) { clientSecret } }`, "input.redirectUris"},
			{"createClient logoutUrls", `mutation { createClient(input: {name: "many", type: "spa", logoutUrls: ` + urls + `}) { clientSecret } }`, "input.logoutUrls"},
			{"createClient webOrigins", `mutation { createClient(input: {name: "many", type: "spa", webOrigins: ` + urls + `}) { clientSecret } }`, "input.webOrigins"},
			{"createClient managementScopes", `mutation { createClient(input: {name: "many", type: "m2m", managementScopes: ` + names + `}) { clientSecret } }`, "input.managementScopes"},
			{"updateClient redirectUris", `mutation { updateClient(id: "cli_00000000000000000000000000", input: {redirectUris: ` + urls + `}) { id } }`, "input.redirectUris"},
			{"createConnection enabledClients", `mutation { createConnection(input: {name: "many", strategy: "database", enabledClients: ` + names + `}) { id } }`, "input.enabledClients"},
			{"updateConnection enabledClients", `mutation { updateConnection(id: "con_00000000000000000000000000", input: {enabledClients: ` + names + `}) { id } }`, "input.enabledClients"},
			{"createResourceServer scopes", `mutation { createResourceServer(input: {name: "many", identifier: "https://many.example.com", scopes: [` + strings.Join(scopeInputs, ", ") + `]}) { id } }`, "input.scopes"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				sn := takeSnapshot(t, s)
				before := len(s.LogLines())
				r := s.GraphQL(t, admin, c.query, nil)
				expectError(t, r, "BAD_USER_INPUT", c.field)
				if !dataIsEmpty(r.Data) {
					t.Fatalf("data %s", r.Data)
				}
				sn.assertUnchanged(t, s)
				if logged := s.LogLines()[before:]; len(logged) > 0 {
					t.Errorf("a refused request logged %q", logged)
				}
			})
		}
		t.Run("list arguments are charged in complexity", func(t *testing.T) {
			// Each nodes(ids: 100) of full users costs ~100×23; ten exceed the limit.
			var b strings.Builder
			b.WriteString("query($ids: [ID!]!) {")
			for i := range 10 {
				fmt.Fprintf(&b, " n%d: nodes(ids: $ids) { ... on User { %s } }", i, userFields)
			}
			b.WriteString(" }")
			r := s.GraphQL(t, admin, b.String(), map[string]any{"ids": fakeIDs("usr_", graph.MaxListLength)})
			if len(r.Errors) == 0 || r.Errors[0].Code() != "COMPLEXITY_LIMIT_EXCEEDED" || !dataIsEmpty(r.Data) {
				t.Fatalf("want COMPLEXITY_LIMIT_EXCEEDED, got %+v", r.Errors)
			}
		})
	})
}

// TestOneLogLinePerRequest: a request whose fields fail internally logs one
// line for the request, not one per failed field.
func TestOneLogLinePerRequest(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		// ids whose prefix is a node type but whose object is missing
		// answer NOT_FOUND (no log); a broken database answers internal
		// errors for every field.
		var b strings.Builder
		b.WriteString("{")
		for i := range 50 {
			fmt.Fprintf(&b, " u%d: users(first: 1) { totalCount }", i)
		}
		b.WriteString(" }")
		q := b.String()
		s.MustGraphQL(t, admin, q, nil, &map[string]any{})
		// Make every users query fail: the table is gone.
		if _, err := s.Deps.DB.SQL.ExecContext(context.Background(), `ALTER TABLE users RENAME TO users_gone`); err != nil {
			t.Skipf("cannot break the users table here: %v", err)
		}
		before := len(s.LogLines())
		r := s.GraphQL(t, admin, q, nil)
		if len(r.Errors) != 50 {
			t.Fatalf("want 50 errors, got %d: %+v", len(r.Errors), r.Errors[:min(len(r.Errors), 2)])
		}
		for _, e := range r.Errors {
			if e.Code() != "INTERNAL_SERVER_ERROR" || e.Message != "internal error" {
				t.Fatalf("error %+v", e)
			}
		}
		logged := s.LogLines()[before:]
		if len(logged) != 1 {
			t.Fatalf("one request logged %d lines: %q", len(logged), logged[:min(len(logged), 3)])
		}
		if !strings.Contains(logged[0], "errors=50") {
			t.Errorf("the line does not count the errors: %q", logged[0])
		}
	})
}
