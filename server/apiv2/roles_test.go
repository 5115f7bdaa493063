package apiv2_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/auth0/go-auth0"
	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/internal/apitest"
)

// rbacState is what a refused RBAC call must leave alone: roles, their
// permissions and members, users' direct permissions, client grants,
// clients' management scopes, the APIs and the audit trail.
type rbacState struct {
	rows []string
	sapi int
}

func rbacSnapshot(t testing.TB, s *apitest.Server) rbacState {
	t.Helper()
	sys := authz.SystemContext(context.Background())
	db := s.Deps.DB.Ent
	var out rbacState
	add := func(kind string, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(v)
		out.rows = append(out.rows, kind+" "+string(j))
	}
	roles, err := db.Role.Query().All(sys)
	add("roles", roles, err)
	rps, err := db.RolePermission.Query().All(sys)
	add("role permissions", rps, err)
	urs, err := db.UserRole.Query().All(sys)
	add("user roles", urs, err)
	ups, err := db.UserPermission.Query().All(sys)
	add("user permissions", ups, err)
	cgs, err := db.ClientGrant.Query().All(sys)
	add("client grants", cgs, err)
	apps, err := db.Application.Query().All(sys)
	add("clients", apps, err)
	rss, err := db.ResourceServer.Query().All(sys)
	add("resource servers", rss, err)
	if out.sapi, err = db.LogEvent.Query().Where(logevent.Type("sapi")).Count(sys); err != nil {
		t.Fatal(err)
	}
	return out
}

func (c rbacState) unchanged(t testing.TB, s *apitest.Server, what string) {
	t.Helper()
	now := rbacSnapshot(t, s)
	if !slices.Equal(now.rows, c.rows) {
		t.Errorf("%s changed the RBAC state", what)
	}
	if now.sapi != c.sapi {
		t.Errorf("%s wrote %d audit entries", what, now.sapi-c.sapi)
	}
}

const ordersAPI = "https://orders.example.com/"

