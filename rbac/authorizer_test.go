package rbac_test

import (
	"context"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/rbac"
)

// On a cold cache, a user's permissions take a fixed number of queries
// however many roles the user holds: the roles' permissions come in one.
func TestPermissionsColdQueryCount(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newEnv(s)
		rs := e.api(t, "read:x", "write:x")
		var queries atomic.Int64
		drv := dialect.DebugWithContext(entsql.OpenDB(s.Deps.DB.Dialect, s.Deps.DB.SQL), func(context.Context, ...any) { queries.Add(1) })
		counted := ent.NewClient(ent.Driver(drv))
		cold := func(roles int) int64 {
			t.Helper()
			u := e.user(t)
			var ids []string
			for i := range roles {
				r := e.role(t, rbac.Permission{ResourceServerIdentifier: rs.Identifier, PermissionName: []string{"read:x", "write:x"}[i%2]})
				ids = append(ids, string(r.ID))
			}
			if err := e.m.AssignUserRoles(sys, string(u.ID), ids); err != nil {
				t.Fatal(err)
			}
			before := queries.Load()
			ps, err := rbac.NewAuthorizer(counted).Permissions(context.Background(), u.ID, rs.ID, nil)
			if err != nil || len(ps) != min(roles, 2) {
				t.Fatalf("%d roles: permissions %v, %v", roles, ps, err)
			}
			return queries.Load() - before
		}
		if one, many := cold(1), cold(20); many != one {
			t.Fatalf("cold cache: %d queries for a user with 20 roles, %d with one", many, one)
		}
	})
}
