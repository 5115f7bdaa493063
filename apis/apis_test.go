package apis_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func ptr[T any](v T) *T { return &v }

// The RBAC settings of an API: dialect, enforcement, introspection clients.
func TestRBACSettings(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		sys := authz.SystemContext(context.Background())
		m := apis.Manager{DB: s.Deps.DB.Ent, Issuer: s.Issuer}
		app, err := clients.Create(sys, s.Deps.DB.Ent, clients.Params{Name: "introspector", Type: clients.TypeM2M})
		if err != nil {
			t.Fatal(err)
		}
		cid := app.Client.ClientID

		rs, err := m.Create(sys, apis.Params{Identifier: "https://rbac.example.com/", Name: ptr("RBAC")})
		if err != nil {
			t.Fatal(err)
		}
		if rs.EnforcePolicies || rs.TokenDialect != "access_token" || len(rs.IntrospectionClients) != 0 {
			t.Fatalf("defaults: %v %v %v", rs.EnforcePolicies, rs.TokenDialect, rs.IntrospectionClients)
		}
		refused := []struct {
			name string
			p    apis.Params
			msg  string
		}{
			{"unknown dialect", apis.Params{TokenDialect: ptr("jwt")}, "tokenDialect must be one of"},
			{"authz dialect without enforcement", apis.Params{TokenDialect: ptr("access_token_authz")}, "needs enforcePolicies"},
			{"unknown introspection client", apis.Params{IntrospectionClients: []string{cid, "nobody"}}, `"nobody" does not exist`},
			{"duplicate introspection client", apis.Params{IntrospectionClients: []string{cid, cid}}, "listed twice"},
			{"too many introspection clients", apis.Params{IntrospectionClients: make([]string, 21)}, "at most 20"},
		}
		for _, r := range refused {
			if _, err := m.Update(sys, rs.Identifier, r.p); !errors.Is(err, apis.ErrInvalid) || !strings.Contains(err.Error(), r.msg) {
				t.Fatalf("%s: %v, want ErrInvalid with %q", r.name, err, r.msg)
			}
		}
		if _, err := m.Create(sys, apis.Params{Identifier: "https://other.example.com/", Name: ptr("x"),
			TokenDialect: ptr("rfc9068_profile_authz")}); !errors.Is(err, apis.ErrInvalid) {
			t.Fatalf("creating an authz dialect without enforcement: %v", err)
		}

		rs, err = m.Update(sys, rs.Identifier, apis.Params{EnforcePolicies: ptr(true), TokenDialect: ptr("rfc9068_profile_authz"),
			IntrospectionClients: []string{cid}})
		if err != nil {
			t.Fatal(err)
		}
		if !rs.EnforcePolicies || rs.TokenDialect != "rfc9068_profile_authz" || len(rs.IntrospectionClients) != 1 {
			t.Fatalf("after update: %v %v %v", rs.EnforcePolicies, rs.TokenDialect, rs.IntrospectionClients)
		}
		// Turning enforcement off while the dialect needs it is refused.
		if _, err := m.Update(sys, rs.Identifier, apis.Params{EnforcePolicies: ptr(false)}); !errors.Is(err, apis.ErrInvalid) {
			t.Fatalf("enforcement off under an authz dialect: %v", err)
		}
		if _, err := m.Update(sys, rs.Identifier, apis.Params{EnforcePolicies: ptr(false), TokenDialect: ptr("access_token")}); err != nil {
			t.Fatal(err)
		}
	})
}

// Removing a scope from an API takes it from the roles, users and client
// grants that held it, in the same update; the other scopes stay.
func TestScopeRemovalPrunesGrants(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		sys := authz.SystemContext(context.Background())
		db := s.Deps.DB.Ent
		m := apis.Manager{DB: db, Issuer: s.Issuer}
		rs, err := m.Create(sys, apis.Params{Identifier: "https://prune.example.com/", Name: ptr("Prune"),
			Scopes: []apis.Scope{{"value": "read:x"}, {"value": "write:x"}}})
		if err != nil {
			t.Fatal(err)
		}
		app, err := clients.Create(sys, db, clients.Params{Name: "machine", Type: clients.TypeM2M})
		if err != nil {
			t.Fatal(err)
		}
		g := db.ClientGrant.Create().SetClientRef(app.Client.ID).SetResourceServerRef(rs.ID).SetScopes([]string{"read:x", "write:x"}).SaveX(sys)
		r := db.Role.Create().SetName("writer").SaveX(sys)
		db.RolePermission.Create().SetRoleRef(r.ID).SetResourceServerRef(rs.ID).SetPermissionName("write:x").SaveX(sys)

		if _, err := m.Update(sys, rs.Identifier, apis.Params{Scopes: []apis.Scope{{"value": "read:x"}}}); err != nil {
			t.Fatal(err)
		}
		if got := db.ClientGrant.GetX(sys, g.ID).Scopes; !slices.Equal(got, []string{"read:x"}) {
			t.Fatalf("grant scopes after removing write:x: %v", got)
		}
		if n := db.RolePermission.Query().CountX(sys); n != 0 {
			t.Fatalf("%d role permissions left", n)
		}
		// The last scope goes: the grant stays, empty.
		if _, err := m.Update(sys, rs.Identifier, apis.Params{Scopes: []apis.Scope{}}); err != nil {
			t.Fatal(err)
		}
		if got := db.ClientGrant.GetX(sys, g.ID).Scopes; len(got) != 0 {
			t.Fatalf("grant scopes after removing every scope: %v", got)
		}
	})
}