// ordersServer registers an API with two scopes, RBAC on.
func ordersServer(t testing.TB, m *management.Management) *management.ResourceServer {
	t.Helper()
	rs := &management.ResourceServer{Name: auth0.String("Orders"), Identifier: auth0.String(ordersAPI),
		Scopes: &[]management.ResourceServerScope{
			{Value: auth0.String("read:orders"), Description: auth0.String("Read orders")},
			{Value: auth0.String("write:orders"), Description: auth0.String("Write orders")},
		},
		EnforcePolicies: auth0.Bool(true), TokenDialect: auth0.String("access_token_authz")}
	if err := m.ResourceServer.Create(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

func perm(name string) *management.Permission {
	return &management.Permission{ResourceServerIdentifier: auth0.String(ordersAPI), Name: auth0.String(name)}
}

func permNames(l *management.PermissionList) []string {
	var out []string
	for _, p := range l.Permissions {
		out = append(out, p.GetResourceServerIdentifier()+" "+p.GetName())
	}
	return out
}

func roleNames(l *management.RoleList) []string {
	var out []string
	for _, r := range l.Roles {
		out = append(out, r.GetName())
	}
	return out
}

func TestRolesLifecycle(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		ordersServer(t, m)

		// Create, read, update, list.
		editor := &management.Role{Name: auth0.String("editor"), Description: auth0.String("Edits orders")}
		if err := m.Role.Create(ctx, editor); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(editor.GetID(), "rol_") || editor.GetName() != "editor" || editor.GetDescription() != "Edits orders" {
			t.Fatalf("create answered %+v", editor)
		}
		viewer := &management.Role{Name: auth0.String("viewer")}
		if err := m.Role.Create(ctx, viewer); err != nil {
			t.Fatal(err)
		}
		got, err := m.Role.Read(ctx, editor.GetID())
		if err != nil || got.GetName() != "editor" || got.GetDescription() != "Edits orders" {
			t.Fatalf("read: %+v %v", got, err)
		}
		if err := m.Role.Update(ctx, editor.GetID(), &management.Role{Description: auth0.String("Edits all orders")}); err != nil {
			t.Fatal(err)
		}
		if got, _ = m.Role.Read(ctx, editor.GetID()); got.GetDescription() != "Edits all orders" || got.GetName() != "editor" {
			t.Errorf("after update: %+v", got)
		}
		l, err := m.Role.List(ctx)
		if err != nil || l.Total != 2 || !slices.Equal(roleNames(l), []string{"editor", "viewer"}) {
			t.Fatalf("list: %+v %v", l, err)
		}
		if l, err = m.Role.List(ctx, management.Parameter("name_filter", "EDI")); err != nil || !slices.Equal(roleNames(l), []string{"editor"}) {
			t.Errorf("name_filter EDI: %v %v", roleNames(l), err)
		}
		if l, err = m.Role.List(ctx, management.Page(1), management.PerPage(1)); err != nil || !slices.Equal(roleNames(l), []string{"viewer"}) || l.Total != 2 || l.HasNext() {
			t.Errorf("page 1 of 1: %v %+v %v", roleNames(l), l.List, err)
		}

		// Permissions: added (idempotently), listed in Auth0's shape, removed.
		if err := m.Role.AssociatePermissions(ctx, editor.GetID(), []*management.Permission{perm("read:orders"), perm("write:orders")}); err != nil {
			t.Fatal(err)
		}
		if err := m.Role.AssociatePermissions(ctx, editor.GetID(), []*management.Permission{perm("read:orders")}); err != nil {
			t.Fatalf("adding a permission the role has: %v", err)
		}
		pl, err := m.Role.Permissions(ctx, editor.GetID())
		if err != nil || pl.Total != 2 || !slices.Equal(permNames(pl), []string{ordersAPI + " read:orders", ordersAPI + " write:orders"}) {
			t.Fatalf("permissions: %v %v", permNames(pl), err)
		}
		if p := pl.Permissions[0]; p.GetResourceServerName() != "Orders" || p.GetDescription() != "Read orders" {
			t.Errorf("permission shape: %+v", p)
		}
		if err := m.Role.RemovePermissions(ctx, editor.GetID(), []*management.Permission{perm("write:orders")}); err != nil {
			t.Fatal(err)
		}
		if pl, _ = m.Role.Permissions(ctx, editor.GetID()); !slices.Equal(permNames(pl), []string{ordersAPI + " read:orders"}) {
			t.Errorf("after remove: %v", permNames(pl))
		}

		// Members, by both of Auth0's paging styles.
		var users []*management.User
		for i := range 3 {
			users = append(users, uCreate(t, m, &management.User{Email: auth0.String(fmt.Sprintf("member%d@example.com", i)),
				Password: auth0.String("Member-Pass-2024!"), Name: auth0.String(fmt.Sprintf("Member %d", i))}))
		}
		if err := m.Role.AssignUsers(ctx, editor.GetID(), users); err != nil {
			t.Fatal(err)
		}
		if err := m.Role.AssignUsers(ctx, editor.GetID(), users[:1]); err != nil {
			t.Fatalf("assigning a member again: %v", err)
		}
		var want []string
		for _, u := range users {
			want = append(want, u.GetID())
		}
		sort.Strings(want)
		ul, err := m.Role.Users(ctx, editor.GetID())
		if err != nil || ul.Total != 3 || len(ul.Users) != 3 {
			t.Fatalf("role users: %+v %v", ul, err)
		}
		if u := ul.Users[0]; !strings.HasPrefix(u.GetEmail(), "member") || !strings.HasPrefix(u.GetName(), "Member ") || u.GetID() == "" {
			t.Errorf("role user shape: %+v", u)
		}
		var paged []string
		for page := 0; ; page++ {
			ul, err := m.Role.Users(ctx, editor.GetID(), management.Page(page), management.PerPage(2))
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range ul.Users {
				paged = append(paged, u.GetID())
			}
			if !ul.HasNext() {
				break
			}
			if page > 3 {
				t.Fatal("offset paging does not end")
			}
		}
		sort.Strings(paged)
		if !slices.Equal(paged, want) {
			t.Errorf("offset paging saw %v, want %v", paged, want)
		}
		var checkpoint []string
		opts := []management.RequestOption{management.Take(2)}
		for calls := 0; ; calls++ {
			ul, err := m.Role.Users(ctx, editor.GetID(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range ul.Users {
				checkpoint = append(checkpoint, u.GetID())
			}
			if calls == 0 && (len(ul.Users) != 2 || ul.Next == "") {
				t.Fatalf("first checkpoint page: %d users, next %q", len(ul.Users), ul.Next)
			}
			if ul.Next == "" {
				break
			}
			if calls > 3 {
				t.Fatal("checkpoint paging does not end")
			}
			opts = []management.RequestOption{management.Take(2), management.From(ul.Next)}
		}
		sort.Strings(checkpoint)
		if !slices.Equal(checkpoint, want) {
			t.Errorf("checkpoint paging saw %v, want %v", checkpoint, want)
		}

		// A user's roles.
		ada := users[0]
		if err := m.User.AssignRoles(ctx, ada.GetID(), []*management.Role{viewer}); err != nil {
			t.Fatal(err)
		}
		rl, err := m.User.Roles(ctx, ada.GetID())
		if err != nil || rl.Total != 2 || !slices.Equal(roleNames(rl), []string{"editor", "viewer"}) {
			t.Fatalf("user roles: %v %v", roleNames(rl), err)
		}
		if err := m.User.RemoveRoles(ctx, ada.GetID(), []*management.Role{viewer}); err != nil {
			t.Fatal(err)
		}
		if rl, _ = m.User.Roles(ctx, ada.GetID()); !slices.Equal(roleNames(rl), []string{"editor"}) {
			t.Errorf("after remove: %v", roleNames(rl))
		}

		// A user's permissions: direct and through roles, with sources.
		if err := m.User.AssignPermissions(ctx, ada.GetID(), []*management.Permission{perm("read:orders"), perm("write:orders")}); err != nil {
			t.Fatal(err)
		}
		if pl, err = m.User.Permissions(ctx, ada.GetID()); err != nil || pl.Total != 2 ||
			!slices.Equal(permNames(pl), []string{ordersAPI + " read:orders", ordersAPI + " write:orders"}) {
			t.Fatalf("user permissions: %v %v", permNames(pl), err)
		}
		sources := func() map[string][]string {
			t.Helper()
			r := call(t, s, http.MethodGet, "/api/v2/users/"+url.PathEscape(ada.GetID())+"/permissions", s.AdminToken(t), nil)
			if r.Status != http.StatusOK {
				t.Fatalf("GET permissions: %d %s", r.Status, r.Body)
			}
			var ps []struct {
				Name    string `json:"permission_name"`
				RSName  string `json:"resource_server_name"`
				Sources []struct {
					ID   string `json:"source_id"`
					Name string `json:"source_name"`
					Type string `json:"source_type"`
				} `json:"sources"`
			}
			r.decode(t, &ps)
			out := map[string][]string{}
			for _, p := range ps {
				if p.RSName != "Orders" {
					t.Errorf("resource_server_name %q", p.RSName)
				}
				for _, src := range p.Sources {
					out[p.Name] = append(out[p.Name], src.Type+":"+src.ID+":"+src.Name)
				}
				sort.Strings(out[p.Name])
			}
			return out
		}
		wantSources := map[string][]string{
			"read:orders":  {"DIRECT::", "ROLE:" + editor.GetID() + ":editor"},
			"write:orders": {"DIRECT::"},
		}
		if got := sources(); fmt.Sprint(got) != fmt.Sprint(wantSources) {
			t.Errorf("sources %v, want %v", got, wantSources)
		}
		if err := m.User.RemovePermissions(ctx, ada.GetID(), []*management.Permission{perm("read:orders"), perm("write:orders")}); err != nil {
			t.Fatal(err)
		}
		// read:orders stays, through the role.
		if pl, _ = m.User.Permissions(ctx, ada.GetID()); !slices.Equal(permNames(pl), []string{ordersAPI + " read:orders"}) {
			t.Errorf("after removing the direct ones: %v", permNames(pl))
		}

		// Deleting a role removes its assignments; then it is gone.
		if err := m.Role.Delete(ctx, editor.GetID()); err != nil {
			t.Fatal(err)
		}
		_, err = m.Role.Read(ctx, editor.GetID())
		expectStatus(t, err, http.StatusNotFound, "read of a deleted role")
		if rl, err = m.User.Roles(ctx, ada.GetID()); err != nil || len(rl.Roles) != 0 {
			t.Errorf("roles after the role's deletion: %v %v", roleNames(rl), err)
		}
		if pl, err = m.User.Permissions(ctx, ada.GetID()); err != nil || len(pl.Permissions) != 0 {
			t.Errorf("permissions after the role's deletion: %v %v", permNames(pl), err)
		}

		ops := audits(t, s)
		for _, op := range []string{"createRole", "updateRole", "deleteRole"} {
			if !slices.Contains(ops, op) {
				t.Errorf("no %s audit entry in %v", op, ops)
			}
		}
	})
}

// TestRolesWire checks Auth0's status codes and bodies, uneven as they are,
// which the SDKs mostly do not look at.
func TestRolesWire(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		m := sdkAs(t, s, "", "")
		ordersServer(t, m)
		u := uCreate(t, m, &management.User{Email: auth0.String("wire@example.com"), Password: auth0.String("Member-Pass-2024!")})
		tok := s.AdminToken(t)
		uid := url.PathEscape(u.GetID())

		r := call(t, s, http.MethodPost, "/api/v2/roles", tok, map[string]any{"name": "wire", "description": "d"})
		var role struct{ ID, Name, Description string }
		if r.Status != http.StatusOK {
			t.Fatalf("POST /roles: %d %s", r.Status, r.Body)
		}
		r.decode(t, &role)
		if role.Name != "wire" || role.Description != "d" || role.ID == "" {
			t.Fatalf("POST /roles: %s", r.Body)
		}
		perms := map[string]any{"permissions": []map[string]string{{"resource_server_identifier": ordersAPI, "permission_name": "read:orders"}}}
		for _, c := range []struct {
			method, path string
			body         any
			status       int
			answer       string
		}{
			{http.MethodPost, "/api/v2/roles/" + role.ID + "/permissions", perms, http.StatusCreated, "{}"},
			{http.MethodDelete, "/api/v2/roles/" + role.ID + "/permissions", perms, http.StatusNoContent, ""},
			{http.MethodPost, "/api/v2/roles/" + role.ID + "/users", map[string]any{"users": []string{u.GetID()}}, http.StatusOK, "{}"},
			{http.MethodDelete, "/api/v2/users/" + uid + "/roles", map[string]any{"roles": []string{role.ID}}, http.StatusNoContent, ""},
			{http.MethodPost, "/api/v2/users/" + uid + "/roles", map[string]any{"roles": []string{role.ID}}, http.StatusNoContent, ""},
			{http.MethodPost, "/api/v2/users/" + uid + "/permissions", perms, http.StatusCreated, "{}"},
			{http.MethodDelete, "/api/v2/users/" + uid + "/permissions", perms, http.StatusNoContent, ""},
			{http.MethodDelete, "/api/v2/roles/" + role.ID, "{}", http.StatusOK, "{}"},
		} {
			r := call(t, s, c.method, c.path, tok, c.body)
			if r.Status != c.status || strings.TrimSpace(string(r.Body)) != c.answer {
				t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, r.Status, r.Body, c.status, c.answer)
			}
		}
	})
}

