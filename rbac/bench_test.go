package rbac_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/rbac"
)

// BenchmarkPermissions: the token endpoint's question, answered from the
// cache, for a user without roles and for one with 50 roles giving 500
// permissions (10 each) of one API.
func BenchmarkPermissions(b *testing.B) {
	s := apitest.Start(b, testenv.SQLite(b))
	db := s.Deps.DB.Ent
	var scopes []apis.Scope
	for i := range 500 {
		scopes = append(scopes, apis.Scope{"value": fmt.Sprintf("perm:%03d", i), "description": ""})
	}
	rs, err := apis.Create(sys, db, s.Issuer, apis.Params{Identifier: "https://bench.example.com/", Name: ptr("bench"), Scopes: scopes})
	if err != nil {
		b.Fatal(err)
	}
	e := newEnv(s)
	none, many := e.user(b), e.user(b)
	m := rbac.Manager{DB: db, Issuer: s.Issuer}
	var roleIDs, roleNames []string
	for r := range 50 {
		role, err := m.CreateRole(sys, rbac.RoleParams{Name: ptr(fmt.Sprintf("bench role %02d", r))})
		if err != nil {
			b.Fatal(err)
		}
		var perms []rbac.Permission
		for i := range 10 {
			perms = append(perms, rbac.Permission{ResourceServerIdentifier: rs.Identifier, PermissionName: fmt.Sprintf("perm:%03d", r*10+i)})
		}
		if err := m.AddRolePermissions(sys, string(role.ID), perms); err != nil {
			b.Fatal(err)
		}
		roleIDs, roleNames = append(roleIDs, string(role.ID)), append(roleNames, role.Name)
	}
	if err := m.AssignUserRoles(sys, many.UserID, roleIDs); err != nil {
		b.Fatal(err)
	}
	az := rbac.NewAuthorizer(db)
	for _, c := range []struct {
		name  string
		u     *ent.User
		roles []string // a rule's roles for this login
		want  int
	}{
		{"roles=0", none, nil, 0},
		{"roles=50/permissions=500", many, nil, 500},
		{"rule_roles=50/permissions=500", none, roleNames, 500},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			ps, err := az.Permissions(ctx, c.u.ID, rs.ID, c.roles) // fills the cache
			if err != nil || len(ps) != c.want {
				b.Fatalf("%d permissions, %v; want %d", len(ps), err, c.want)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := az.Permissions(ctx, c.u.ID, rs.ID, c.roles); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
