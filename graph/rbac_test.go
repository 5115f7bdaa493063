package graph_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/apitest"
)

// createAPI creates a resource server declaring scopes and returns its node id.
func createAPI(t testing.TB, s *apitest.Server, identifier string, scopes ...string) string {
	t.Helper()
	sc := make([]any, 0, len(scopes))
	for _, v := range scopes {
		sc = append(sc, map[string]any{"value": v, "description": "Desc " + v})
	}
	var out struct{ CreateResourceServer struct{ ID string } }
	s.MustGraphQL(t, s.AdminToken(t), `mutation($in: CreateResourceServerInput!) { createResourceServer(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"identifier": identifier, "name": "API " + identifier, "scopes": sc}}, &out)
	return out.CreateResourceServer.ID
}

// createRole creates a role with the admin token and returns its node id.
func createRole(t testing.TB, s *apitest.Server, name string) string {
	t.Helper()
	var out struct{ CreateRole struct{ ID string } }
	s.MustGraphQL(t, s.AdminToken(t), `mutation($n: String!) { createRole(input: {name: $n}) { id } }`, map[string]any{"n": name}, &out)
	return out.CreateRole.ID
}

func perm(audience, name string) map[string]any {
	return map[string]any{"resourceServerIdentifier": audience, "permissionName": name}
}

// gqlPermission is a Permission as the API returns it.
type gqlPermission struct {
	ResourceServerIdentifier string
	PermissionName           string
	ResourceServerName       string
	Description              string
	Sources                  []struct {
		Type     string
		RoleID   *string
		RoleName *string
	}
}

const permissionFields = `resourceServerIdentifier permissionName resourceServerName description sources { type roleId roleName }`

// summary renders permissions as sorted "name<source,source>" strings, a
// source being DIRECT or the role's name, so tests compare them whatever
// order the listing has.
func summary(ps []gqlPermission) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		var src []string
		for _, s := range p.Sources {
			if s.Type == "ROLE" {
				src = append(src, "ROLE:"+deref(s.RoleName))
			} else {
				src = append(src, s.Type)
			}
		}
		sort.Strings(src)
		out = append(out, p.PermissionName+"<"+strings.Join(src, ",")+">")
	}
	sort.Strings(out)
	return out
}

func userRBAC(t testing.TB, s *apitest.Server, userID, audience string) (roles []string, perms []gqlPermission) {
	t.Helper()
	var out struct {
		User struct {
			Roles       []struct{ ID, Name string }
			Permissions []gqlPermission
		}
	}
	vars := map[string]any{"id": userID}
	arg := ""
	if audience != "" {
		vars["aud"], arg = audience, "(audience: $aud)"
	}
	decl := "$id: ID!"
	if audience != "" {
		decl += ", $aud: String"
	}
	s.MustGraphQL(t, s.AdminToken(t), `query(`+decl+`) { user(id: $id) { roles { id name } permissions`+arg+` { `+permissionFields+` } } }`, vars, &out)
	for _, r := range out.User.Roles {
		roles = append(roles, r.Name)
	}
	return roles, out.User.Permissions
}

func TestRBACFlow(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		const orders, billing = "https://orders.example.com/", "urn:billing"
		createAPI(t, s, orders, "read:orders", "write:orders", "delete:orders")
		createAPI(t, s, billing, "read:invoices")

		var created struct {
			CreateRole struct{ ID, Name, Description string }
		}
		s.MustGraphQL(t, admin, `mutation { createRole(input: {name: "Order Reader", description: "Reads orders"}) { id name description } }`, nil, &created)
		reader := created.CreateRole.ID
		if !strings.HasPrefix(reader, "rol_") || created.CreateRole.Description != "Reads orders" {
			t.Fatalf("createRole: %+v", created)
		}
		writer := createRole(t, s, "Order Writer")
		expectError(t, s.GraphQL(t, admin, `mutation { createRole(input: {name: "Order Reader"}) { id } }`, nil), "CONFLICT", "")

		var upd struct {
			UpdateRole struct{ Name, Description string }
		}
		s.MustGraphQL(t, admin, `mutation($id: ID!) { updateRole(id: $id, input: {description: "Writes orders"}) { name description } }`,
			map[string]any{"id": writer}, &upd)
		if upd.UpdateRole.Name != "Order Writer" || upd.UpdateRole.Description != "Writes orders" {
			t.Fatalf("updateRole: %+v", upd)
		}

		// The answer of addRolePermissions shows the write it made.
		var add struct {
			AddRolePermissions struct{ Permissions []gqlPermission }
		}
		s.MustGraphQL(t, admin, `mutation($id: ID!, $p: [PermissionInput!]!) { addRolePermissions(id: $id, permissions: $p) { permissions { `+permissionFields+` } } }`,
			map[string]any{"id": reader, "p": []any{perm(orders, "read:orders")}}, &add)
		if got := add.AddRolePermissions.Permissions; len(got) != 1 || got[0].PermissionName != "read:orders" ||
			got[0].ResourceServerIdentifier != orders || got[0].ResourceServerName != "API "+orders ||
			got[0].Description != "Desc read:orders" || len(got[0].Sources) != 0 {
			t.Fatalf("addRolePermissions: %+v", got)
		}
		s.MustGraphQL(t, admin, `mutation($id: ID!, $p: [PermissionInput!]!) { addRolePermissions(id: $id, permissions: $p) { id } }`,
			map[string]any{"id": writer, "p": []any{perm(orders, "read:orders"), perm(orders, "write:orders")}}, nil)

		// Roles list by name, filtered case-insensitively, paged.
		var list struct {
			Roles struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
				Edges []struct{ Node struct{ ID, Name string } }
			}
		}
		s.MustGraphQL(t, admin, `{ roles(first: 1) { totalCount pageInfo { hasNextPage endCursor } edges { node { id name } } } }`, nil, &list)
		if list.Roles.TotalCount != 2 || len(list.Roles.Edges) != 1 || list.Roles.Edges[0].Node.Name != "Order Reader" || !list.Roles.PageInfo.HasNextPage {
			t.Fatalf("roles page 1: %+v", list)
		}
		s.MustGraphQL(t, admin, `query($a: Cursor) { roles(first: 1, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { id name } } } }`,
			map[string]any{"a": list.Roles.PageInfo.EndCursor}, &list)
		if len(list.Roles.Edges) != 1 || list.Roles.Edges[0].Node.Name != "Order Writer" || list.Roles.PageInfo.HasNextPage {
			t.Fatalf("roles page 2: %+v", list)
		}
		s.MustGraphQL(t, admin, `{ roles(nameFilter: "wRiTeR") { totalCount pageInfo { hasNextPage endCursor } edges { node { id name } } } }`, nil, &list)
		if list.Roles.TotalCount != 1 || list.Roles.Edges[0].Node.ID != writer {
			t.Fatalf("roles(nameFilter): %+v", list)
		}
		expectError(t, s.GraphQL(t, admin, `{ roles(first: 101) { totalCount } }`, nil), "BAD_USER_INPUT", "first")
		var node struct{ Node struct{ ID, Name string } }
		s.MustGraphQL(t, admin, `query($id: ID!) { node(id: $id) { id ... on Role { name } } }`, map[string]any{"id": reader}, &node)
		if node.Node.Name != "Order Reader" {
			t.Fatalf("node(role): %+v", node)
		}

		// A user with both roles and direct permissions.
		u := createUser(t, s, map[string]any{"email": "rbac-flow@example.com"})
		var assigned struct {
			AssignUserRoles struct{ ID string }
		}
		s.MustGraphQL(t, admin, `mutation($u: ID!, $r: [ID!]!) { assignUserRoles(userId: $u, roleIds: $r) { id } }`,
			map[string]any{"u": u.UserID, "r": []string{reader, writer}}, &assigned)
		if assigned.AssignUserRoles.ID != u.ID {
			t.Fatalf("assignUserRoles by user_id answered %+v", assigned)
		}
		s.MustGraphQL(t, admin, `mutation($u: ID!, $p: [PermissionInput!]!) { addUserPermissions(userId: $u, permissions: $p) { id } }`,
			map[string]any{"u": u.ID, "p": []any{perm(orders, "read:orders"), perm(orders, "delete:orders"), perm(billing, "read:invoices")}}, nil)

		roles, perms := userRBAC(t, s, u.ID, orders)
		if !slices.Equal(roles, []string{"Order Reader", "Order Writer"}) {
			t.Fatalf("User.roles = %v", roles)
		}
		want := []string{"delete:orders<DIRECT>", "read:orders<DIRECT,ROLE:Order Reader,ROLE:Order Writer>", "write:orders<ROLE:Order Writer>"}
		if got := summary(perms); !slices.Equal(got, want) {
			t.Fatalf("User.permissions(audience) = %v, want %v", got, want)
		}
		for _, p := range perms {
			for _, src := range p.Sources {
				if src.Type == "ROLE" && (src.RoleID == nil || (*src.RoleID != reader && *src.RoleID != writer)) {
					t.Fatalf("ROLE source without its role id: %+v", p)
				}
				if src.Type == "DIRECT" && (src.RoleID != nil || src.RoleName != nil) {
					t.Fatalf("DIRECT source names a role: %+v", p)
				}
			}
		}
		_, all := userRBAC(t, s, u.ID, "")
		wantAll := append([]string{"read:invoices<DIRECT>"}, want...)
		sort.Strings(wantAll)
		if got := summary(all); !slices.Equal(got, wantAll) {
			t.Fatalf("User.permissions = %v", got)
		}

		// Role members, paged in node id order over more than one page.
		members := batchCreateUsers(t, s, 4, func(i int) string { return fmt.Sprintf("member%d@example.com", i) })
		var assignRole struct {
			AssignRoleUsers struct {
				ID    string
				Users struct{ TotalCount int }
			}
		}
		s.MustGraphQL(t, admin, `mutation($id: ID!, $u: [ID!]!) { assignRoleUsers(id: $id, userIds: $u) { id users { totalCount } } }`,
			map[string]any{"id": reader, "u": members}, &assignRole)
		if assignRole.AssignRoleUsers.ID != reader || assignRole.AssignRoleUsers.Users.TotalCount != 5 {
			t.Fatalf("assignRoleUsers: %+v", assignRole)
		}
		wantMembers := append([]string{u.ID}, members...)
		sort.Strings(wantMembers)
		var got []string
		var after any
		for pages := 0; ; pages++ {
			var page struct {
				Role struct {
					Users struct {
						TotalCount int
						PageInfo   struct {
							HasNextPage, HasPreviousPage bool
							EndCursor                    *string
						}
						Edges []struct {
							Cursor string
							Node   struct{ ID string }
						}
					}
				}
			}
			s.MustGraphQL(t, admin, `query($id: ID!, $a: Cursor) { role(id: $id) { users(first: 2, after: $a) {
				totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id } } } } }`,
				map[string]any{"id": reader, "a": after}, &page)
			us := page.Role.Users
			if us.TotalCount != 5 || len(us.Edges) == 0 || len(us.Edges) > 2 || us.PageInfo.HasPreviousPage != (after != nil) {
				t.Fatalf("role users page %d: %+v", pages, us)
			}
			for _, e := range us.Edges {
				got = append(got, e.Node.ID)
			}
			if !us.PageInfo.HasNextPage {
				if pages != 2 {
					t.Fatalf("5 members in pages of 2 took %d pages", pages+1)
				}
				break
			}
			after = *us.PageInfo.EndCursor
		}
		if !slices.Equal(got, wantMembers) {
			t.Fatalf("role members %v, want %v", got, wantMembers)
		}
		expectError(t, s.GraphQL(t, admin, `query($id: ID!) { role(id: $id) { users(first: 101) { totalCount } } }`,
			map[string]any{"id": reader}), "BAD_USER_INPUT", "first")

		// Removing: a role permission, direct permissions (those through
		// roles stay), a role.
		s.MustGraphQL(t, admin, `mutation($id: ID!, $p: [PermissionInput!]!) { removeRolePermissions(id: $id, permissions: $p) { id } }`,
			map[string]any{"id": writer, "p": []any{perm(orders, "write:orders")}}, nil)
		s.MustGraphQL(t, admin, `mutation($u: ID!, $p: [PermissionInput!]!) { removeUserPermissions(userId: $u, permissions: $p) { id } }`,
			map[string]any{"u": u.ID, "p": []any{perm(orders, "read:orders"), perm(orders, "delete:orders")}}, nil)
		s.MustGraphQL(t, admin, `mutation($u: ID!, $r: [ID!]!) { removeUserRoles(userId: $u, roleIds: $r) { id } }`,
			map[string]any{"u": u.ID, "r": []string{writer}}, nil)
		roles, perms = userRBAC(t, s, u.ID, orders)
		if !slices.Equal(roles, []string{"Order Reader"}) || !slices.Equal(summary(perms), []string{"read:orders<ROLE:Order Reader>"}) {
			t.Fatalf("after removals: roles %v, permissions %v", roles, summary(perms))
		}

		var del struct{ DeleteRole string }
		s.MustGraphQL(t, admin, `mutation($id: ID!) { deleteRole(id: $id) }`, map[string]any{"id": reader}, &del)
		if del.DeleteRole != reader {
			t.Fatalf("deleteRole answered %q", del.DeleteRole)
		}
		expectError(t, s.GraphQL(t, admin, `query($id: ID!) { role(id: $id) { id } }`, map[string]any{"id": reader}), "NOT_FOUND", "")
		expectError(t, s.GraphQL(t, admin, `mutation($id: ID!) { deleteRole(id: $id) }`, map[string]any{"id": reader}), "NOT_FOUND", "")
		roles, perms = userRBAC(t, s, u.ID, orders)
		if len(roles) != 0 || len(perms) != 0 {
			t.Fatalf("after deleting the role: roles %v, permissions %v", roles, summary(perms))
		}

		// Every write was audited with its operation name.
		ops := map[string]bool{}
		for _, e := range sapiLogs(t, s) {
			if op, _ := e.Details["operation"].(string); op != "" {
				ops[op] = true
			}
		}
		for _, op := range []string{"createRole", "updateRole", "deleteRole", "addRolePermissions", "removeRolePermissions",
			"assignRoleUsers", "assignUserRoles", "removeUserRoles", "addUserPermissions", "removeUserPermissions"} {
			if !ops[op] {
				t.Errorf("no sapi event for %s (have %v)", op, ops)
			}
		}
	})
}

// rbacState is everything the RBAC writes of one fixture set can change, as
// the admin reads it.
func rbacState(t testing.TB, s *apitest.Server, f rbacFixtures) string {
	t.Helper()
	var out map[string]any
	s.MustGraphQL(t, s.AdminToken(t), `query($tag: String!, $u: ID!, $c: String!) {
		roles(first: 10, nameFilter: $tag) { totalCount edges { node { id name description updatedAt
			permissions { resourceServerIdentifier permissionName }
			users(first: 10) { totalCount edges { node { id } } } } } }
		user(id: $u) { roles { id } permissions { resourceServerIdentifier permissionName sources { type roleId } } }
		clientGrants(clientId: $c) { id audience scopes updatedAt } }`,
		map[string]any{"tag": f.tag, "u": f.user, "c": f.clientID}, &out)
	return js(out)
}

type rbacFixtures struct {
	tag                string
	api, api2          string // identifiers: api declares read:x and write:x, api2 read:y
	roleA, roleB       string // A holds api's read:x and is the user's; B is empty
	user               string // node id
	clientID, clientNo string // client_id and node id of an m2m client
	grant              string // the client's grant of api's read:x
}

func newRBACFixtures(t *testing.T, s *apitest.Server, tag string) rbacFixtures {
	t.Helper()
	admin := s.AdminToken(t)
	f := rbacFixtures{tag: tag, api: "urn:" + tag, api2: "urn:" + tag + ":2"}
	createAPI(t, s, f.api, "read:x", "write:x")
	createAPI(t, s, f.api2, "read:y")
	f.roleA, f.roleB = createRole(t, s, tag+"-A"), createRole(t, s, tag+"-B")
	f.user = createUser(t, s, map[string]any{"email": tag + "@example.com"}).ID
	s.MustGraphQL(t, admin, `mutation($a: ID!, $u: ID!, $p: [PermissionInput!]!, $w: [PermissionInput!]!) {
		addRolePermissions(id: $a, permissions: $p) { id }
		assignUserRoles(userId: $u, roleIds: [$a]) { id }
		addUserPermissions(userId: $u, permissions: $w) { id } }`,
		map[string]any{"a": f.roleA, "u": f.user, "p": []any{perm(f.api, "read:x")}, "w": []any{perm(f.api, "write:x")}}, nil)
	var c struct {
		CreateClient struct{ Client struct{ ID, ClientID string } }
	}
	s.MustGraphQL(t, admin, `mutation($n: String!) { createClient(input: {name: $n, type: "m2m"}) { client { id clientId } } }`,
		map[string]any{"n": tag}, &c)
	f.clientNo, f.clientID = c.CreateClient.Client.ID, c.CreateClient.Client.ClientID
	var g struct{ CreateClientGrant struct{ ID string } }
	s.MustGraphQL(t, admin, `mutation($in: CreateClientGrantInput!) { createClientGrant(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"clientId": f.clientID, "audience": f.api, "scopes": []string{"read:x"}}}, &g)
	f.grant = g.CreateClientGrant.ID
	return f
}

