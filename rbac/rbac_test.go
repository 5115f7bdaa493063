package rbac_test

// The RBAC use cases and the Authorizer called directly, as every transport
// calls them, on SQLite and Postgres.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/rbac"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const callerID = "rbac-test-client"

var sys = authz.SystemContext(context.Background())

// as is a caller (a client) holding scopes.
func as(scopes ...string) context.Context {
	return authz.NewContext(context.Background(), &authz.Viewer{Subject: callerID, ClientID: callerID, Scopes: scopes})
}

type env struct {
	s    *apitest.Server
	db   *ent.Client
	m    rbac.Manager
	apis apis.Manager
	az   *rbac.Authorizer
	n    int
}

func newEnv(s *apitest.Server) *env {
	db := s.Deps.DB.Ent
	return &env{s: s, db: db, m: rbac.Manager{DB: db, Issuer: s.Issuer}, apis: apis.Manager{DB: db, Issuer: s.Issuer},
		az: rbac.NewAuthorizer(db)}
}

func ptr[T any](v T) *T { return &v }

func (e *env) uniq(prefix string) string { e.n++; return fmt.Sprintf("%s-%d", prefix, e.n) }

// api registers an API declaring scopes.
func (e *env) api(t *testing.T, scopes ...string) *ent.ResourceServer {
	t.Helper()
	var ss []apis.Scope
	for _, s := range scopes {
		ss = append(ss, apis.Scope{"value": s, "description": "can " + s})
	}
	rs, err := e.apis.Create(sys, apis.Params{Identifier: "https://" + e.uniq("api") + ".example.com/", Name: ptr("API"), Scopes: ss})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func (e *env) user(t testing.TB) *ent.User {
	t.Helper()
	email := e.uniq("user") + "@example.com"
	u, err := identity.Create(sys, e.db, nil, identity.CreateInput{Connection: connections.DefaultDatabase, Email: &email,
		Password: ptr("Correct-Horse-Battery-Staple-9")})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *env) role(t *testing.T, perms ...rbac.Permission) *ent.Role {
	t.Helper()
	r, err := e.m.CreateRole(sys, rbac.RoleParams{Name: ptr(e.uniq("role"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(perms) > 0 {
		must(t, e.m.AddRolePermissions(sys, string(r.ID), perms))
	}
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func p(rs *ent.ResourceServer, names ...string) []rbac.Permission {
	var out []rbac.Permission
	for _, n := range names {
		out = append(out, rbac.Permission{ResourceServerIdentifier: rs.Identifier, PermissionName: n})
	}
	return out
}

// perms asserts the user's effective permissions on rs.
func (e *env) perms(t *testing.T, u *ent.User, rs *ent.ResourceServer, want ...string) {
	t.Helper()
	got, err := e.az.Permissions(context.Background(), u.ID, rs.ID, nil)
	must(t, err)
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("permissions %v, want %v", got, want)
	}
}

// counts is what the RBAC writes may change.
type counts struct{ roles, rolePerms, userRoles, userPerms, grants, logs int }

func (e *env) snap() counts {
	return counts{e.db.Role.Query().CountX(sys), e.db.RolePermission.Query().CountX(sys), e.db.UserRole.Query().CountX(sys),
		e.db.UserPermission.Query().CountX(sys), e.db.ClientGrant.Query().CountX(sys), e.db.LogEvent.Query().CountX(sys)}
}

func (e *env) unchanged(t *testing.T, before counts) {
	t.Helper()
	if after := e.snap(); after != before {
		t.Fatalf("the store changed: before %+v, after %+v", before, after)
	}
}

func TestRBAC(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newEnv(s)
		t.Run("effective permissions", func(t *testing.T) { testMatrix(t, e) })
		t.Run("roles override one answer", func(t *testing.T) { testOverride(t, e) })
		t.Run("scopes and refusals", func(t *testing.T) { testRefusals(t, e) })
		t.Run("roles", func(t *testing.T) { testRoles(t, e) })
		t.Run("client grants", func(t *testing.T) { testClientGrants(t, e) })
		t.Run("listings", func(t *testing.T) { testListings(t, e) })
		t.Run("search roles:", func(t *testing.T) { testSearch(t, e) })
	})
}

func testMatrix(t *testing.T, e *env) {
	rs := e.api(t, "read", "write", "admin")
	u := e.user(t)
	uid := string(u.ID)
	e.perms(t, u, rs) // none

	// Direct: visible on the next call (the cache watches the tables).
	must(t, e.m.AddUserPermissions(sys, u.UserID, p(rs, "read")))
	e.perms(t, u, rs, "read")
	// Idempotent: nothing written, nothing audited.
	must(t, e.m.AddUserPermissions(sys, uid, p(rs, "read")))
	e.perms(t, u, rs, "read")
	n := 0
	for _, l := range e.db.LogEvent.Query().AllX(sys) {
		if l.Details["operation"] == "addUserPermissions" && l.UserID == u.UserID {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d addUserPermissions audit entries for the user, want 1", n)
	}

	// Through one role, then two overlapping ones.
	r1 := e.role(t, p(rs, "read", "write")...)
	r2 := e.role(t, p(rs, "write", "admin")...)
	must(t, e.m.AssignUserRoles(sys, uid, []string{string(r1.ID)}))
	e.perms(t, u, rs, "read", "write")
	must(t, e.m.AssignRoleUsers(sys, string(r2.ID), []string{u.UserID}))
	e.perms(t, u, rs, "admin", "read", "write")
	names, err := e.az.RoleNames(context.Background(), u.ID)
	must(t, err)
	if want := []string{r1.Name, r2.Name}; !slices.Equal(names, want) {
		t.Fatalf("role names %v, want %v", names, want)
	}

	// Direct removed while a role still gives it.
	must(t, e.m.RemoveUserPermissions(sys, uid, p(rs, "read")))
	e.perms(t, u, rs, "admin", "read", "write")
	// Removing an absent permission is a no-op.
	must(t, e.m.RemoveUserPermissions(sys, uid, p(rs, "read")))

	// A role's permission removed; a role removed from the user.
	must(t, e.m.RemoveRolePermissions(sys, string(r2.ID), p(rs, "admin")))
	e.perms(t, u, rs, "read", "write")
	must(t, e.m.RemoveUserRoles(sys, uid, []string{string(r1.ID)}))
	e.perms(t, u, rs, "write")

	// The role deleted.
	must(t, e.m.AddUserPermissions(sys, uid, p(rs, "admin")))
	if _, err := e.m.DeleteRole(sys, string(r2.ID)); err != nil {
		t.Fatal(err)
	}
	e.perms(t, u, rs, "admin")
	if n := e.db.UserRole.Query().CountX(sys); n != 0 {
		t.Fatalf("%d assignments left after the role was deleted", n)
	}

	// A scope deleted from the API disappears from users and roles.
	must(t, e.m.AddUserPermissions(sys, uid, p(rs, "read")))
	must(t, e.m.AssignUserRoles(sys, uid, []string{string(r1.ID)}))
	e.perms(t, u, rs, "admin", "read", "write")
	if _, err := e.apis.Update(sys, rs.Identifier, apis.Params{Scopes: []apis.Scope{{"value": "write"}}}); err != nil {
		t.Fatal(err)
	}
	e.perms(t, u, rs, "write")

	// The API deleted: nothing left of it.
	if _, err := e.apis.Delete(sys, rs.Identifier); err != nil {
		t.Fatal(err)
	}
	e.perms(t, u, rs)
	if n := e.db.RolePermission.Query().CountX(sys) + e.db.UserPermission.Query().CountX(sys); n != 0 {
		t.Fatalf("%d permissions left of a deleted API", n)
	}
}

func testOverride(t *testing.T, e *env) {
	rs := e.api(t, "a", "b", "c")
	u := e.user(t)
	ra := e.role(t, p(rs, "a")...)
	rb := e.role(t, p(rs, "b")...)
	must(t, e.m.AssignUserRoles(sys, u.UserID, []string{string(ra.ID)}))
	must(t, e.m.AddUserPermissions(sys, u.UserID, p(rs, "c")))
	got, err := e.az.Permissions(context.Background(), u.ID, rs.ID, []string{rb.Name, "no such role"})
	must(t, err)
	if want := []string{"b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("with roles overridden: %v, want %v", got, want)
	}
	got, err = e.az.Permissions(context.Background(), u.ID, rs.ID, []string{})
	must(t, err)
	if want := []string{"c"}; !slices.Equal(got, want) {
		t.Fatalf("with no roles: %v, want %v", got, want)
	}
	e.perms(t, u, rs, "a", "c") // the stored roles again
}

func testRefusals(t *testing.T, e *env) {
	rs := e.api(t, "read")
	u := e.user(t)
	r := e.role(t)
	rid, uid := string(r.ID), u.UserID
	app, err := clients.Create(sys, e.db, clients.Params{Name: "m2m", Type: clients.TypeM2M})
	must(t, err)
	cid := app.Client.ClientID
	g, err := e.m.CreateClientGrant(sys, cid, rs.Identifier, []string{"read"})
	must(t, err)

	writes := []struct {
		name  string
		needs []string
		run   func(ctx context.Context) error
	}{
		{"createRole", []string{"create:roles"}, func(ctx context.Context) error {
			_, err := e.m.CreateRole(ctx, rbac.RoleParams{Name: ptr("new role")})
			return err
		}},
		{"updateRole", []string{"update:roles"}, func(ctx context.Context) error {
			_, err := e.m.UpdateRole(ctx, rid, rbac.RoleParams{Name: ptr("renamed")})
			return err
		}},
		{"deleteRole", []string{"delete:roles"}, func(ctx context.Context) error {
			_, err := e.m.DeleteRole(ctx, rid)
			return err
		}},
		{"addRolePermissions", []string{"update:roles"}, func(ctx context.Context) error {
			return e.m.AddRolePermissions(ctx, rid, p(rs, "read"))
		}},
		{"removeRolePermissions", []string{"update:roles"}, func(ctx context.Context) error {
			return e.m.RemoveRolePermissions(ctx, rid, p(rs, "read"))
		}},
		{"assignRoleUsers", []string{"update:roles", "create:role_members"}, func(ctx context.Context) error {
			return e.m.AssignRoleUsers(ctx, rid, []string{uid})
		}},
		{"assignUserRoles", []string{"update:users", "create:role_members"}, func(ctx context.Context) error {
			return e.m.AssignUserRoles(ctx, uid, []string{rid})
		}},
		{"removeUserRoles", []string{"update:users", "delete:role_members"}, func(ctx context.Context) error {
			return e.m.RemoveUserRoles(ctx, uid, []string{rid})
		}},
		{"addUserPermissions", []string{"update:users"}, func(ctx context.Context) error {
			return e.m.AddUserPermissions(ctx, uid, p(rs, "read"))
		}},
		{"removeUserPermissions", []string{"update:users"}, func(ctx context.Context) error {
			return e.m.RemoveUserPermissions(ctx, uid, p(rs, "read"))
		}},
		{"createClientGrant", []string{"create:client_grants"}, func(ctx context.Context) error {
			_, err := e.m.CreateClientGrant(ctx, cid, rs.Identifier, []string{"read"})
			return err
		}},
		{"updateClientGrant", []string{"update:client_grants"}, func(ctx context.Context) error {
			_, err := e.m.UpdateClientGrant(ctx, g.ID, []string{})
			return err
		}},
		{"deleteClientGrant", []string{"delete:client_grants"}, func(ctx context.Context) error {
			_, err := e.m.DeleteClientGrant(ctx, g.ID)
			return err
		}},
	}
	all := []string{"create:roles", "update:roles", "delete:roles", "read:roles", "update:users", "read:users",
		"create:role_members", "delete:role_members", "read:role_members",
		"create:client_grants", "update:client_grants", "delete:client_grants", "read:client_grants"}
	for _, w := range writes {
		for _, missing := range w.needs {
			before := e.snap()
			var held []string
			for _, s := range all {
				if s != missing {
					held = append(held, s)
				}
			}
			err := w.run(as(held...))
			var se *authz.ScopeError
			if !errors.As(err, &se) || se.Scope != missing {
				t.Fatalf("%s without %s: %v, want a scope error", w.name, missing, err)
			}
			e.unchanged(t, before)
		}
	}

	// Bad input: typed errors, nothing changes.
	mgmt, err := apis.Find(sys, e.db, authz.ManagementAudience(e.s.Issuer))
	must(t, err)
	many := make([]string, rbac.MaxPerRequest+1)
	for i := range many {
		many[i] = rid
	}
	bad := []struct {
		name string
		run  func() error
		want any
	}{
		{"management permission on a role", func() error {
			return e.m.AddRolePermissions(sys, rid, p(mgmt, "read:users"))
		}, new(*identity.ValidationError)},
		{"management permission on a user", func() error {
			return e.m.AddUserPermissions(sys, uid, p(mgmt, "read:users"))
		}, new(*identity.ValidationError)},
		{"undeclared permission", func() error {
			return e.m.AddUserPermissions(sys, uid, append(p(rs, "read"), p(rs, "nope")...))
		}, new(*identity.ValidationError)},
		{"unknown API", func() error {
			return e.m.AddRolePermissions(sys, rid, []rbac.Permission{{ResourceServerIdentifier: "https://none.example.com/", PermissionName: "x"}})
		}, new(*identity.NotFoundError)},
		{"unknown role", func() error { return e.m.AssignUserRoles(sys, uid, []string{rid, "rol_01HNOSUCHROLE00000000000000"}) },
			new(*identity.NotFoundError)},
		{"unknown user", func() error { return e.m.AssignRoleUsers(sys, rid, []string{uid, "auth0|nobody"}) },
			new(*identity.NotFoundError)},
		{"too many", func() error { return e.m.AssignUserRoles(sys, uid, many) }, new(*identity.ValidationError)},
		{"none", func() error { return e.m.AddUserPermissions(sys, uid, nil) }, new(*identity.ValidationError)},
	}
	// An administrator's roles and permissions change only for a caller
	// holding every scope of their grant.
	admin := e.user(t)
	e.db.AdminGrant.Create().SetUserRef(admin.ID).SetScopes([]string{"delete:users"}).SaveX(sys)
	lesser := as("update:users", "update:roles", "create:role_members", "delete:role_members")
	var esc *authz.EscalationError
	for name, run := range map[string]func() error{
		"assignUserRoles":       func() error { return e.m.AssignUserRoles(lesser, admin.UserID, []string{rid}) },
		"assignRoleUsers":       func() error { return e.m.AssignRoleUsers(lesser, rid, []string{uid, admin.UserID}) },
		"removeUserRoles":       func() error { return e.m.RemoveUserRoles(lesser, admin.UserID, []string{rid}) },
		"addUserPermissions":    func() error { return e.m.AddUserPermissions(lesser, admin.UserID, p(rs, "read")) },
		"removeUserPermissions": func() error { return e.m.RemoveUserPermissions(lesser, admin.UserID, p(rs, "read")) },
	} {
		before := e.snap()
		if err := run(); !errors.As(err, &esc) || esc.Scope != "delete:users" {
			t.Fatalf("%s on an administrator: %v, want an escalation error", name, err)
		}
		e.unchanged(t, before)
	}
	must(t, e.m.AssignUserRoles(as("update:users", "create:role_members", "delete:users"), admin.UserID, []string{rid}))

	for _, b := range bad {
		before := e.snap()
		err := b.run()
		if err == nil || !errors.As(err, b.want) {
			t.Fatalf("%s: %v, want %T", b.name, err, b.want)
		}
		e.unchanged(t, before)
	}
}

func testRoles(t *testing.T, e *env) {
	r, err := e.m.CreateRole(as("create:roles"), rbac.RoleParams{Name: ptr("Editors"), Description: ptr("edit things")})
	must(t, err)
	before := e.snap()
	var ce *identity.ConflictError
	if _, err := e.m.CreateRole(sys, rbac.RoleParams{Name: ptr("Editors")}); !errors.As(err, &ce) {
		t.Fatalf("a taken name: %v, want a conflict", err)
	}
	other := e.role(t)
	before = e.snap()
	if _, err := e.m.UpdateRole(sys, string(other.ID), rbac.RoleParams{Name: ptr("Editors")}); !errors.As(err, &ce) {
		t.Fatalf("renaming to a taken name: %v, want a conflict", err)
	}
	e.unchanged(t, before)
	got, err := e.m.UpdateRole(as("update:roles"), string(r.ID), rbac.RoleParams{Description: ptr("edit more")})
	must(t, err)
	if got.Name != "Editors" || got.Description != "edit more" {
		t.Fatalf("updated role %+v", got)
	}
	found, err := rbac.FindRole(as("read:roles"), e.db, string(r.ID))
	must(t, err)
	if found.ID != r.ID {
		t.Fatal("FindRole found another role")
	}
	var nf *identity.NotFoundError
	if _, err := rbac.FindRole(sys, e.db, "rol_01HNOSUCHROLE00000000000000"); !errors.As(err, &nf) {
		t.Fatalf("unknown role: %v", err)
	}
	// The audit entry names the operation.
	n := 0
	for _, l := range e.db.LogEvent.Query().AllX(sys) {
		if l.Details["operation"] == "createRole" && l.Description == "Create a role Editors" && l.ClientID == callerID {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d createRole audit entries for Editors", n)
	}
}

func testClientGrants(t *testing.T, e *env) {
	rs := e.api(t, "read", "write")
	app, err := clients.Create(sys, e.db, clients.Params{Name: "m2m", Type: clients.TypeM2M})
	must(t, err)
	cli := app.Client
	g, err := e.m.CreateClientGrant(as("create:client_grants"), cli.ClientID, rs.Identifier, []string{"write", "read"})
	must(t, err)
	if !slices.Equal(g.Scopes, []string{"read", "write"}) || g.Audience != rs.Identifier || g.ClientID != cli.ClientID {
		t.Fatalf("grant %+v", g)
	}
	scopes, ok, err := e.az.ClientScopes(context.Background(), cli.ID, rs.ID)
	must(t, err)
	if !ok || !slices.Equal(scopes, []string{"read", "write"}) {
		t.Fatalf("ClientScopes %v %v", scopes, ok)
	}
	before := e.snap()
	var ce *identity.ConflictError
	if _, err := e.m.CreateClientGrant(sys, cli.ClientID, rs.Identifier, []string{"read"}); !errors.As(err, &ce) {
		t.Fatalf("a second grant: %v, want a conflict", err)
	}
	var ve *identity.ValidationError
	if _, err := e.m.CreateClientGrant(sys, cli.ClientID, e.api(t).Identifier, []string{"read"}); !errors.As(err, &ve) {
		t.Fatalf("an undeclared scope: %v, want a validation error", err)
	}
	var nf *identity.NotFoundError
	if _, err := e.m.CreateClientGrant(sys, "no-such-client", rs.Identifier, nil); !errors.As(err, &nf) {
		t.Fatalf("unknown client: %v, want not found", err)
	}
	if _, err := e.m.CreateClientGrant(sys, cli.ClientID, "https://none.example.com/", nil); !errors.As(err, &nf) {
		t.Fatalf("unknown API: %v, want not found", err)
	}
	g, err = e.m.UpdateClientGrant(as("update:client_grants"), g.ID, []string{"read"})
	must(t, err)
	scopes, _, err = e.az.ClientScopes(context.Background(), cli.ID, rs.ID)
	must(t, err)
	if !slices.Equal(scopes, []string{"read"}) || !slices.Equal(g.Scopes, []string{"read"}) {
		t.Fatalf("after update: %v / %v", scopes, g.Scopes)
	}

	// The management API: the client's management scopes.
	mgmt := authz.ManagementAudience(e.s.Issuer)
	caller := as("create:client_grants", "update:client_grants", "delete:client_grants", "read:client_grants", "read:users")
	var esc *authz.EscalationError
	before = e.snap()
	if _, err := e.m.CreateClientGrant(caller, cli.ClientID, mgmt, []string{"delete:users"}); !errors.As(err, &esc) {
		t.Fatalf("granting a scope the caller lacks: %v, want an escalation error", err)
	}
	e.unchanged(t, before)
	mg, err := e.m.CreateClientGrant(caller, cli.ClientID, mgmt, []string{"read:users"})
	must(t, err)
	if mg.ID != rbac.ManagementGrantID(cli.ID) || mg.ID != "cgr_mgmt_"+string(cli.ID) || !slices.Equal(mg.Scopes, []string{"read:users"}) {
		t.Fatalf("management grant %+v", mg)
	}
	if a, _ := clients.Find(sys, e.db, cli.ClientID); !slices.Equal(a.ManagementScopes, []string{"read:users"}) {
		t.Fatalf("management scopes %v", a.ManagementScopes)
	}
	if _, err := e.m.CreateClientGrant(caller, cli.ClientID, mgmt, []string{"read:users"}); !errors.As(err, &ce) {
		t.Fatalf("a second management grant: %v, want a conflict", err)
	}
	if _, err := e.m.UpdateClientGrant(caller, mg.ID, []string{"read:users", "delete:users"}); !errors.As(err, &esc) {
		t.Fatalf("updating to a scope the caller lacks: %v, want an escalation error", err)
	}
	mgmtRS, err := apis.Find(sys, e.db, mgmt)
	must(t, err)
	scopes, ok, err = e.az.ClientScopes(context.Background(), cli.ID, mgmtRS.ID)
	must(t, err)
	if !ok || !slices.Equal(scopes, []string{"read:users"}) {
		t.Fatalf("management ClientScopes %v %v", scopes, ok)
	}

	// The bootstrap admin client holds every scope and is built in.
	admin, err := clients.Find(sys, e.db, e.s.AdminID)
	must(t, err)
	adminGrant := rbac.ManagementGrantID(admin.ID)
	before = e.snap()
	if _, err := e.m.UpdateClientGrant(caller, adminGrant, []string{"read:users"}); err == nil {
		t.Fatal("the admin client's grant changed")
	}
	if _, err := e.m.DeleteClientGrant(sys, adminGrant); !errors.Is(err, clients.ErrSystemClient) {
		t.Fatalf("deleting the admin client's grant: %v", err)
	}
	e.unchanged(t, before)

	// Listing: the virtual grants and the stored one.
	list, total, err := e.m.ClientGrants(caller, rbac.ClientGrantFilter{ClientID: cli.ClientID}, rbac.Page{})
	must(t, err)
	if total != 2 || len(list) != 2 || list[0].ID != mg.ID || list[1].ID != g.ID {
		t.Fatalf("grants of the client: %d %+v", total, list)
	}
	list, _, err = e.m.ClientGrants(caller, rbac.ClientGrantFilter{Audience: mgmt}, rbac.Page{})
	must(t, err)
	if !slices.ContainsFunc(list, func(g rbac.ClientGrant) bool { return g.ID == adminGrant }) ||
		slices.ContainsFunc(list, func(g rbac.ClientGrant) bool { return g.Audience != mgmt }) {
		t.Fatalf("management grants %+v", list)
	}
	if _, _, err := e.m.ClientGrants(as("read:clients"), rbac.ClientGrantFilter{}, rbac.Page{}); err == nil {
		t.Fatal("listed grants without read:client_grants")
	}

	// Delete both.
	if _, err := e.m.DeleteClientGrant(caller, mg.ID); err != nil {
		t.Fatal(err)
	}
	if a, _ := clients.Find(sys, e.db, cli.ClientID); len(a.ManagementScopes) != 0 {
		t.Fatalf("management scopes left: %v", a.ManagementScopes)
	}
	if _, err := e.m.DeleteClientGrant(caller, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := e.az.ClientScopes(context.Background(), cli.ID, rs.ID); ok {
		t.Fatal("a deleted grant still answers")
	}
	if _, err := e.m.DeleteClientGrant(caller, g.ID); !errors.As(err, &nf) {
		t.Fatalf("deleting again: %v, want not found", err)
	}
}

func testListings(t *testing.T, e *env) {
	rs := e.api(t, "read", "write")
	u1, u2, u3 := e.user(t), e.user(t), e.user(t)
	r := e.role(t, p(rs, "write", "read")...)
	r.Name = "Listing role " + e.uniq("x")
	_, err := e.m.UpdateRole(sys, string(r.ID), rbac.RoleParams{Name: ptr(r.Name)})
	must(t, err)
	other := e.role(t, p(rs, "write")...)
	must(t, e.m.AssignRoleUsers(sys, string(r.ID), []string{u1.UserID, string(u2.ID), u3.UserID}))
	must(t, e.m.AssignUserRoles(sys, u1.UserID, []string{string(other.ID)}))
	must(t, e.m.AddUserPermissions(sys, u1.UserID, p(rs, "write")))

	roles, total, err := e.m.Roles(as("read:roles"), "listing ROLE", rbac.Page{})
	must(t, err)
	if total != 1 || len(roles) != 1 || roles[0].ID != r.ID {
		t.Fatalf("name_filter: %d %v", total, roles)
	}
	if _, _, err := e.m.Roles(as("read:users"), "", rbac.Page{}); err == nil {
		t.Fatal("listed roles without read:roles")
	}

	perms, total, err := e.m.RolePermissions(as("read:roles"), string(r.ID), rbac.Page{Limit: 1, Offset: 1})
	must(t, err)
	if total != 2 || len(perms) != 1 || perms[0].PermissionName != "write" || perms[0].Description != "can write" ||
		perms[0].ResourceServerIdentifier != rs.Identifier || perms[0].ResourceServerName != "API" {
		t.Fatalf("role permissions page 2: %d %+v", total, perms)
	}

	members := as("read:users", "read:role_members")
	var seen []string
	after := ""
	for {
		us, total, err := e.m.RoleUsers(members, string(r.ID), after, 2)
		must(t, err)
		if total != 3 {
			t.Fatalf("member count %d", total)
		}
		if len(us) == 0 {
			break
		}
		for _, u := range us {
			seen = append(seen, string(u.ID))
		}
		after = string(us[len(us)-1].ID)
	}
	want := []string{string(u1.ID), string(u2.ID), string(u3.ID)}
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Fatalf("members by keyset %v, want %v", seen, want)
	}
	us, _, err := e.m.RoleUsersPage(members, string(r.ID), rbac.Page{Offset: 2, Limit: 2})
	must(t, err)
	if len(us) != 1 || string(us[0].ID) != want[2] {
		t.Fatalf("members page 2: %v", us)
	}
	if _, _, err := e.m.RoleUsers(as("read:users"), string(r.ID), "", 10); err == nil {
		t.Fatal("listed members without read:role_members")
	}

	ur, total, err := e.m.UserRoles(as("read:users", "read:roles"), string(u1.ID), rbac.Page{})
	must(t, err)
	if total != 2 || len(ur) != 2 || ur[0].ID != r.ID || ur[1].ID != other.ID {
		t.Fatalf("user roles %d %v", total, ur)
	}

	up, total, err := e.m.UserPermissions(as("read:users"), u1.UserID, rs.Identifier, rbac.Page{})
	must(t, err)
	if total != 2 || up[0].PermissionName != "read" || up[1].PermissionName != "write" {
		t.Fatalf("user permissions %d %+v", total, up)
	}
	if s := up[0].Sources; len(s) != 1 || s[0].Type != "ROLE" || s[0].RoleID != r.ID || s[0].RoleName != r.Name {
		t.Fatalf("sources of read: %+v", s)
	}
	if s := up[1].Sources; len(s) != 3 || s[0].Type != "DIRECT" || s[1].Type != "ROLE" || s[2].Type != "ROLE" {
		t.Fatalf("sources of write: %+v", s)
	}
	if _, _, err := e.m.UserPermissions(as("read:roles"), u1.UserID, "", rbac.Page{}); err == nil {
		t.Fatal("listed user permissions without read:users")
	}
}

func testSearch(t *testing.T, e *env) {
	u1, u2, u3 := e.user(t), e.user(t), e.user(t)
	agents, err := e.m.CreateRole(sys, rbac.RoleParams{Name: ptr("Support agent")})
	must(t, err)
	leads, err := e.m.CreateRole(sys, rbac.RoleParams{Name: ptr("Support")})
	must(t, err)
	must(t, e.m.AssignRoleUsers(sys, string(agents.ID), []string{u1.UserID, u2.UserID}))
	must(t, e.m.AssignRoleUsers(sys, string(leads.ID), []string{u2.UserID, u3.UserID}))
	search := func(q string) []string {
		t.Helper()
		pred, err := identity.Search(q)
		must(t, err)
		us, err := e.db.User.Query().Where(pred).All(sys)
		must(t, err)
		var ids []string
		for _, u := range us {
			ids = append(ids, u.UserID)
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	cases := []struct {
		q    string
		want []string
	}{
		{`roles:"Support agent"`, sorted(u1.UserID, u2.UserID)},
		{`roles:Support`, sorted(u2.UserID, u3.UserID)}, // exact, not a prefix
		{`roles:support`, nil},                          // names are case-sensitive, as they are unique
		{`roles:Support AND NOT roles:"Support agent"`, []string{u3.UserID}},
		{`roles:Support AND email:` + *u1.Email, nil},
		{`roles:"Support agent" OR roles:Support`, sorted(u1.UserID, u2.UserID, u3.UserID)},
	}
	for _, c := range cases {
		if got := search(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.q, got, c.want)
		}
	}
	if _, err := identity.Search(`roles:Supp*`); err == nil {
		t.Error("roles: accepted a wildcard")
	}
}
