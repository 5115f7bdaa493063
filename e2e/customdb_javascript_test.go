package e2e

// Custom-database connections with Auth0's JavaScript scripts
// (options.customScripts): Auth0's PostgreSQL templates, unchanged, log a
// user in through the hosted page and the OIDC flow and migrate them
// (import mode); a syntax error is refused when the connection is created,
// with its line and column; an endless loop is stopped at the script's time
// limit and the server keeps serving.

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

func auth0Template(t *testing.T, flavor, op string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../connectors/customdb/testdata/auth0", flavor, op+".js"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCustomDBJavaScriptLazyMigration(t *testing.T) {
	legacy := customdbtest.Postgres(t)
	s := apitest.Start(t, testenv.SQLite(t))
	rpID, rpSecret := registerClient(t, s, "--name", "Shop", "--type", "regular_web", "--redirect-uri", redirectURI)
	admin := s.AdminToken(t)
	const create = `mutation($n: String!, $o: Map, $c: [String!]) {
		createConnection(input: {name: $n, strategy: "customdb", options: $o, enabledClients: $c}) { id } }`

	// A syntax error in customScripts.login: refused with its position,
	// and nothing stored (the name is still free below).
	broken := "function login(email, password, callback) {\n  var x = ;\n}"
	r := s.GraphQL(t, admin, create, map[string]any{"n": "legacy", "o": map[string]any{"dsn": legacy.DSN,
		"customScripts": map[string]any{"login": broken}}, "c": []string{rpID}})
	if len(r.Errors) != 1 || r.Errors[0].Code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "customScripts.login" ||
		r.Errors[0].Extensions["line"] != 2.0 || r.Errors[0].Extensions["column"] == nil || !strings.Contains(r.Errors[0].Message, "line 2") {
		t.Fatalf("syntax error: %+v", r.Errors)
	}
	// A module outside the allowlist is refused too.
	r = s.GraphQL(t, admin, create, map[string]any{"n": "legacy", "o": map[string]any{
		"customScripts": map[string]any{"login": "function login(e, p, cb) { require('request'); }"}}})
	if len(r.Errors) != 1 || r.Errors[0].Extensions["field"] != "customScripts.login" || !strings.Contains(r.Errors[0].Message, "require('request')") {
		t.Fatalf("require: %+v", r.Errors)
	}

	// Import mode needs login and get_user; configuration is sealed.
	s.MustGraphQL(t, admin, create, map[string]any{"n": "legacy", "o": map[string]any{"dsn": legacy.DSN, "import_mode": true,
		"configuration": map[string]any{"API_KEY": "not-returned"},
		"customScripts": map[string]any{customdb.OpLogin: auth0Template(t, "postgres", "login"), customdb.OpGetUser: auth0Template(t, "postgres", "get_user")}},
		"c": []string{rpID}}, nil)
	raw := s.GraphQL(t, admin, `{ connection(id: "legacy") { name options secretsSet } }`, nil)
	if len(raw.Errors) > 0 || strings.Contains(string(raw.Data), "not-returned") || strings.Contains(string(raw.Data), "WrongUsernameOrPasswordError") ||
		!strings.Contains(string(raw.Data), "customScripts") || !strings.Contains(string(raw.Data), "configuration") {
		t.Fatalf("connection: %s %+v", raw.Data, raw.Errors)
	}

	relying := newRP(t, s, rpID, rpSecret, oidc.ScopeOpenID, "profile", "email")
	ada := customdbtest.Seed[0]
	login := legacyLogin(t, s, relying, ada.Email)
	login("wrong-1", "not-the-password", http.StatusUnauthorized)
	first := login("first", ada.Password, 0)
	if first["sub"] != "auth0|1" || first["email"] != ada.Email {
		t.Fatalf("first login: %v", first)
	}
	// Migrated: the legacy table is no longer needed.
	if _, err := legacy.Admin.Exec("DELETE FROM users"); err != nil {
		t.Fatal(err)
	}
	if second := login("second", ada.Password, 0); second["sub"] != first["sub"] {
		t.Fatalf("second login: %v", second)
	}
	login("wrong-2", "Analytical-Engine-1842", http.StatusUnauthorized)

	// An endless loop in a script: the login fails at the time limit as a
	// script failure, and the server keeps serving.
	var updated struct{ UpdateConnection struct{ ID string } }
	var id struct{ Connection struct{ ID string } }
	s.MustGraphQL(t, admin, `{ connection(id: "legacy") { id } }`, nil, &id)
	s.MustGraphQL(t, admin, `mutation($id: ID!, $o: Map) { updateConnection(id: $id, input: {options: $o}) { id } }`,
		map[string]any{"id": id.Connection.ID, "o": map[string]any{"import_mode": false,
			"customScripts": map[string]any{customdb.OpLogin: "function login(email, password, callback) { for (;;) {} }"}}}, &updated)
	start := time.Now()
	b := newBrowser(t)
	form := b.federate(b.get(relying.conf.AuthCodeURL("loop", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))), "legacy")
	done := b.submitLogin(form, "someone@legacy.example", "whatever-password")
	took := time.Since(start)
	if done.status < 500 || took > customdb.DefaultTimeout+5*time.Second {
		t.Fatalf("endless loop: status %d after %s: %.300s", done.status, took, done.body)
	}
	t.Logf("endless loop: %d after %s", done.status, took.Round(time.Millisecond))
	resp, err := s.HTTP.Get(s.Issuer + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz after the loop: %v %v", resp, err)
	}
	resp.Body.Close()
	// One user: the migrated one, with the id the script returned.
	var users struct {
		Users struct {
			Edges []struct{ Node struct{ UserID string } }
		}
	}
	s.MustGraphQL(t, admin, `{ users(first: 10, query: "email:\"ada@legacy.example\"") { edges { node { userId } } } }`, nil, &users)
	if len(users.Users.Edges) != 1 || users.Users.Edges[0].Node.UserID != "auth0|1" {
		t.Fatalf("users: %+v", users)
	}
}