// TestRBACScopes: every RBAC operation succeeds with exactly its scopes and
// is FORBIDDEN, changing and auditing nothing, without any one of them.
func TestRBACScopes(t *testing.T) {
	type op struct {
		name   string
		scopes []string
		query  string
		vars   func(f rbacFixtures) map[string]any
		write  bool
	}
	roleA := func(f rbacFixtures) map[string]any { return map[string]any{"id": f.roleA} }
	user := func(f rbacFixtures) map[string]any { return map[string]any{"u": f.user} }
	ops := []op{
		{name: "roles", scopes: []string{"read:roles"}, query: `{ roles { totalCount edges { node { id name } } } }`},
		{name: "role", scopes: []string{"read:roles"}, query: `query($id: ID!) { role(id: $id) { id name } }`, vars: roleA},
		{name: "node/role", scopes: []string{"read:roles"}, query: `query($id: ID!) { node(id: $id) { id } }`, vars: roleA},
		{name: "Role.permissions", scopes: []string{"read:roles"}, query: `query($id: ID!) { role(id: $id) { permissions { permissionName } } }`, vars: roleA},
		{name: "Role.users", scopes: []string{"read:roles", "read:users", "read:role_members"},
			query: `query($id: ID!) { role(id: $id) { users { totalCount edges { node { id } } } } }`, vars: roleA},
		{name: "User.roles", scopes: []string{"read:users", "read:roles"}, query: `query($u: ID!) { user(id: $u) { roles { id } } }`, vars: user},
		{name: "users(query: roles:)", scopes: []string{"read:users", "read:roles", "read:role_members"},
			query: `query($q: String) { users(query: $q) { totalCount edges { node { id } } } }`,
			vars:  func(f rbacFixtures) map[string]any { return map[string]any{"q": `roles:"` + f.tag + `-A"`} }},
		{name: "User.permissions", scopes: []string{"read:users"}, query: `query($u: ID!) { user(id: $u) { permissions { permissionName } } }`, vars: user},
		{name: "createRole", scopes: []string{"create:roles"}, write: true,
			query: `mutation($n: String!) { createRole(input: {name: $n}) { id } }`,
			vars:  func(f rbacFixtures) map[string]any { return map[string]any{"n": f.tag + "-new"} }},
		{name: "updateRole", scopes: []string{"update:roles"}, write: true,
			query: `mutation($id: ID!) { updateRole(id: $id, input: {description: "changed"}) { id description } }`, vars: roleA},
		{name: "deleteRole", scopes: []string{"delete:roles"}, write: true, query: `mutation($id: ID!) { deleteRole(id: $id) }`, vars: roleA},
		{name: "addRolePermissions", scopes: []string{"update:roles"}, write: true,
			query: `mutation($id: ID!, $p: [PermissionInput!]!) { addRolePermissions(id: $id, permissions: $p) { id name } }`,
			vars: func(f rbacFixtures) map[string]any {
				return map[string]any{"id": f.roleB, "p": []any{perm(f.api, "write:x")}}
			}},
		{name: "removeRolePermissions", scopes: []string{"update:roles"}, write: true,
			query: `mutation($id: ID!, $p: [PermissionInput!]!) { removeRolePermissions(id: $id, permissions: $p) { id } }`,
			vars: func(f rbacFixtures) map[string]any {
				return map[string]any{"id": f.roleA, "p": []any{perm(f.api, "read:x")}}
			}},
		{name: "assignRoleUsers", scopes: []string{"update:roles", "create:role_members"}, write: true,
			query: `mutation($id: ID!, $u: [ID!]!) { assignRoleUsers(id: $id, userIds: $u) { id } }`,
			vars:  func(f rbacFixtures) map[string]any { return map[string]any{"id": f.roleB, "u": []string{f.user}} }},
		{name: "assignUserRoles", scopes: []string{"update:users", "create:role_members"}, write: true,
			query: `mutation($u: ID!, $r: [ID!]!) { assignUserRoles(userId: $u, roleIds: $r) { id email } }`,
			vars:  func(f rbacFixtures) map[string]any { return map[string]any{"u": f.user, "r": []string{f.roleB}} }},
		{name: "removeUserRoles", scopes: []string{"update:users", "delete:role_members"}, write: true,
			query: `mutation($u: ID!, $r: [ID!]!) { removeUserRoles(userId: $u, roleIds: $r) { id } }`,
			vars:  func(f rbacFixtures) map[string]any { return map[string]any{"u": f.user, "r": []string{f.roleA}} }},
		{name: "addUserPermissions", scopes: []string{"update:users"}, write: true,
			query: `mutation($u: ID!, $p: [PermissionInput!]!) { addUserPermissions(userId: $u, permissions: $p) { id } }`,
			vars: func(f rbacFixtures) map[string]any {
				return map[string]any{"u": f.user, "p": []any{perm(f.api2, "read:y")}}
			}},
		{name: "removeUserPermissions", scopes: []string{"update:users"}, write: true,
			query: `mutation($u: ID!, $p: [PermissionInput!]!) { removeUserPermissions(userId: $u, permissions: $p) { id } }`,
			vars: func(f rbacFixtures) map[string]any {
				return map[string]any{"u": f.user, "p": []any{perm(f.api, "write:x")}}
			}},
		{name: "clientGrants", scopes: []string{"read:client_grants"},
			query: `query($c: String) { clientGrants(clientId: $c) { id clientId audience scopes } }`,
			vars:  func(f rbacFixtures) map[string]any { return map[string]any{"c": f.clientID} }},
		{name: "createClientGrant", scopes: []string{"create:client_grants"}, write: true,
			query: `mutation($in: CreateClientGrantInput!) { createClientGrant(input: $in) { id } }`,
			vars: func(f rbacFixtures) map[string]any {
				return map[string]any{"in": map[string]any{"clientId": f.clientID, "audience": f.api2, "scopes": []string{"read:y"}}}
			}},
		{name: "updateClientGrant", scopes: []string{"update:client_grants"}, write: true,
			query: `mutation($id: ID!) { updateClientGrant(id: $id, scopes: ["read:x", "write:x"]) { id scopes } }`,
			vars:  func(f rbacFixtures) map[string]any { return map[string]any{"id": f.grant} }},
		{name: "deleteClientGrant", scopes: []string{"delete:client_grants"}, write: true,
			query: `mutation($id: ID!) { deleteClientGrant(id: $id) }`,
			vars:  func(f rbacFixtures) map[string]any { return map[string]any{"id": f.grant} }},
	}
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		for i, tc := range ops {
			t.Run(tc.name, func(t *testing.T) {
				f := newRBACFixtures(t, s, fmt.Sprintf("sc%d", i))
				vars := map[string]any{}
				if tc.vars != nil {
					vars = tc.vars(f)
				}
				before := rbacState(t, s, f)
				for _, missing := range tc.scopes {
					sapi := sapiCount(t, s)
					r := s.GraphQL(t, scopedToken(t, s, everyScopeBut(missing)...), tc.query, vars)
					e := expectError(t, r, "FORBIDDEN", "")
					if got, _ := e.Extensions["scope"].(string); got != "" && got != missing {
						t.Errorf("without %s: extensions.scope = %q", missing, got)
					}
					if !dataIsEmpty(r.Data) {
						t.Errorf("without %s: data %s", missing, r.Data)
					}
					if n := sapiCount(t, s) - sapi; n != 0 {
						t.Errorf("without %s: %d sapi events", missing, n)
					}
					if after := rbacState(t, s, f); after != before {
						t.Fatalf("without %s the state changed:\n%s\n%s", missing, before, after)
					}
				}
				var out map[string]any
				s.MustGraphQL(t, scopedToken(t, s, tc.scopes...), tc.query, vars, &out)
				if dataIsEmpty(mustJSON(out)) {
					t.Fatalf("no data: %v", out)
				}
				if changed := rbacState(t, s, f) != before; changed != tc.write {
					t.Fatalf("allowed call changed the state: %v, want %v", changed, tc.write)
				}
			})
		}
	})
}