func TestRolesRefused(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		ordersServer(t, m)
		editor := &management.Role{Name: auth0.String("editor")}
		viewer := &management.Role{Name: auth0.String("viewer")}
		for _, r := range []*management.Role{editor, viewer} {
			if err := m.Role.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Role.AssociatePermissions(ctx, editor.GetID(), []*management.Permission{perm("read:orders")}); err != nil {
			t.Fatal(err)
		}
		u := uCreate(t, m, &management.User{Email: auth0.String("refused@example.com"), Password: auth0.String("Member-Pass-2024!")})
		if err := m.User.AssignRoles(ctx, u.GetID(), []*management.Role{editor}); err != nil {
			t.Fatal(err)
		}
		const unknown = "rol_01JAAAAAAAAAAAAAAAAAAAAAAA"
		tok := s.AdminToken(t)

		before := rbacSnapshot(t, s)
		refuse := func(what string, want int, err error) {
			t.Helper()
			expectStatus(t, err, want, what)
			before.unchanged(t, s, what)
		}
		refuse("duplicate name", http.StatusConflict, m.Role.Create(ctx, &management.Role{Name: auth0.String("editor")}))
		refuse("rename to a taken name", http.StatusConflict, m.Role.Update(ctx, viewer.GetID(), &management.Role{Name: auth0.String("editor")}))
		refuse("empty name", http.StatusBadRequest, m.Role.Create(ctx, &management.Role{Name: auth0.String("")}))
		refuse("no name", http.StatusBadRequest, m.Role.Create(ctx, &management.Role{Description: auth0.String("x")}))
		refuse("name too long", http.StatusBadRequest, m.Role.Create(ctx, &management.Role{Name: auth0.String(strings.Repeat("n", 201))}))

		_, err := m.Role.Read(ctx, unknown)
		refuse("read unknown role", http.StatusNotFound, err)
		refuse("update unknown role", http.StatusNotFound, m.Role.Update(ctx, unknown, &management.Role{Description: auth0.String("x")}))
		refuse("delete unknown role", http.StatusNotFound, m.Role.Delete(ctx, unknown))
		_, err = m.Role.Permissions(ctx, unknown)
		refuse("permissions of unknown role", http.StatusNotFound, err)
		refuse("permissions to unknown role", http.StatusNotFound, m.Role.AssociatePermissions(ctx, unknown, []*management.Permission{perm("read:orders")}))
		_, err = m.Role.Users(ctx, unknown)
		refuse("users of unknown role", http.StatusNotFound, err)
		refuse("users to unknown role", http.StatusNotFound, m.Role.AssignUsers(ctx, unknown, []*management.User{u}))
		refuse("unknown role to a user", http.StatusNotFound, m.User.AssignRoles(ctx, u.GetID(), []*management.Role{{ID: auth0.String(unknown)}}))
		refuse("unknown user to a role", http.StatusNotFound, m.Role.AssignUsers(ctx, viewer.GetID(), []*management.User{{ID: auth0.String("auth0|nobody")}}))
		_, err = m.User.Roles(ctx, "auth0|nobody")
		refuse("roles of an unknown user", http.StatusNotFound, err)

		// A permission its API does not declare, one of an unknown API, one
		// of the management API: 400 (Auth0 refuses unknown scopes so).
		refuse("undeclared permission", http.StatusBadRequest, m.Role.AssociatePermissions(ctx, viewer.GetID(), []*management.Permission{perm("delete:orders")}))
		refuse("undeclared permission with a good one", http.StatusBadRequest,
			m.User.AssignPermissions(ctx, u.GetID(), []*management.Permission{perm("read:orders"), perm("delete:orders")}))
		refuse("management API permission", http.StatusBadRequest, m.Role.AssociatePermissions(ctx, viewer.GetID(),
			[]*management.Permission{{ResourceServerIdentifier: auth0.String(s.Issuer + "api/v2/"), Name: auth0.String("read:users")}}))
		refuse("management API permission to a user", http.StatusBadRequest, m.User.AssignPermissions(ctx, u.GetID(),
			[]*management.Permission{{ResourceServerIdentifier: auth0.String(s.Issuer + "api/v2/"), Name: auth0.String("read:users")}}))

		// Bodies: empty or missing arrays, unknown properties, wrong types.
		for _, c := range []struct{ method, path, body string }{
			{http.MethodPost, "/api/v2/roles/" + viewer.GetID() + "/permissions", `{"permissions":[]}`},
			{http.MethodPost, "/api/v2/roles/" + viewer.GetID() + "/permissions", `{}`},
			{http.MethodPost, "/api/v2/roles/" + viewer.GetID() + "/permissions", `{"permissions":[{"permission_name":"read:orders"}]}`},
			{http.MethodPost, "/api/v2/roles/" + viewer.GetID() + "/permissions", `{"permissions":[{"resource_server_identifier":"` + ordersAPI + `","permission_name":"read:orders","x":1}]}`},
			{http.MethodPost, "/api/v2/roles/" + viewer.GetID() + "/permissions", `{"permissions":[` +
				strings.Repeat(`{"resource_server_identifier":"`+ordersAPI+`","permission_name":"read:orders"},`, 100) +
				`{"resource_server_identifier":"` + ordersAPI + `","permission_name":"read:orders"}]}`},
			{http.MethodPost, "/api/v2/roles/" + viewer.GetID() + "/users", `{"users":[]}`},
			{http.MethodPost, "/api/v2/roles/" + viewer.GetID() + "/users", `{"users":"auth0|x"}`},
			{http.MethodPost, "/api/v2/roles/" + viewer.GetID() + "/users", `{"users":["` + u.GetID() + `"],"roles":[]}`},
			{http.MethodPost, "/api/v2/users/" + url.PathEscape(u.GetID()) + "/roles", `{"roles":[""]}`},
			{http.MethodDelete, "/api/v2/users/" + url.PathEscape(u.GetID()) + "/roles", ``},
			{http.MethodPatch, "/api/v2/roles/" + viewer.GetID(), `{}`},
			{http.MethodPatch, "/api/v2/roles/" + viewer.GetID(), `{"id":"` + editor.GetID() + `"}`},
			{http.MethodGet, "/api/v2/roles/" + editor.GetID() + "/users?take=0", ``},
			{http.MethodGet, "/api/v2/roles?per_page=101", ``},
		} {
			var body any
			if c.body != "" {
				body = c.body
			}
			r := call(t, s, c.method, c.path, tok, body)
			r.expectError(t, http.StatusBadRequest, "")
			before.unchanged(t, s, c.method+" "+c.path+" "+c.body)
		}

		// Scopes: each call's, as Auth0's; two are needed for members.
		uid := url.PathEscape(u.GetID())
		perms := `{"permissions":[{"resource_server_identifier":"` + ordersAPI + `","permission_name":"read:orders"}]}`
		for _, c := range []struct {
			method, path, body string
			lacks              []string
		}{
			{http.MethodGet, "/api/v2/roles", "", []string{"read:roles"}},
			{http.MethodPost, "/api/v2/roles", `{"name":"new"}`, []string{"create:roles"}},
			{http.MethodGet, "/api/v2/roles/" + editor.GetID(), "", []string{"read:roles"}},
			{http.MethodPatch, "/api/v2/roles/" + editor.GetID(), `{"name":"new"}`, []string{"update:roles"}},
			{http.MethodDelete, "/api/v2/roles/" + editor.GetID(), "", []string{"delete:roles"}},
			{http.MethodGet, "/api/v2/roles/" + editor.GetID() + "/permissions", "", []string{"read:roles"}},
			{http.MethodPost, "/api/v2/roles/" + viewer.GetID() + "/permissions", perms, []string{"update:roles"}},
			{http.MethodDelete, "/api/v2/roles/" + editor.GetID() + "/permissions", perms, []string{"update:roles"}},
			{http.MethodGet, "/api/v2/roles/" + editor.GetID() + "/users", "", []string{"read:users"}},
			{http.MethodGet, "/api/v2/roles/" + editor.GetID() + "/users", "", []string{"read:role_members"}},
			{http.MethodPost, "/api/v2/roles/" + viewer.GetID() + "/users", `{"users":["` + u.GetID() + `"]}`, []string{"create:role_members"}},
			{http.MethodPost, "/api/v2/roles/" + viewer.GetID() + "/users", `{"users":["` + u.GetID() + `"]}`, []string{"update:roles"}},
			{http.MethodGet, "/api/v2/users/" + uid + "/roles", "", []string{"read:roles"}},
			{http.MethodGet, "/api/v2/users/" + uid + "/roles", "", []string{"read:users"}},
			{http.MethodPost, "/api/v2/users/" + uid + "/roles", `{"roles":["` + viewer.GetID() + `"]}`, []string{"create:role_members"}},
			{http.MethodDelete, "/api/v2/users/" + uid + "/roles", `{"roles":["` + editor.GetID() + `"]}`, []string{"delete:role_members"}},
			{http.MethodDelete, "/api/v2/users/" + uid + "/roles", `{"roles":["` + editor.GetID() + `"]}`, []string{"update:users"}},
			{http.MethodGet, "/api/v2/users/" + uid + "/permissions", "", []string{"read:users"}},
			// A roles: search shows who holds a role: the member scopes too.
			{http.MethodGet, "/api/v2/users?q=" + url.QueryEscape("roles:editor"), "", []string{"read:roles"}},
			{http.MethodGet, "/api/v2/users?q=" + url.QueryEscape("email:refused* OR roles:editor"), "", []string{"read:role_members"}},
			{http.MethodPost, "/api/v2/users/" + uid + "/permissions", perms, []string{"update:users"}},
			{http.MethodDelete, "/api/v2/users/" + uid + "/permissions", perms, []string{"update:users"}},
		} {
			var body any
			if c.body != "" {
				body = c.body
			}
			tk := token(t, s, everyScopeBut(c.lacks...)...)
			before := rbacSnapshot(t, s)
			r := call(t, s, c.method, c.path, tk, body)
			e := r.expectError(t, http.StatusForbidden, "insufficient_scope")
			if !strings.Contains(e.Message, c.lacks[0]) {
				t.Errorf("%s %s without %v: %q does not name it", c.method, c.path, c.lacks, e.Message)
			}
			before.unchanged(t, s, fmt.Sprintf("%s %s without %v", c.method, c.path, c.lacks))
		}

		// Exactly the two member scopes read a role's members.
		r := call(t, s, http.MethodGet, "/api/v2/roles/"+editor.GetID()+"/users", token(t, s, "read:users", "read:role_members"), nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), u.GetID()) {
			t.Errorf("read:users and read:role_members: %d %s", r.Status, r.Body)
		}
		r = call(t, s, http.MethodGet, "/api/v2/users?q="+url.QueryEscape("roles:editor"), token(t, s, "read:users", "read:roles", "read:role_members"), nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), u.GetID()) {
			t.Errorf("roles: search with the member scopes: %d %s", r.Status, r.Body)
		}
	})
}