// Legacy authentication (no import mode) with Auth0's MySQL templates on
// MariaDB: signup runs get_user, create and login; logins always reach the
// legacy database; an administrator's password change runs
// change_password, deleteUser runs delete.
func TestCustomDBJavaScriptWithoutImportMode(t *testing.T) {
	legacy := customdbtest.MariaDB(t)
	l := newLifecycle(t, testenv.SQLite(t), legacy, map[string]any{}, nil)
	scripts := map[string]any{}
	for _, op := range customdb.Ops {
		scripts[op] = auth0Template(t, "mysql", op)
	}
	l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation($o: Map) { updateConnection(id: "legacy", input: {options: $o}) { id } }`,
		map[string]any{"o": map[string]any{"customScripts": scripts}}, nil)
	ada := customdbtest.Seed[0]
	rows := legacy.Count(t)

	if c := l.login(ada.Email, ada.Password); c == nil || c["sub"] != "auth0|1" || c["email"] != ada.Email {
		t.Fatalf("login: %v", c)
	}
	if l.login(ada.Email, "not-the-password") != nil {
		t.Fatal("a wrong password logged in")
	}
	// Signup of a legacy address: get_user finds it, nothing is written.
	if claims, p := l.signup(ada.Email, "Brand-New-Secret-9"); claims != nil || p.status != http.StatusBadRequest || legacy.Count(t) != rows {
		t.Fatalf("signup of a legacy address: %v %d", claims, p.status)
	}
	// A new address: create writes the row, login confirms it and gives the id.
	claims, p := l.signup("grace@legacy.example", "Cobol-1959-Flow")
	if claims == nil || legacy.Count(t) != rows+1 {
		t.Fatalf("signup: %v %d %.300s", claims, p.status, p.body)
	}
	sub, _ := claims["sub"].(string)
	if !strings.HasPrefix(sub, "auth0|") || sub == "auth0|1" || sub == "auth0|2" {
		t.Fatalf("signup sub: %v", claims)
	}
	if c := l.login("grace@legacy.example", "Cobol-1959-Flow"); c == nil || c["sub"] != sub {
		t.Fatalf("login after signup: %v", c)
	}
	grace := l.localUserByEmail("grace@legacy.example")
	if grace == nil {
		t.Fatal("no local profile after signup")
	}
	l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation($id: ID!) { updateUser(id: $id, input: {password: "Admin-Chosen-77"}) { id } }`,
		map[string]any{"id": grace.ID}, nil)
	if l.login("grace@legacy.example", "Cobol-1959-Flow") != nil {
		t.Fatal("the old password still works")
	}
	if c := l.login("grace@legacy.example", "Admin-Chosen-77"); c == nil || c["sub"] != sub {
		t.Fatalf("login with the new password: %v", c)
	}
	l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation($id: ID!) { deleteUser(id: $id) }`, map[string]any{"id": grace.ID}, nil)
	if legacy.Count(t) != rows || l.login("grace@legacy.example", "Admin-Chosen-77") != nil {
		t.Fatalf("after deleteUser: %d rows", legacy.Count(t))
	}
}