// TestRBACRefusesBadPermissions: permissions an API does not declare, of an
// unknown API or of the management API are refused and change nothing;
// unknown roles and users are NOT_FOUND.
func TestRBACRefusesBadPermissions(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		f := newRBACFixtures(t, s, "bad")
		mgmt := authz.ManagementAudience(s.Issuer)
		before := rbacState(t, s, f)
		sapi := sapiCount(t, s)
		for _, tc := range []struct {
			name, code string
			p          map[string]any
		}{
			{"undeclared", "BAD_USER_INPUT", perm(f.api, "fly:x")},
			{"of another API", "BAD_USER_INPUT", perm(f.api2, "read:x")},
			{"unknown API", "NOT_FOUND", perm("urn:nope", "read:x")},
			{"management API", "BAD_USER_INPUT", perm(mgmt, "read:users")},
		} {
			ps := []any{perm(f.api, "write:x"), tc.p} // the valid one is not added either
			for _, m := range []string{
				`mutation($id: ID!, $p: [PermissionInput!]!) { addRolePermissions(id: $id, permissions: $p) { id } }`,
				`mutation($id: ID!, $p: [PermissionInput!]!) { addUserPermissions(userId: $id, permissions: $p) { id } }`,
			} {
				id := f.roleB
				if strings.Contains(m, "addUser") {
					id = f.user
				}
				r := s.GraphQL(t, admin, m, map[string]any{"id": id, "p": ps})
				if len(r.Errors) != 1 || r.Errors[0].Code() != tc.code {
					t.Errorf("%s in %.40s: want %s, got %+v", tc.name, m, tc.code, r.Errors)
				}
			}
		}
		for _, q := range []struct{ query, id string }{
			{`mutation($id: ID!) { updateRole(id: $id, input: {name: "x"}) { id } }`, "rol_01H0000000000000000000000X"},
			{`mutation($id: ID!) { assignUserRoles(userId: $id, roleIds: ["rol_01H0000000000000000000000X"]) { id } }`, f.user},
			{`mutation($id: ID!) { assignUserRoles(userId: $id, roleIds: ["` + f.roleB + `"]) { id } }`, "auth0|nobody"},
			{`mutation($id: ID!) { assignRoleUsers(id: $id, userIds: ["auth0|nobody"]) { id } }`, f.roleB},
			{`mutation($id: ID!) { deleteClientGrant(id: $id) }`, "cgr_01H0000000000000000000000X"},
		} {
			expectError(t, s.GraphQL(t, admin, q.query, map[string]any{"id": q.id}), "NOT_FOUND", "")
		}
		expectError(t, s.GraphQL(t, admin, `mutation($id: ID!) { assignUserRoles(userId: $id, roleIds: []) { id } }`,
			map[string]any{"id": f.user}), "BAD_USER_INPUT", "roles")
		expectError(t, s.GraphQL(t, admin, `mutation($id: ID!) { updateRole(id: $id, input: {name: ""}) { id } }`,
			map[string]any{"id": f.roleA}), "BAD_USER_INPUT", "")
		expectError(t, s.GraphQL(t, admin, `mutation($id: ID!) { updateRole(id: $id, input: {name: "bad-B"}) { id } }`,
			map[string]any{"id": f.roleA}), "CONFLICT", "")
		if after := rbacState(t, s, f); after != before {
			t.Fatalf("refused writes changed the state:\n%s\n%s", before, after)
		}
		if n := sapiCount(t, s) - sapi; n != 0 {
			t.Fatalf("refused writes wrote %d sapi events", n)
		}
	})
}