func TestResourceServerRBACSettings(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		rs := ordersServer(t, m)
		if !rs.GetEnforcePolicies() || rs.GetTokenDialect() != "access_token_authz" {
			t.Fatalf("create answered enforce_policies %v, token_dialect %q", rs.GetEnforcePolicies(), rs.GetTokenDialect())
		}
		got, err := m.ResourceServer.Read(ctx, rs.GetID())
		if err != nil || !got.GetEnforcePolicies() || got.GetTokenDialect() != "access_token_authz" {
			t.Fatalf("read: %+v %v", got, err)
		}

		// A new API's defaults, as Auth0's; introspection_clients is [].
		r := call(t, s, http.MethodPost, "/api/v2/resource-servers", s.AdminToken(t), map[string]any{"name": "Plain", "identifier": "urn:plain"})
		var plain map[string]any
		r.decode(t, &plain)
		if r.Status != http.StatusCreated || plain["enforce_policies"] != false || plain["token_dialect"] != "access_token" ||
			fmt.Sprint(plain["introspection_clients"]) != "[]" {
			t.Errorf("defaults: %d %s", r.Status, r.Body)
		}

		// introspection_clients (an Authgraph extension) round-trips.
		cid, _ := client(t, s, "read:users")
		r = call(t, s, http.MethodPatch, "/api/v2/resource-servers/"+rs.GetID(), s.AdminToken(t), map[string]any{"introspection_clients": []string{cid}})
		var upd ResourceServerJSON
		r.decode(t, &upd)
		if r.Status != http.StatusOK || !slices.Equal(upd.IntrospectionClients, []string{cid}) {
			t.Errorf("introspection_clients: %d %s", r.Status, r.Body)
		}

		// An _authz dialect needs enforce_policies, as Auth0 says.
		before := rbacSnapshot(t, s)
		err = m.ResourceServer.Update(ctx, rs.GetID(), &management.ResourceServer{EnforcePolicies: auth0.Bool(false)})
		expectStatus(t, err, http.StatusBadRequest, "enforce_policies off under access_token_authz")
		before.unchanged(t, s, "enforce_policies off under access_token_authz")
		err = m.ResourceServer.Create(ctx, &management.ResourceServer{Name: auth0.String("X"), Identifier: auth0.String("urn:x"),
			TokenDialect: auth0.String("rfc9068_profile_authz")})
		expectStatus(t, err, http.StatusBadRequest, "rfc9068_profile_authz without enforce_policies")
		before.unchanged(t, s, "rfc9068_profile_authz without enforce_policies")
		err = m.ResourceServer.Update(ctx, rs.GetID(), &management.ResourceServer{TokenDialect: auth0.String("jwt")})
		expectStatus(t, err, http.StatusBadRequest, "unknown token_dialect")
		before.unchanged(t, s, "unknown token_dialect")

		if err := m.ResourceServer.Update(ctx, rs.GetID(), &management.ResourceServer{TokenDialect: auth0.String("rfc9068_profile"),
			EnforcePolicies: auth0.Bool(false)}); err != nil {
			t.Fatal(err)
		}
		if got, _ = m.ResourceServer.Read(ctx, ordersAPI); got.GetEnforcePolicies() || got.GetTokenDialect() != "rfc9068_profile" {
			t.Errorf("after update: %v %q", got.GetEnforcePolicies(), got.GetTokenDialect())
		}
	})
}

