package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/rules/jstemplates"
)

// jsLoginResult is how a login through the hosted page ended.
type jsLoginResult struct {
	idClaims, atClaims map[string]any // the verified ID token's claims; the access token's when a JWT
	err, description   string         // error and error_description at the redirect URI
	page               page           // where the browser stopped
}

// jsLogin signs in and, when the login ends with a code, exchanges it and
// verifies the ID token's signature against the JWKS.
func jsLogin(t *testing.T, s *apitest.Server, relying *rp, email string) jsLoginResult {
	t.Helper()
	p, verifier := signIn(t, relying, email, jsPassword)
	out := jsLoginResult{page: p}
	if p.location == nil {
		return out
	}
	if out.err = p.location.Query().Get("error"); out.err != "" {
		out.description = p.location.Query().Get("error_description")
		return out
	}
	ctx := oidc.ClientContext(context.Background(), s.HTTP)
	tok, err := relying.conf.Exchange(ctx, p.location.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := relying.verifier.Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	_ = idt.Claims(&out.idClaims)
	// Without an API audience the access token is opaque unless a rule
	// added claims to it.
	if strings.Count(tok.AccessToken, ".") == 2 {
		out.atClaims = jwtPayload(t, tok.AccessToken)
	}
	return out
}

func (r jsLoginResult) ok() bool { return r.idClaims != nil }

// asksForFactor: the login stopped at the MFA step (a rule's require_mfa).
func (r jsLoginResult) asksForFactor() bool {
	return r.page.location == nil && r.page.url != nil && strings.HasSuffix(r.page.url.Path, "/login/mfa")
}

const jsPassword = "Analytical-Engine-1843"

// TestJSRulesTemplatesInLogins: every JavaScript template (Auth0's published
// examples), created through GraphQL exactly as rules/jstemplates has it,
// runs in a real interactive login whose ID token is verified; then a
// JavaScript rule created through the REST API with Auth0's script. One
// server; each template is the only rule while it is checked.
func TestJSRulesTemplatesInLogins(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	ctx := context.Background()
	admin := s.AdminToken(t)
	if _, err := s.Deps.MFA.UpdateSettings(ctx, mfa.Settings{Policy: mfa.PolicyNever, Factors: []mfa.Factor{mfa.FactorTOTP}}); err != nil {
		t.Fatal(err)
	}
	users := map[string]string{} // email → node id
	for _, u := range []struct {
		email    string
		verified bool
		app      map[string]any
	}{
		{"ada@example.com", true, nil},
		{"eve@elsewhere.test", true, map[string]any{"authorization": map[string]any{"groups": []any{"admins"}}}},
		{"bob@example.org", false, nil},
		{"new@example.com", true, nil},
	} {
		var out struct{ CreateUser struct{ ID string } }
		s.MustGraphQL(t, admin, `mutation($e: String!, $v: Boolean!, $pw: String!, $md: Map) { createUser(input: {connection: "Username-Password-Authentication",
			email: $e, emailVerified: $v, password: $pw, appMetadata: $md}) { id } }`,
			map[string]any{"e": u.email, "v": u.verified, "pw": jsPassword, "md": u.app}, &out)
		users[u.email] = out.CreateUser.ID
	}
	var role struct{ CreateRole struct{ ID string } }
	s.MustGraphQL(t, admin, `mutation { createRole(input: {name: "admin"}) { id } }`, nil, &role)
	s.MustGraphQL(t, admin, `mutation($u: ID!, $r: [ID!]!) { assignUserRoles(userId: $u, roleIds: $r) { id } }`,
		map[string]any{"u": users["ada@example.com"], "r": []string{role.CreateRole.ID}}, nil)

	// The applications the templates name, and one they do not.
	rps, ids := map[string]*rp{}, map[string]string{}
	for _, name := range []string{"Notebook", "My SPA", "NameOfTheAppWithAllowlist", "NameOfTheAppWithWhiteList"} {
		id, secret := registerClient(t, s, "--name", name, "--type", "regular_web", "--redirect-uri", redirectURI)
		rps[name], ids[name] = newRP(t, s, id, secret, oidc.ScopeOpenID, "email"), id
	}
	notebook := rps["Notebook"]

	allowed := func(t *testing.T, r jsLoginResult) {
		t.Helper()
		if !r.ok() {
			t.Fatalf("login refused: %s %q (stopped at %v, %d)", r.err, r.description, r.page.url, r.page.status)
		}
	}
	denied := func(t *testing.T, r jsLoginResult, reason string) {
		t.Helper()
		if r.err != "access_denied" || r.description != reason {
			t.Fatalf("want access_denied %q, got %q %q (ok %v)", reason, r.err, r.description, r.ok())
		}
	}
	claim := func(t *testing.T, claims map[string]any, name string, want any) {
		t.Helper()
		if !reflect.DeepEqual(claims[name], want) {
			t.Fatalf("claim %s = %#v, want %#v (claims %v)", name, claims[name], want, claims)
		}
	}
	metadata := func(t *testing.T, email string) (app, user map[string]any) {
		t.Helper()
		var out struct {
			User struct{ AppMetadata, UserMetadata map[string]any }
		}
		s.MustGraphQL(t, admin, `query($id: ID!) { user(id: $id) { appMetadata userMetadata } }`, map[string]any{"id": users[email]}, &out)
		return out.User.AppMetadata, out.User.UserMetadata
	}
	mfaAsked := func(t *testing.T, r jsLoginResult) {
		t.Helper()
		if !r.asksForFactor() {
			t.Fatalf("the rule's MFA was not asked for: %s %q ok=%v at %v", r.err, r.description, r.ok(), r.page.url)
		}
	}

	checks := map[string]func(t *testing.T){
		"add-roles-to-tokens": func(t *testing.T) {
			r := jsLogin(t, s, notebook, "ada@example.com")
			allowed(t, r)
			claim(t, r.idClaims, "https://my-app.example.com/roles", []any{"admin"})
			claim(t, r.atClaims, "https://my-app.example.com/roles", []any{"admin"})
		},
		"add-email-to-access-token": func(t *testing.T) {
			r := jsLogin(t, s, notebook, "ada@example.com")
			allowed(t, r)
			claim(t, r.atClaims, "https://example.com/email", "ada@example.com")
		},
		"app-user-allowlist": func(t *testing.T) {
			denied(t, jsLogin(t, s, rps["NameOfTheAppWithAllowlist"], "ada@example.com"), "Access denied.")
			allowed(t, jsLogin(t, s, notebook, "ada@example.com"))
		},
		"app-user-allowlist-rule": func(t *testing.T) {
			denied(t, jsLogin(t, s, rps["NameOfTheAppWithWhiteList"], "ada@example.com"), "Access denied.")
			allowed(t, jsLogin(t, s, notebook, "ada@example.com"))
		},
		"deny-email-domain-for-app": func(t *testing.T) {
			denied(t, jsLogin(t, s, rps["My SPA"], "ada@example.com"), "Access to My SPA is not allowed.")
			allowed(t, jsLogin(t, s, notebook, "ada@example.com"))
		},
		"email-domain-allowlist": func(t *testing.T) {
			allowed(t, jsLogin(t, s, notebook, "ada@example.com"))
			denied(t, jsLogin(t, s, notebook, "eve@elsewhere.test"), "Access denied.")
		},
		"email-verified-rule": func(t *testing.T) {
			denied(t, jsLogin(t, s, notebook, "bob@example.org"), "Please verify your email before logging in.")
			allowed(t, jsLogin(t, s, notebook, "ada@example.com"))
		},
		"first-login-metadata": func(t *testing.T) {
			r := jsLogin(t, s, notebook, "new@example.com")
			allowed(t, r)
			app, user := metadata(t, "new@example.com")
			if app["signed_up_with"] != ids["Notebook"] || app["signed_up_at"] == nil || user["color"] != "blue" {
				t.Fatalf("metadata after the first login: app %v, user %v", app, user)
			}
		},
		"mfa-by-role": func(t *testing.T) {
			mfaAsked(t, jsLogin(t, s, notebook, "ada@example.com")) // role admin
			allowed(t, jsLogin(t, s, notebook, "eve@elsewhere.test"))
		},
		"mfa-by-group-rule": func(t *testing.T) {
			mfaAsked(t, jsLogin(t, s, notebook, "eve@elsewhere.test")) // group admins
			allowed(t, jsLogin(t, s, notebook, "ada@example.com"))
		},
		"require-mfa-once-per-session-rule": func(t *testing.T) {
			mfaAsked(t, jsLogin(t, s, notebook, "ada@example.com"))
		},
		"persistent-attribute-rule": func(t *testing.T) {
			r := jsLogin(t, s, notebook, "ada@example.com")
			allowed(t, r)
			claim(t, r.idClaims, "https://example.com/favorite_color", "blue")
			if _, user := metadata(t, "ada@example.com"); user["color"] != "blue" {
				t.Fatalf("user_metadata: %v", user)
			}
		},
		"set-roles-rule": func(t *testing.T) {
			r := jsLogin(t, s, notebook, "ada@example.com")
			allowed(t, r)
			claim(t, r.idClaims, "https://example.com/roles", []any{"admin"})
			if app, _ := metadata(t, "ada@example.com"); !reflect.DeepEqual(app["roles"], []any{"admin"}) {
				t.Fatalf("app_metadata: %v", app)
			}
		},
	}
	// Templates whose Rule form behaves as their Action form.
	checks["add-roles-to-tokens-rule"] = checks["add-roles-to-tokens"]
	checks["add-email-to-access-token-rule"] = checks["add-email-to-access-token"]
	checks["email-domain-allowlist-rule"] = checks["email-domain-allowlist"]

	templates := jstemplates.All()
	if len(templates) == 0 {
		t.Fatal("no templates")
	}
	for _, tpl := range templates {
		t.Run(tpl.ID, func(t *testing.T) {
			var out struct{ CreateRule struct{ ID, Language string } }
			s.MustGraphQL(t, admin, `mutation($n: String!, $js: String!) { createRule(input: {name: $n, javascript: $js}) { id language } }`,
				map[string]any{"n": tpl.ID, "js": tpl.Source}, &out)
			defer s.MustGraphQL(t, admin, `mutation($id: ID!) { deleteRule(id: $id) }`, map[string]any{"id": out.CreateRule.ID}, nil)
			if out.CreateRule.Language != "JAVASCRIPT" {
				t.Fatalf("language %q", out.CreateRule.Language)
			}
			if check, ok := checks[tpl.ID]; ok {
				check(t)
				return
			}
			// A template without a scenario of its own: it runs (the login
			// succeeds or the template denies it), it does not fail.
			if r := jsLogin(t, s, notebook, "ada@example.com"); !r.ok() && (r.err != "access_denied" || strings.HasPrefix(r.description, "rule_failed")) {
				t.Fatalf("template %s: %s %q at %v", tpl.ID, r.err, r.description, r.page.url)
			}
		})
	}

	// A JavaScript rule created through the REST API with Auth0's script.
	t.Run("rest-script", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{"name": "rest-rule", "enabled": true, "order": 1,
			"script": "function (user, context, callback) {\n  context.idToken['https://example.com/via'] = 'rest ' + context.clientName;\n  callback(null, user, context);\n}"})
		req, _ := http.NewRequest(http.MethodPost, s.Issuer+"api/v2/rules", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var created map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&created)
		if resp.StatusCode != http.StatusCreated || created["script"] == nil {
			t.Fatalf("POST /api/v2/rules: %d %v", resp.StatusCode, created)
		}
		r := jsLogin(t, s, notebook, "ada@example.com")
		allowed(t, r)
		claim(t, r.idClaims, "https://example.com/via", "rest Notebook")
	})
}