type gqlGrant struct {
	ID, ClientID, Audience string
	Scopes                 []string
}

func clientGrants(t testing.TB, s *apitest.Server, clientID string) []gqlGrant {
	t.Helper()
	var out struct{ ClientGrants []gqlGrant }
	s.MustGraphQL(t, s.AdminToken(t), `query($c: String) { clientGrants(clientId: $c) { id clientId audience scopes } }`,
		map[string]any{"c": clientID}, &out)
	return out.ClientGrants
}

// TestClientGrants: CRUD of client grants, the management API's virtual
// grant (the client's management scopes) included, and no escalation
// through it.
func TestClientGrants(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		mgmt := authz.ManagementAudience(s.Issuer)
		createAPI(t, s, "urn:grants", "read:g", "write:g")
		var c struct {
			CreateClient struct{ Client struct{ ID, ClientID string } }
		}
		s.MustGraphQL(t, admin, `mutation { createClient(input: {name: "granted", type: "m2m", managementScopes: ["read:logs"]}) { client { id clientId } } }`, nil, &c)
		cli := c.CreateClient.Client

		// The management scopes are a grant of the management API.
		gs := clientGrants(t, s, cli.ClientID)
		if len(gs) != 1 || gs[0].ID != "cgr_mgmt_"+cli.ID || gs[0].Audience != mgmt || gs[0].ClientID != cli.ClientID ||
			!slices.Equal(gs[0].Scopes, []string{"read:logs"}) {
			t.Fatalf("virtual grant: %+v", gs)
		}

		var created struct{ CreateClientGrant gqlGrant }
		s.MustGraphQL(t, admin, `mutation($in: CreateClientGrantInput!) { createClientGrant(input: $in) { id clientId audience scopes } }`,
			map[string]any{"in": map[string]any{"clientId": cli.ClientID, "audience": "urn:grants", "scopes": []string{"read:g"}}}, &created)
		g := created.CreateClientGrant
		if !strings.HasPrefix(g.ID, "cgr_") || strings.HasPrefix(g.ID, "cgr_mgmt_") || g.Audience != "urn:grants" || !slices.Equal(g.Scopes, []string{"read:g"}) {
			t.Fatalf("createClientGrant: %+v", g)
		}
		expectError(t, s.GraphQL(t, admin, `mutation($in: CreateClientGrantInput!) { createClientGrant(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"clientId": cli.ClientID, "audience": "urn:grants", "scopes": []string{"write:g"}}}), "CONFLICT", "")
		expectError(t, s.GraphQL(t, admin, `mutation($id: ID!) { updateClientGrant(id: $id, scopes: ["fly:g"]) { id } }`,
			map[string]any{"id": g.ID}), "BAD_USER_INPUT", "")
		var upd struct{ UpdateClientGrant gqlGrant }
		s.MustGraphQL(t, admin, `mutation($id: ID!) { updateClientGrant(id: $id, scopes: ["read:g", "write:g"]) { id scopes } }`,
			map[string]any{"id": g.ID}, &upd)
		if upd.UpdateClientGrant.ID != g.ID || len(upd.UpdateClientGrant.Scopes) != 2 {
			t.Fatalf("updateClientGrant: %+v", upd)
		}
		var byAPI struct{ ClientGrants []gqlGrant }
		s.MustGraphQL(t, admin, `{ clientGrants(audience: "urn:grants") { id } }`, nil, &byAPI)
		if len(byAPI.ClientGrants) != 1 || byAPI.ClientGrants[0].ID != g.ID {
			t.Fatalf("clientGrants(audience): %+v", byAPI)
		}

		// Updating the management grant updates the client's scopes.
		s.MustGraphQL(t, admin, `mutation($id: ID!) { updateClientGrant(id: $id, scopes: ["read:logs", "read:users"]) { id } }`,
			map[string]any{"id": "cgr_mgmt_" + cli.ID}, nil)
		var cl struct {
			Client struct{ ManagementScopes []string }
		}
		s.MustGraphQL(t, admin, `query($id: ID!) { client(id: $id) { managementScopes } }`, map[string]any{"id": cli.ID}, &cl)
		if got := slices.Sorted(slices.Values(cl.Client.ManagementScopes)); !slices.Equal(got, []string{"read:logs", "read:users"}) {
			t.Fatalf("management scopes after updating the grant: %v", got)
		}

		// No escalation: a caller cannot grant management scopes it lacks.
		tok := scopedToken(t, s, "create:client_grants", "update:client_grants", "read:client_grants", "read:logs", "read:users")
		sapi := sapiCount(t, s)
		before := clientGrants(t, s, cli.ClientID)
		expectError(t, s.GraphQL(t, tok, `mutation($id: ID!) { updateClientGrant(id: $id, scopes: ["read:logs", "read:users", "delete:users"]) { id } }`,
			map[string]any{"id": "cgr_mgmt_" + cli.ID}), "FORBIDDEN", "")
		var c2 struct {
			CreateClient struct{ Client struct{ ID, ClientID string } }
		}
		s.MustGraphQL(t, admin, `mutation { createClient(input: {name: "bare", type: "m2m"}) { client { id clientId } } }`, nil, &c2)
		expectError(t, s.GraphQL(t, tok, `mutation($in: CreateClientGrantInput!) { createClientGrant(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"clientId": c2.CreateClient.Client.ClientID, "audience": mgmt, "scopes": []string{"create:clients"}}}), "FORBIDDEN", "")
		if after := clientGrants(t, s, cli.ClientID); !sameJSON(after, before) {
			t.Fatalf("refused grant writes changed grants: %+v", after)
		}
		if got := clientGrants(t, s, c2.CreateClient.Client.ClientID); len(got) != 0 {
			t.Fatalf("refused management grant created %+v", got)
		}
		if n := sapiCount(t, s) - sapi; n != 1 { // the admin's createClient
			t.Fatalf("%d sapi events, want only createClient's", n)
		}
		// Within the caller's own scopes it is allowed.
		s.MustGraphQL(t, tok, `mutation($in: CreateClientGrantInput!) { createClientGrant(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"clientId": c2.CreateClient.Client.ClientID, "audience": mgmt, "scopes": []string{"read:users"}}}, nil)

		var del struct{ DeleteClientGrant string }
		s.MustGraphQL(t, admin, `mutation($id: ID!) { deleteClientGrant(id: $id) }`, map[string]any{"id": g.ID}, &del)
		if del.DeleteClientGrant != g.ID {
			t.Fatalf("deleteClientGrant answered %q", del.DeleteClientGrant)
		}
		if gs := clientGrants(t, s, cli.ClientID); len(gs) != 1 || gs[0].Audience != mgmt {
			t.Fatalf("after delete: %+v", gs)
		}
		expectError(t, s.GraphQL(t, admin, `mutation($id: ID!) { deleteClientGrant(id: $id) }`, map[string]any{"id": g.ID}), "NOT_FOUND", "")
	})
}

// TestResourceServerRBACSettings: enforcePolicies, tokenDialect and
// introspectionClients round trip; an _authz dialect needs enforcePolicies.
func TestResourceServerRBACSettings(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		type rs struct {
			ID                   string
			EnforcePolicies      bool
			TokenDialect         string
			IntrospectionClients []string
		}
		const fields = `id enforcePolicies tokenDialect introspectionClients`
		var def struct{ CreateResourceServer rs }
		s.MustGraphQL(t, admin, `mutation { createResourceServer(input: {identifier: "urn:plain", name: "Plain"}) { `+fields+` } }`, nil, &def)
		if d := def.CreateResourceServer; d.EnforcePolicies || d.TokenDialect != "access_token" || len(d.IntrospectionClients) != 0 {
			t.Fatalf("defaults: %+v", d)
		}
		var k struct {
			CreateClient struct{ Client struct{ ClientID string } }
		}
		s.MustGraphQL(t, admin, `mutation { createClient(input: {name: "introspector", type: "m2m"}) { client { clientId } } }`, nil, &k)
		introspector := k.CreateClient.Client.ClientID
		var c struct{ CreateResourceServer rs }
		s.MustGraphQL(t, admin, `mutation($c: String!) { createResourceServer(input: {identifier: "urn:rbac", name: "RBAC",
			enforcePolicies: true, tokenDialect: "access_token_authz", introspectionClients: [$c]}) { `+fields+` } }`, map[string]any{"c": introspector}, &c)
		if got := c.CreateResourceServer; !got.EnforcePolicies || got.TokenDialect != "access_token_authz" || !slices.Equal(got.IntrospectionClients, []string{introspector}) {
			t.Fatalf("create: %+v", got)
		}
		id := c.CreateResourceServer.ID
		var u struct{ UpdateResourceServer rs }
		s.MustGraphQL(t, admin, `mutation($id: ID!) { updateResourceServer(id: $id, input: {tokenDialect: "rfc9068_profile_authz", introspectionClients: []}) { `+fields+` } }`,
			map[string]any{"id": id}, &u)
		if got := u.UpdateResourceServer; !got.EnforcePolicies || got.TokenDialect != "rfc9068_profile_authz" || len(got.IntrospectionClients) != 0 {
			t.Fatalf("update: %+v", got)
		}
		var read struct{ ResourceServer rs }
		s.MustGraphQL(t, admin, `query($id: ID!) { resourceServer(id: $id) { `+fields+` } }`, map[string]any{"id": "urn:rbac"}, &read)
		if !sameJSON(read.ResourceServer, u.UpdateResourceServer) {
			t.Fatalf("read back %+v, updated %+v", read.ResourceServer, u.UpdateResourceServer)
		}

		// Refusals change nothing.
		expectError(t, s.GraphQL(t, admin, `mutation { createResourceServer(input: {identifier: "urn:authz", name: "x", tokenDialect: "access_token_authz"}) { id } }`, nil),
			"BAD_USER_INPUT", "")
		expectError(t, s.GraphQL(t, admin, `mutation { createResourceServer(input: {identifier: "urn:bad", name: "x", tokenDialect: "jwt"}) { id } }`, nil),
			"BAD_USER_INPUT", "")
		expectError(t, s.GraphQL(t, admin, `mutation($id: ID!) { updateResourceServer(id: $id, input: {enforcePolicies: false}) { id } }`,
			map[string]any{"id": id}), "BAD_USER_INPUT", "")
		expectError(t, s.GraphQL(t, admin, `mutation($id: ID!) { updateResourceServer(id: $id, input: {tokenDialect: "jwt"}) { id } }`,
			map[string]any{"id": id}), "BAD_USER_INPUT", "")
		expectError(t, s.GraphQL(t, admin, `mutation($id: ID!) { updateResourceServer(id: $id, input: {introspectionClients: ["no-such-client"]}) { id } }`,
			map[string]any{"id": id}), "BAD_USER_INPUT", "")
		s.MustGraphQL(t, admin, `query($id: ID!) { resourceServer(id: $id) { `+fields+` } }`, map[string]any{"id": id}, &read)
		if !sameJSON(read.ResourceServer, u.UpdateResourceServer) {
			t.Fatalf("refused updates changed %+v", read.ResourceServer)
		}
		for _, ident := range []string{"urn:authz", "urn:bad"} {
			expectError(t, s.GraphQL(t, admin, `query($id: ID!) { resourceServer(id: $id) { id } }`, map[string]any{"id": ident}), "NOT_FOUND", "")
		}
		// Turning both off together is fine.
		s.MustGraphQL(t, admin, `mutation($id: ID!) { updateResourceServer(id: $id, input: {enforcePolicies: false, tokenDialect: "access_token"}) { id } }`,
			map[string]any{"id": id}, nil)
	})
}

// TestLesserCallerCannotChangeAnAdministratorsRoles: a caller holding the RBAC
// scopes but not every scope of an administrator's grant cannot change the
// administrator's roles or permissions, from the user's side or the role's.
func TestLesserCallerCannotChangeAnAdministratorsRoles(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		adm := newAdminFixture(t, s)
		f := newRBACFixtures(t, s, "esc")
		s.MustGraphQL(t, s.AdminToken(t), `mutation($u: ID!, $r: [ID!]!) { assignUserRoles(userId: $u, roleIds: $r) { id } }`,
			map[string]any{"u": adm.adminID, "r": []string{f.roleA}}, nil)
		read := func() string {
			var out map[string]any
			s.MustGraphQL(t, s.AdminToken(t), `query($u: ID!) { user(id: $u) { roles { id } permissions { permissionName sources { type roleId } } } }`,
				map[string]any{"u": adm.adminID}, &out)
			return js(out)
		}
		before := read()
		tok := scopedToken(t, s, "read:users", "update:users", "update:roles", "read:roles", "create:role_members", "delete:role_members")
		for _, q := range []string{
			`mutation($u: ID!, $b: ID!) { assignUserRoles(userId: $u, roleIds: [$b]) { id } }`,
			`mutation($u: ID!, $b: ID!) { assignRoleUsers(id: $b, userIds: [$u]) { id } }`,
			`mutation($u: ID!, $a: ID!) { removeUserRoles(userId: $u, roleIds: [$a]) { id } }`,
			`mutation($u: ID!, $p: [PermissionInput!]!) { addUserPermissions(userId: $u, permissions: $p) { id } }`,
			`mutation($u: ID!, $p: [PermissionInput!]!) { removeUserPermissions(userId: $u, permissions: $p) { id } }`,
		} {
			vars := map[string]any{}
			for k, v := range map[string]any{"u": adm.adminID, "a": f.roleA, "b": f.roleB, "p": []any{perm(f.api, "write:x")}} {
				if strings.Contains(q, "$"+k+":") {
					vars[k] = v
				}
			}
			sapi := sapiCount(t, s)
			expectEscalation(t, s, s.GraphQL(t, tok, q, vars), sapi)
		}
		if after := read(); after != before {
			t.Fatalf("refused calls changed the administrator's roles or permissions:\n%s\n%s", before, after)
		}
		// The same caller may change a user who is not an administrator.
		s.MustGraphQL(t, tok, `mutation($u: ID!, $b: ID!) { assignUserRoles(userId: $u, roleIds: [$b]) { id } }`,
			map[string]any{"u": adm.plainID, "b": f.roleB}, nil)
	})
}

// TestRoleUsersFullPages: pages of the largest size (100) still tell
// whether another page follows, and first: 0 gives the count alone.
func TestRoleUsersFullPages(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		role := createRole(t, s, "Many")
		ids := batchCreateUsers(t, s, 101, func(i int) string { return fmt.Sprintf("many%d@example.com", i) })
		page := func(first int, after any) (n int, next bool, end string) {
			var out struct {
				Role struct {
					Users struct {
						TotalCount int
						PageInfo   struct {
							HasNextPage bool
							EndCursor   *string
						}
						Edges []struct{ Node struct{ ID string } }
					}
				}
			}
			s.MustGraphQL(t, admin, `query($id: ID!, $f: Int, $a: Cursor) { role(id: $id) { users(first: $f, after: $a) {
				totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } } }`,
				map[string]any{"id": role, "f": first, "a": after}, &out)
			u := out.Role.Users
			if u.PageInfo.EndCursor != nil {
				end = *u.PageInfo.EndCursor
			}
			return len(u.Edges), u.PageInfo.HasNextPage, end
		}
		assign := func(users []string) {
			s.MustGraphQL(t, admin, `mutation($id: ID!, $u: [ID!]!) { assignRoleUsers(id: $id, userIds: $u) { id } }`,
				map[string]any{"id": role, "u": users}, nil)
		}
		assign(ids[:100])
		if n, next, _ := page(100, nil); n != 100 || next {
			t.Fatalf("100 members, first: 100: %d edges, hasNextPage %v", n, next)
		}
		assign(ids[100:])
		n, next, end := page(100, nil)
		if n != 100 || !next {
			t.Fatalf("101 members, first: 100: %d edges, hasNextPage %v", n, next)
		}
		if n, next, _ := page(100, end); n != 1 || next {
			t.Fatalf("page 2: %d edges, hasNextPage %v", n, next)
		}
		if n, next, _ := page(0, nil); n != 0 || !next {
			t.Fatalf("first: 0: %d edges, hasNextPage %v", n, next)
		}
	})
}
