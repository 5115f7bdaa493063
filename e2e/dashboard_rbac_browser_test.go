package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// choose selects an option of a <select> and fires `change`, as a user
// picking it does.
func (c *chrome) choose(sel, value string) {
	c.t.Helper()
	c.run(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
		if (e.value !== %q) throw new Error("no option " + %q);
		e.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel, value, value, value)))
}

func (c *chrome) click(sel string) {
	c.t.Helper()
	c.run(chromedp.Click(chromedp.CSS(sel)))
}

// An administrator sets up RBAC in the dashboard: an API with two
// permissions and enforced policies, a role holding one of them, assigned
// to a user from the user's page, where the effective permission shows
// the role it comes from; then takes the role away again.
func TestDashboardRBACInBrowser(t *testing.T) {
	f := setupDashboard(t)
	s := f.s
	c := newChrome(t, s)
	c.signIn(s, "ada@example.com", "Analytical-Engine-1843")
	c.waitJS(`!!document.querySelector("#result-count")`)
	c.run(chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`))

	// 1. APIs: create one, give it two permissions.
	const aud = "https://invoices.example.com/"
	c.click(`#nav a[data-section="apis"]`)
	c.waitJS(`(document.querySelector("main h1") || {}).textContent === "APIs" && !document.querySelector("main .alert")`)
	c.setText(`form[aria-labelledby="newapi-h"] input[name=name]`, "Invoices")
	c.setText(`form[aria-labelledby="newapi-h"] input[name=identifier]`, aud)
	c.click(`form[aria-labelledby="newapi-h"] button[type=submit]`)
	c.waitJS(`(document.querySelector("main h1") || {}).textContent === "Invoices" && !!document.querySelector("#api-permissions")`)
	for _, sc := range [][2]string{{"read:invoices", "Read invoices"}, {"pay:invoices", "Pay invoices"}} {
		c.setText(`#api-permissions input[name=scope]`, sc[0])
		c.setText(`#api-permissions input[name=scopeDescription]`, sc[1])
		c.click(`#api-permissions button[type=submit]`)
		c.waitJS(fmt.Sprintf(`[...document.querySelectorAll("#api-permissions tbody code")].some(e => e.textContent === %q)`, sc[0]))
	}

	// 2. The RBAC switches: the _authz dialects are offered only with
	// enforced policies; without them the server's refusal is shown.
	const authzOpt = `select[name=tokenDialect] option[value=access_token_authz]`
	c.waitJS(`document.querySelector("input[name=enforcePolicies]").checked === false && document.querySelector(` + jsq(authzOpt) + `).disabled`)
	c.click(`input[name=enforcePolicies]`)
	c.waitJS(`!document.querySelector(` + jsq(authzOpt) + `).disabled`)
	c.choose(`select[name=tokenDialect]`, "access_token_authz")
	c.click(`input[name=enforcePolicies]`) // off again: the dialect stays, with a warning
	c.waitJS(`document.querySelector("#dialect-warn").textContent.includes("needs Enforce policies")`)
	c.click(`form[aria-labelledby="api-settings-h"] button[type=submit]`)
	c.waitJS(`!!document.querySelector('form[aria-labelledby="api-settings-h"] [aria-invalid="true"], form[aria-labelledby="api-settings-h"] .alert')`)
	c.shot("api-dialect-refused")
	var api struct {
		ResourceServer struct {
			ID              string
			EnforcePolicies bool
			TokenDialect    string
			Scopes          []struct{ Value, Description string }
		}
	}
	const apiQ = `query($id: ID!) { resourceServer(id: $id) { id enforcePolicies tokenDialect scopes { value description } } }`
	s.MustGraphQL(t, f.admin, apiQ, map[string]any{"id": aud}, &api)
	if api.ResourceServer.EnforcePolicies || api.ResourceServer.TokenDialect != "access_token" {
		t.Fatalf("a refused update changed the API: %+v", api.ResourceServer)
	}
	c.click(`input[name=enforcePolicies]`)
	c.click(`form[aria-labelledby="api-settings-h"] button[type=submit]`)
	c.waitJS(`document.querySelector("#toast").textContent.includes("API settings saved")`)
	c.waitJS(`document.querySelector("input[name=enforcePolicies]").checked && document.querySelector("select[name=tokenDialect]").value === "access_token_authz"`)
	c.shot("api")
	s.MustGraphQL(t, f.admin, apiQ, map[string]any{"id": aud}, &api)
	a := api.ResourceServer
	if !a.EnforcePolicies || a.TokenDialect != "access_token_authz" || len(a.Scopes) != 2 ||
		a.Scopes[0].Value != "read:invoices" || a.Scopes[0].Description != "Read invoices" || a.Scopes[1].Value != "pay:invoices" {
		t.Fatalf("API through GraphQL: %+v", a)
	}

	// 3. Roles: create one and give it a permission of the API.
	c.click(`#nav a[data-section="roles"]`)
	c.waitJS(`(document.querySelector("main h1") || {}).textContent === "Roles" && document.querySelector("#role-count").textContent === "0 roles"`)
	c.setText(`form[aria-labelledby="newrole-h"] input[name=name]`, "Billing clerk")
	c.setText(`form[aria-labelledby="newrole-h"] input[name=description]`, "Reads invoices")
	c.click(`form[aria-labelledby="newrole-h"] button[type=submit]`)
	c.waitJS(`(document.querySelector("main h1") || {}).textContent === "Billing clerk" && !!document.querySelector("#role-permissions select[name=api]")`)
	roleID := strings.TrimPrefix(c.eval(`decodeURIComponent(location.hash)`), "#/roles/")
	c.choose(`#role-permissions select[name=api]`, aud)
	c.waitJS(`document.querySelectorAll("#role-permissions select[name=scope] option").length === 3`) // prompt + two scopes
	c.choose(`#role-permissions select[name=scope]`, "read:invoices")
	c.click(`#role-permissions form button[type=submit]`)
	c.waitJS(`[...document.querySelectorAll("#role-permissions tbody code")].map(e => e.textContent).join() === "read:invoices"`)
	var role struct {
		Role struct {
			Name        string
			Permissions []struct{ ResourceServerIdentifier, PermissionName string }
		}
	}
	s.MustGraphQL(t, f.admin, `query($id: ID!) { role(id: $id) { name permissions { resourceServerIdentifier permissionName } } }`, map[string]any{"id": roleID}, &role)
	if role.Role.Name != "Billing clerk" || len(role.Role.Permissions) != 1 ||
		role.Role.Permissions[0].ResourceServerIdentifier != aud || role.Role.Permissions[0].PermissionName != "read:invoices" {
		t.Fatalf("role through GraphQL (%s): %+v", roleID, role)
	}
	c.shot("role")

	// 4. The user's Roles tab: assign the role; the permission shows it as
	// its source.
	c.run(chromedp.Navigate(s.Issuer + "dashboard/#/users/" + f.carolID))
	c.waitJS(`!!document.querySelector('.tabs a[data-tab="roles"]')`)
	c.click(`.tabs a[data-tab="roles"]`)
	c.waitJS(`!!document.querySelector("#user-roles select[name=role]") && document.querySelector("#user-permissions tbody").textContent.includes("No permissions")`)
	c.choose(`#user-roles select[name=role]`, roleID)
	c.click(`#user-roles form button[type=submit]`)
	c.waitJS(`(() => { const rows = [...document.querySelectorAll("#user-permissions tbody tr")];
		return rows.length === 1 && rows[0].querySelector("code").textContent === "read:invoices" &&
			rows[0].querySelector('[data-source="role"]').textContent === "Role: Billing clerk" && !rows[0].querySelector('[data-source="direct"]') })()`)
	if got := c.text(`#user-roles tbody`); !strings.Contains(got, "Billing clerk") {
		t.Fatalf("the user's roles: %q", got)
	}
	c.shot("user-roles")
	type userRBAC struct {
		User struct {
			Roles       []struct{ ID, Name string }
			Permissions []struct {
				ResourceServerIdentifier, PermissionName string
				Sources                                  []struct{ Type, RoleID, RoleName string }
			}
		}
	}
	const userQ = `query($id: ID!) { user(id: $id) { roles { id name } permissions { resourceServerIdentifier permissionName sources { type roleId roleName } } } }`
	var u userRBAC
	s.MustGraphQL(t, f.admin, userQ, map[string]any{"id": f.carolID}, &u)
	if len(u.User.Roles) != 1 || u.User.Roles[0].ID != roleID || len(u.User.Permissions) != 1 {
		t.Fatalf("user through GraphQL: %+v", u)
	}
	p := u.User.Permissions[0]
	if p.ResourceServerIdentifier != aud || p.PermissionName != "read:invoices" || len(p.Sources) != 1 ||
		p.Sources[0].Type != "ROLE" || p.Sources[0].RoleID != roleID || p.Sources[0].RoleName != "Billing clerk" {
		t.Fatalf("effective permission through GraphQL: %+v", p)
	}

	// The same permission assigned directly: one row, both sources; taking
	// the direct one away leaves the role's.
	c.choose(`#user-permissions select[name=api]`, aud)
	c.choose(`#user-permissions select[name=scope]`, "read:invoices")
	c.click(`#user-permissions form button[type=submit]`)
	c.waitJS(`(() => { const rows = [...document.querySelectorAll("#user-permissions tbody tr")];
		return rows.length === 1 && !!rows[0].querySelector('[data-source="direct"]') && !!rows[0].querySelector('[data-source="role"]') })()`)
	u = userRBAC{}
	s.MustGraphQL(t, f.admin, userQ, map[string]any{"id": f.carolID}, &u)
	if len(u.User.Permissions) != 1 || len(u.User.Permissions[0].Sources) != 2 {
		t.Fatalf("a permission held directly and through a role: %+v", u)
	}
	c.click(`#user-permissions tbody button.danger`)
	c.waitJS(`(() => { const rows = [...document.querySelectorAll("#user-permissions tbody tr")];
		return rows.length === 1 && !rows[0].querySelector('[data-source="direct"]') && !!rows[0].querySelector('[data-source="role"]') && !rows[0].querySelector("button") })()`)

	// The role's page lists the new member.
	c.click(`#user-roles tbody a`)
	c.waitJS(`(document.querySelector("#member-count") || {}).textContent === "1 member" && document.querySelector("#role-members tbody").textContent.includes("carol@example.com")`)

	// 5. Back on the user: remove the role; the permission goes with it.
	c.run(chromedp.Navigate(s.Issuer + "dashboard/#/users/" + f.carolID + "?tab=roles"))
	c.waitJS(`!!document.querySelector("#user-roles tbody button.danger")`)
	c.click(`#user-roles tbody button.danger`)
	c.waitJS(`document.querySelector("#user-roles tbody").textContent.includes("No roles") && document.querySelector("#user-permissions tbody").textContent.includes("No permissions")`)
	u = userRBAC{}
	s.MustGraphQL(t, f.admin, userQ, map[string]any{"id": f.carolID}, &u)
	if len(u.User.Roles) != 0 || len(u.User.Permissions) != 0 {
		t.Fatalf("after removing the role: %+v", u)
	}
	// The role itself keeps its permission.
	s.MustGraphQL(t, f.admin, `query($id: ID!) { role(id: $id) { name permissions { resourceServerIdentifier permissionName } } }`, map[string]any{"id": roleID}, &role)
	if len(role.Role.Permissions) != 1 || role.Role.Permissions[0].PermissionName != "read:invoices" {
		t.Fatalf("the role lost its permission: %+v", role)
	}

	// 6. Members from the role's page: add by email, remove.
	c.run(chromedp.Navigate(s.Issuer + "dashboard/#/roles/" + roleID))
	c.waitJS(`(document.querySelector("#member-count") || {}).textContent === "0 members"`)
	c.setText(`#role-members input[name=member]`, "nobody@example.com")
	c.click(`#role-members form button[type=submit]`)
	c.waitJS(`document.querySelector("#role-members input[name=member]").getAttribute("aria-invalid") === "true"`)
	c.setText(`#role-members input[name=member]`, "bob@example.com")
	c.click(`#role-members form button[type=submit]`)
	c.waitJS(`document.querySelector("#member-count").textContent === "1 member" && document.querySelector("#role-members tbody").textContent.includes("bob@example.com")`)
	var members struct {
		Role struct {
			Users struct {
				TotalCount int
				Edges      []struct{ Node struct{ Email string } }
			}
		}
	}
	const membersQ = `query($id: ID!) { role(id: $id) { users(first: 10) { totalCount edges { node { email } } } } }`
	s.MustGraphQL(t, f.admin, membersQ, map[string]any{"id": roleID}, &members)
	if members.Role.Users.TotalCount != 1 || members.Role.Users.Edges[0].Node.Email != "bob@example.com" {
		t.Fatalf("members through GraphQL: %+v", members)
	}
	c.click(`#role-members tbody button.danger`)
	c.waitJS(`document.querySelector("#member-count").textContent === "0 members"`)
	members.Role.Users.Edges = nil
	s.MustGraphQL(t, f.admin, membersQ, map[string]any{"id": roleID}, &members)
	if members.Role.Users.TotalCount != 0 {
		t.Fatalf("members after removal: %+v", members)
	}

	// 7. The list filters by name; deleting the role returns to it.
	c.run(chromedp.Navigate(s.Issuer + "dashboard/#/roles?q=CLERK"))
	c.waitJS(`(document.querySelector("#role-count") || {}).textContent === "1 role match"`)
	c.run(chromedp.Navigate(s.Issuer + "dashboard/#/roles?q=auditor"))
	c.waitJS(`(document.querySelector("#role-count") || {}).textContent === "0 roles match"`)
	c.run(chromedp.Navigate(s.Issuer + "dashboard/#/roles/" + roleID))
	c.waitJS(`!!document.querySelector("#delete-role")`)
	c.click(`#delete-role`)
	c.waitJS(`(document.querySelector("#role-count") || {}).textContent === "0 roles"`)
	if r := s.GraphQL(t, f.admin, `query($id: ID!) { role(id: $id) { id } }`, map[string]any{"id": roleID}); len(r.Errors) != 1 || r.Errors[0].Code() != "NOT_FOUND" {
		t.Fatalf("the deleted role: %+v", r)
	}
}

// jsq quotes s as a JavaScript string literal.
func jsq(s string) string { return fmt.Sprintf("%q", s) }
