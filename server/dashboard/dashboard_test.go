package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/server/dashboard"
	"github.com/authgraph/authgraph/server/oidc"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func get(t *testing.T, s *apitest.Server, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPagesAssetsAndHeaders(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	for _, p := range []string{"/dashboard/", "/dashboard/callback", "/playground"} {
		resp, body := get(t, s, p)
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != 200 || !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %q %q", p, resp.StatusCode, csp, resp.Header.Get("Cache-Control"))
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Fatalf("%s has inline scripts or remote URLs:\n%s", p, body)
		}
	}
	resp, _ := get(t, s, "/dashboard")
	if resp.Request.URL.Path != "/dashboard/" {
		t.Fatalf("/dashboard did not redirect: %s", resp.Request.URL)
	}

	// config.json names the built-in client.
	app, err := clients.Dashboard(context.Background(), s.Deps.DB.Ent)
	if err != nil {
		t.Fatal(err)
	}
	_, cfg := get(t, s, "/dashboard/config.json")
	if !strings.Contains(cfg, `"clientId":"`+app.ClientID+`"`) || !strings.Contains(cfg, `"redirectUri":"`+s.Issuer+`dashboard/callback"`) {
		t.Fatalf("config.json: %s", cfg)
	}

	// Versioned assets are immutable; others revalidate with their ETag.
	_, page := get(t, s, "/playground")
	i := strings.Index(page, "/dashboard/assets/vendor/graphiql.min.js?v=")
	if i < 0 {
		t.Fatal("playground does not load the vendored GraphiQL")
	}
	versioned := page[i : i+strings.IndexByte(page[i:], '"')]
	resp, _ = get(t, s, versioned)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("versioned asset: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = get(t, s, "/dashboard/assets/js/app.js")
	etag := resp.Header.Get("ETag")
	if resp.Header.Get("Cache-Control") != "no-cache" || etag == "" {
		t.Fatalf("module asset headers: %v", resp.Header)
	}
	if resp, _ = get(t, s, "/dashboard/assets/js/app.js", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d", resp.StatusCode)
	}
	for _, p := range []string{"/dashboard/assets/index.html", "/dashboard/assets/nope.js", "/dashboard/assets/vendor"} {
		if resp, _ := get(t, s, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
}

// The dashboard client is built in: the API cannot change or delete it.
func TestDashboardClientIsProtected(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	app, err := clients.Dashboard(context.Background(), s.Deps.DB.Ent)
	if err != nil || !app.System || !clients.IsDashboard(app) {
		t.Fatalf("dashboard client: %+v %v", app, err)
	}
	admin := s.AdminToken(t)
	for _, q := range []string{
		`mutation($id: ID!) { updateClient(id: $id, input: {name: "mine"}) { id } }`,
		`mutation($id: ID!) { deleteClient(id: $id) }`,
	} {
		r := s.GraphQL(t, admin, q, map[string]any{"id": string(app.ID)})
		if len(r.Errors) != 1 || r.Errors[0].Code() != "FORBIDDEN" {
			t.Fatalf("%s: %+v", q, r)
		}
	}
	// EnsureDashboard at a later start keeps the same client.
	again, err := clients.EnsureDashboard(context.Background(), s.Deps.DB.Ent, s.Issuer)
	if err != nil || again.ID != app.ID {
		t.Fatalf("EnsureDashboard made another client: %v %v", again, err)
	}
}

func createUser(t *testing.T, s *apitest.Server, email string) string {
	t.Helper()
	var out struct{ CreateUser struct{ ID string } }
	s.MustGraphQL(t, s.AdminToken(t), `mutation($e: String!) { createUser(input: {connection: "Username-Password-Authentication",
		email: $e, password: "Correct-Horse-Battery-9", emailVerified: true}) { id } }`, map[string]any{"e": email}, &out)
	return out.CreateUser.ID
}

func TestGrantAndRevokeAdminOverGraphQL(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	id := createUser(t, s, "ada@example.com")

	// update:admins is required; nobody grants a scope they lack.
	r := s.GraphQL(t, s.Token(t, "read:users"), `mutation($id: ID!) { grantAdmin(userId: $id, scopes: ["read:users"]) { id } }`, map[string]any{"id": id})
	if len(r.Errors) != 1 || r.Errors[0].Code() != "FORBIDDEN" {
		t.Fatalf("without update:admins: %+v", r)
	}
	r = s.GraphQL(t, s.Token(t, "update:admins", "read:users"), `mutation($id: ID!) { grantAdmin(userId: $id, scopes: ["read:users", "delete:users"]) { id } }`, map[string]any{"id": id})
	if len(r.Errors) != 1 || r.Errors[0].Code() != "FORBIDDEN" || r.Errors[0].Extensions["scope"] != "delete:users" {
		t.Fatalf("escalation: %+v", r)
	}
	r = s.GraphQL(t, s.AdminToken(t), `mutation($id: ID!) { grantAdmin(userId: $id, scopes: ["read:nothing"]) { id } }`, map[string]any{"id": id})
	if len(r.Errors) != 1 || r.Errors[0].Code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "scopes" {
		t.Fatalf("unknown scope: %+v", r)
	}

	var granted struct {
		GrantAdmin struct {
			ID     string
			Scopes []string
			User   struct{ Email string }
		}
	}
	s.MustGraphQL(t, s.Token(t, "update:admins", "read:users"), `mutation($id: ID!) { grantAdmin(userId: $id, scopes: ["read:users"]) { id scopes user { email } } }`,
		map[string]any{"id": id}, &granted)
	if !strings.HasPrefix(granted.GrantAdmin.ID, "adm_") || !slices.Equal(granted.GrantAdmin.Scopes, []string{"read:users"}) || granted.GrantAdmin.User.Email != "ada@example.com" {
		t.Fatalf("grant: %+v", granted)
	}
	var list struct{ Admins []struct{ Scopes []string } }
	s.MustGraphQL(t, s.AdminToken(t), `{ admins { scopes user { email } } }`, nil, &list)
	if len(list.Admins) != 1 {
		t.Fatalf("admins: %+v", list)
	}
	if r := s.GraphQL(t, s.Token(t, "read:users"), `{ admins { scopes } }`, nil); len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" {
		t.Fatalf("admins without read:admins: %+v", r)
	}

	s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!) { revokeAdmin(userId: $id) }`, map[string]any{"id": id}, nil)
	r = s.GraphQL(t, s.AdminToken(t), `mutation($id: ID!) { revokeAdmin(userId: $id) }`, map[string]any{"id": id})
	if len(r.Errors) != 1 || r.Errors[0].Code() != "NOT_FOUND" {
		t.Fatalf("second revoke: %+v", r)
	}
}

// Administrator scopes reach tokens of the dashboard client only.
func TestUserAPIScopes(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	ctx := context.Background()
	sys := authz.SystemContext(ctx)
	db := s.Deps.DB.Ent
	ada := db.User.GetX(sys, pulid.ID(createUser(t, s, "ada@example.com")))
	bob := db.User.GetX(sys, pulid.ID(createUser(t, s, "bob@example.com")))
	if _, err := admins.Grant(sys, db, ada.ID, []string{"read:users", "update:users"}); err != nil {
		t.Fatal(err)
	}
	dash, err := clients.Dashboard(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	other, err := clients.Create(sys, db, clients.Params{Name: "Some SPA", Type: clients.TypeSPA, RedirectURIs: []string{"http://127.0.0.1:9/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	mgmt := &oidc.API{Identifier: authz.ManagementAudience(s.Issuer), Management: true}
	requested := []string{"read:current_user", "read:users", "update:users", "delete:users"}
	scopes := dashboard.UserAPIScopes(db)
	for _, c := range []struct {
		name string
		user *ent.User
		app  *ent.Application
		api  *oidc.API
		req  []string
		want []string
	}{
		{"admin through the dashboard", ada, dash, mgmt, requested, []string{"read:current_user", "read:users", "update:users"}},
		{"admin through another client", ada, other.Client, mgmt, requested, []string{"read:current_user"}},
		{"non-admin through the dashboard", bob, dash, mgmt, requested, []string{"read:current_user"}},
		{"another API", ada, dash, &oidc.API{Identifier: "https://api.example.com/"}, []string{"read:things"}, []string{"read:things"}},
	} {
		got, err := scopes(ctx, c.user, c.app, c.api, c.req)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}
}