// ResourceServerJSON reads the properties go-auth0 lacks.
type ResourceServerJSON struct {
	IntrospectionClients []string `json:"introspection_clients"`
}

// Checkpoint paging at the largest page (take=100) over more members than
// fit: a full page with next, then the rest without.
func TestRoleUsersTakeMax(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		var b strings.Builder
		b.WriteString("mutation {")
		for i := 0; i < 101; i++ {
			fmt.Fprintf(&b, " u%d: createUser(input: {connection: \"Username-Password-Authentication\", email: \"take%d@example.com\"}) { id }", i, i)
		}
		b.WriteString(" }")
		var users map[string]struct{ ID string }
		s.MustGraphQL(t, admin, b.String(), nil, &users)
		var role struct{ CreateRole struct{ ID string } }
		s.MustGraphQL(t, admin, `mutation { createRole(input: {name: "many"}) { id } }`, nil, &role)
		ids := make([]string, 0, len(users))
		for _, u := range users {
			ids = append(ids, u.ID)
		}
		s.MustGraphQL(t, admin, `mutation($id: ID!, $u: [ID!]!) { assignRoleUsers(id: $id, userIds: $u) { id } }`,
			map[string]any{"id": role.CreateRole.ID, "u": ids[:100]}, nil)
		s.MustGraphQL(t, admin, `mutation($id: ID!, $u: [ID!]!) { assignRoleUsers(id: $id, userIds: $u) { id } }`,
			map[string]any{"id": role.CreateRole.ID, "u": ids[100:]}, nil)

		page := func(from string) (int, string) {
			t.Helper()
			path := "/api/v2/roles/" + role.CreateRole.ID + "/users?take=100"
			if from != "" {
				path += "&from=" + url.QueryEscape(from)
			}
			r := call(t, s, http.MethodGet, path, admin, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
			}
			var body struct {
				Users []struct {
					UserID string `json:"user_id"`
				}
				Next string
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			return len(body.Users), body.Next
		}
		n, next := page("")
		if n != 100 || next == "" {
			t.Fatalf("first page: %d users, next %q", n, next)
		}
		if n, next = page(next); n != 1 || next != "" {
			t.Fatalf("second page: %d users, next %q", n, next)
		}
	})
}
