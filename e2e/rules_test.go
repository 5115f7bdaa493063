package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/internal/apitest"
)

// wasm returns a fixture module built by `make rules-fixtures` (templates
// from rules-sdk/templates are tpl-*), base64 for createRule. Missing
// fixtures skip locally and fail in CI.
func wasm(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "rules", "testdata", "build", name+".wasm")
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fixture %s missing (CI must run `make rules-fixtures` first): %v", p, err)
		}
		t.Skipf("fixture %s missing: run `make rules-fixtures` (%v)", p, err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func addRule(t *testing.T, s *apitest.Server, name, module string) string {
	t.Helper()
	var out struct{ CreateRule struct{ ID string } }
	s.MustGraphQL(t, s.AdminToken(t), `mutation($n: String!, $m: String!) { createRule(input: {name: $n, module: $m}) { id } }`,
		map[string]any{"n": name, "m": module}, &out)
	return out.CreateRule.ID
}

func appMetadata(t *testing.T, s *apitest.Server, id string) map[string]any {
	t.Helper()
	var out struct {
		User struct{ AppMetadata map[string]any }
	}
	s.MustGraphQL(t, s.AdminToken(t), `query($id: ID!) { user(id: $id) { appMetadata } }`, map[string]any{"id": id}, &out)
	return out.User.AppMetadata
}

// signIn runs the authorization code flow through the hosted login page in
// a fresh browser and returns where the browser stopped.
func signIn(t *testing.T, relying *rp, email, password string) (page, string) {
	t.Helper()
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	return b.login(b.get(relying.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))), email, password), verifier
}

func TestRulesRunInLogins(t *testing.T) {
	roles, firstLogin := wasm(t, "tpl-as-roles-claim"), wasm(t, "tpl-as-first-login")
	counter, abort, denyUnverified := wasm(t, "as-counter"), wasm(t, "as-abort"), wasm(t, "tpl-as-deny-unverified")
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := oidc.ClientContext(context.Background(), s.HTTP)
		admin := s.AdminToken(t)
		var ada, bob struct{ CreateUser struct{ ID, UserID string } }
		s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
			email: "ada@example.com", emailVerified: true, password: "Analytical-Engine-1843", appMetadata: {roles: ["admin"]}}) { id userId } }`, nil, &ada)
		s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
			email: "bob@example.com", password: "Difference-Engine-1822"}) { id userId } }`, nil, &bob)
		id, secret := registerClient(t, s, "--name", "Notebook", "--type", "regular_web", "--redirect-uri", redirectURI)
		relying := newRP(t, s, id, secret, oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess)

		addRule(t, s, "roles-claim", roles)
		addRule(t, s, "first-login", firstLogin)

		// 1. The template's namespaced claim is in the verified ID token
		// (and the access token); first-login's app_metadata is persisted.
		done, verifier := signIn(t, relying, "ada@example.com", "Analytical-Engine-1843")
		if done.location == nil || done.location.Query().Get("code") == "" {
			t.Fatalf("login failed: %d %v %.300s", done.status, done.location, done.body)
		}
		tok, err := relying.conf.Exchange(ctx, done.location.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		idt, err := relying.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		var claims map[string]any
		_ = idt.Claims(&claims)
		if !reflect.DeepEqual(claims["https://example.com/roles"], []any{"admin"}) || idt.Subject != ada.CreateUser.UserID {
			t.Fatalf("ID token claims: %v", claims)
		}
		if at := jwtPayload(t, tok.AccessToken); !reflect.DeepEqual(at["https://example.com/roles"], []any{"admin"}) {
			t.Fatalf("access token claims: %v", at)
		}
		md := appMetadata(t, s, ada.CreateUser.ID)
		if md["first_login_at"] == nil || md["first_login_client"] != id || !reflect.DeepEqual(md["roles"], []any{"admin"}) {
			t.Fatalf("app_metadata after login: %v", md)
		}

		// 2. Refresh runs the rules too: they see the current app_metadata.
		s.MustGraphQL(t, admin, `mutation($id: ID!) { updateUser(id: $id, input: {appMetadata: {roles: ["editor"]}}) { id } }`,
			map[string]any{"id": ada.CreateUser.ID}, nil)
		refreshed, err := relying.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		again, err := relying.verifier.Verify(ctx, refreshed.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		_ = again.Claims(&claims)
		if !reflect.DeepEqual(claims["https://example.com/roles"], []any{"editor"}) {
			t.Fatalf("refreshed ID token claims: %v", claims)
		}

		// 3. A failing rule fails the login with rule_failed naming it, and
		// nothing the rules before it asked for is written.
		addRule(t, s, "counter", counter)
		abortID := addRule(t, s, "abort", abort)
		failed, _ := signIn(t, relying, "ada@example.com", "Analytical-Engine-1843")
		if failed.location == nil || failed.location.Query().Get("error") != "access_denied" ||
			!strings.Contains(failed.location.Query().Get("error_description"), `rule_failed: rule "abort" failed`) {
			t.Fatalf("failing rule: %d %v %.300s", failed.status, failed.location, failed.body)
		}
		if md := appMetadata(t, s, ada.CreateUser.ID); md["counter"] != nil {
			t.Fatalf("a failed pipeline persisted metadata: %v", md)
		}
		sys := authz.SystemContext(context.Background())
		ev, err := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("f"), logevent.UserID(ada.CreateUser.UserID)).Only(sys)
		if err != nil || ev.Details["rule_name"] != "abort" || !strings.Contains(ev.Details["error"].(string), "boom for "+ada.CreateUser.UserID) {
			t.Fatalf("log event of the failure: %v %+v", err, ev)
		}
		if _, ok := ev.Details["rule_logs"]; !ok {
			t.Fatalf("the rule's log lines are not in the log event: %+v", ev.Details)
		}

		// 4. A denying rule (the deny-unverified template) fails the login
		// with access_denied and its reason; nothing persists for bob.
		s.MustGraphQL(t, admin, `mutation($id: ID!) { updateRule(id: $id, input: {enabled: false}) { id } }`, map[string]any{"id": abortID}, nil)
		addRule(t, s, "deny-unverified", denyUnverified)
		denied, _ := signIn(t, relying, "bob@example.com", "Difference-Engine-1822")
		if denied.location == nil || denied.location.Query().Get("error") != "access_denied" ||
			denied.location.Query().Get("error_description") != "Please verify your email address before logging in." {
			t.Fatalf("deny: %d %v %.300s", denied.status, denied.location, denied.body)
		}
		if md := appMetadata(t, s, bob.CreateUser.ID); len(md) != 0 {
			t.Fatalf("a denied login persisted metadata: %v", md)
		}
		if n := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("f"), logevent.UserID(bob.CreateUser.UserID)).CountX(sys); n != 1 {
			t.Fatalf("%d f events for the denied login", n)
		}

		// 5. With the failing rule disabled, ada's login persists the
		// counter rule's update once.
		ok, _ := signIn(t, relying, "ada@example.com", "Analytical-Engine-1843")
		if ok.location == nil || ok.location.Query().Get("code") == "" {
			t.Fatalf("login after disabling the failing rule: %v %.300s", ok.location, ok.body)
		}
		if md := appMetadata(t, s, ada.CreateUser.ID); md["counter"] != float64(1) || md["last_rule"] != "as" {
			t.Fatalf("app_metadata after the pipeline: %v", md)
		}
	})
}

func jwtPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
