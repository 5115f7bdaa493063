package oidc

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/internal/testenv"
)

// TestSessionConnectionMustBeEnabled: an SSO session opened through a
// connection the requesting client is not enabled for does not sign the
// user in to that client; the login page for the client's own connections
// does (or login_required for prompt=none). connection= naming a
// connection the client may not use is refused, and naming another
// enabled connection is not answered by a session from this one.
func TestSessionConnectionMustBeEnabled(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, be.dsn(t), "")
			sys := authz.SystemContext(e.ctx)
			appA := e.newRP(t, clients.TypeRegularWeb)
			beta := e.db.Ent.Connection.Create().SetName("beta").SetStrategy(connection.StrategyDatabase).SaveX(sys)
			gamma := e.db.Ent.Connection.Create().SetName("gamma").SetStrategy(connection.StrategyDatabase).SaveX(sys)
			appB := e.newRP(t, clients.TypeRegularWeb)
			// A: the test connection and gamma; B: beta only.
			e.db.Ent.Connection.Update().Where(connection.Name(testConnection)).SetEnabledClients([]string{appA.cfg.ClientID}).ExecX(sys)
			e.db.Ent.Connection.UpdateOne(gamma).SetEnabledClients([]string{appA.cfg.ClientID}).ExecX(sys)
			e.db.Ent.Connection.UpdateOne(beta).SetEnabledClients([]string{appB.cfg.ClientID}).ExecX(sys)

			u := e.newUser(t)
			b := e.newBrowser(nil)
			b.sessionCookie(t, u, 0) // a session from the test connection

			if res, _ := appA.login(t, b, "openid"); res.sawLogin || res.params.Get("code") == "" {
				t.Fatalf("SSO at the client enabled for the session's connection: %+v", res)
			}
			res, _ := appB.login(t, b, "openid")
			if !res.sawLogin || res.params.Get("code") != "" || res.status != http.StatusOK {
				t.Fatalf("a session from a connection not enabled for the client got through: %+v", res)
			}
			if got := e.lastLogin(); got == nil || got.ClientID != appB.cfg.ClientID || len(got.EnabledConnections) != 1 || got.EnabledConnections[0].Name != "beta" {
				t.Fatalf("login page for B: %+v", got)
			}
			res, f := appB.login(t, b, "openid", "prompt", "none")
			if res.sawLogin || res.params.Get("error") != "login_required" || res.params.Get("state") != f.state || res.params.Get("code") != "" {
				t.Fatalf("prompt=none at B: %+v", res)
			}

			// connection= naming a connection not enabled for the client.
			res, f = appA.login(t, b, "openid", "connection", "beta")
			if res.sawLogin || res.params.Get("error") != "invalid_request" || res.params.Get("error_description") != "the connection is not enabled" || res.params.Get("state") != f.state {
				t.Fatalf("connection not enabled for the client: %+v", res)
			}
			res, _ = appA.login(t, b, "openid", "connection", "no-such-connection")
			if res.params.Get("error") != "invalid_request" || res.params.Get("error_description") != "the connection is not enabled" {
				t.Fatalf("unknown connection: %+v", res)
			}
			// connection= naming another enabled connection: that login.
			res, _ = appA.login(t, b, "openid", "connection", "gamma")
			if !res.sawLogin || res.params.Get("code") != "" {
				t.Fatalf("connection=gamma answered by a session from %s: %+v", testConnection, res)
			}
			if res, _ := appA.login(t, b, "openid", "connection", testConnection); res.sawLogin || res.params.Get("code") == "" {
				t.Fatalf("connection= naming the session's connection: %+v", res)
			}

			// A login page that completes through a connection the client
			// is not enabled for (or not the one connection= named) is
			// refused by the provider: access_denied, no code.
			lb := e.newBrowser(u)
			lb.header.Set("X-Test-Connection", testConnection)
			if res, f := appB.login(t, lb, "openid"); !res.sawLogin || res.params.Get("error") != "access_denied" || res.params.Get("state") != f.state {
				t.Fatalf("login through %s for B: %+v", testConnection, res)
			}
			if res, _ := appA.login(t, lb, "openid", "connection", "gamma"); res.params.Get("error") != "access_denied" {
				t.Fatalf("connection=gamma completed through %s: %+v", testConnection, res)
			}
			lb.header.Set("X-Test-Connection", "beta")
			if res, _ := appB.login(t, lb, "openid"); res.params.Get("code") == "" {
				t.Fatalf("login through beta for B: %+v", res)
			}
		})
	}
}

// TestIntrospectionOnlyForTheIssuedClient: a confidential client learns
// about its own tokens only; another client's tokens (opaque and JWT user
// access tokens, refresh tokens, client_credentials tokens) answer exactly
// {"active": false}, as an unknown token does. Revocation by another
// client is a 200 without effect.
func TestIntrospectionOnlyForTheIssuedClient(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, be.dsn(t), "")
			owner := e.newRP(t, clients.TypeRegularWeb)
			other := e.newRP(t, clients.TypeRegularWeb)
			u := e.newUser(t)
			opaqueTok, _ := owner.tokens(t, e.newBrowser(u), "openid offline_access")
			jwtTok, _ := owner.tokens(t, e.newBrowser(u), "openid", "audience", e.provider.managementAudience)
			if strings.Count(jwtTok.AccessToken, ".") != 2 || strings.Count(opaqueTok.AccessToken, ".") == 2 {
				t.Fatalf("want one opaque and one JWT access token: %q %q", opaqueTok.AccessToken, jwtTok.AccessToken)
			}
			m2m := e.client(clients.TypeM2M, "read:users")
			m2mOther := e.client(clients.TypeM2M, "read:users")
			cc := e.post(ccForm(m2m.Client.ClientID, m2m.Secret), "", "")
			ccTok, _ := cc.json(t)["access_token"].(string)
			if cc.status != 200 || ccTok == "" {
				t.Fatalf("client_credentials: %d %s", cc.status, cc.body)
			}
			introspect := func(token, id, secret string) map[string]any {
				t.Helper()
				st, m := e.form(t, "oauth/introspect", url.Values{"token": {token}}, id, secret)
				if st != 200 {
					t.Fatalf("introspection: %d %v", st, m)
				}
				return m
			}
			for name, c := range map[string]struct {
				token, ownerID, ownerSecret, otherID, otherSecret string
			}{
				"opaque access token":           {opaqueTok.AccessToken, owner.cfg.ClientID, owner.cfg.ClientSecret, other.cfg.ClientID, other.cfg.ClientSecret},
				"JWT access token":              {jwtTok.AccessToken, owner.cfg.ClientID, owner.cfg.ClientSecret, other.cfg.ClientID, other.cfg.ClientSecret},
				"refresh token":                 {opaqueTok.RefreshToken, owner.cfg.ClientID, owner.cfg.ClientSecret, other.cfg.ClientID, other.cfg.ClientSecret},
				"machine token":                 {ccTok, m2m.Client.ClientID, m2m.Secret, m2mOther.Client.ClientID, m2mOther.Secret},
				"machine token to a web client": {ccTok, m2m.Client.ClientID, m2m.Secret, other.cfg.ClientID, other.cfg.ClientSecret},
			} {
				if m := introspect(c.token, c.ownerID, c.ownerSecret); m["active"] != true {
					t.Errorf("%s to its own client: %v", name, m)
				}
				if m := introspect(c.token, c.otherID, c.otherSecret); m["active"] != false || len(m) != 1 {
					t.Errorf("%s to another client: %v", name, m)
				}
			}

			// Revocation by another client: 200, nothing revoked.
			for _, tok := range []string{opaqueTok.AccessToken, jwtTok.AccessToken, opaqueTok.RefreshToken} {
				if st, _ := e.form(t, "oauth/revoke", url.Values{"token": {tok}}, other.cfg.ClientID, other.cfg.ClientSecret); st != 200 {
					t.Errorf("foreign revoke: %d", st)
				}
			}
			if st, _ := e.userinfo(t, opaqueTok.AccessToken); st != 200 {
				t.Errorf("a foreign revocation took effect: %d", st)
			}
			for _, tok := range []string{jwtTok.AccessToken, opaqueTok.RefreshToken} {
				if m := introspect(tok, owner.cfg.ClientID, owner.cfg.ClientSecret); m["active"] != true {
					t.Errorf("a foreign revocation took effect: %v", m)
				}
			}
		})
	}
}

// TestFailedExchangeConsumesTheCode: an exchange that presents a valid
// code but fails a check (wrong PKCE verifier, none, another redirect_uri,
// another client) consumes the code: the correct exchange that follows
// fails with invalid_grant.
func TestFailedExchangeConsumesTheCode(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, be.dsn(t), "")
			r := e.newRP(t, clients.TypeRegularWeb)
			other := e.newRP(t, clients.TypeRegularWeb)
			u := e.newUser(t)
			exchange := func(code string, f *flow, id, secret string, kv ...string) tokenResponse {
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {f.verifier}}
				for i := 0; i+1 < len(kv); i += 2 {
					if kv[i+1] == "" {
						form.Del(kv[i])
					} else {
						form.Set(kv[i], kv[i+1])
					}
				}
				return e.post(form, id, secret)
			}
			for name, bad := range map[string]func(code string, f *flow) tokenResponse{
				"wrong PKCE verifier": func(code string, f *flow) tokenResponse {
					return exchange(code, f, r.cfg.ClientID, r.cfg.ClientSecret, "code_verifier", strings.Repeat("a", 43))
				},
				"no PKCE verifier": func(code string, f *flow) tokenResponse {
					return exchange(code, f, r.cfg.ClientID, r.cfg.ClientSecret, "code_verifier", "")
				},
				"another redirect_uri": func(code string, f *flow) tokenResponse {
					return exchange(code, f, r.cfg.ClientID, r.cfg.ClientSecret, "redirect_uri", "https://rp.example/other")
				},
				"another client": func(code string, f *flow) tokenResponse {
					return exchange(code, f, other.cfg.ClientID, other.cfg.ClientSecret)
				},
			} {
				res, f := r.login(t, e.newBrowser(u), "openid")
				code := res.params.Get("code")
				if code == "" {
					t.Fatalf("%s: no code: %+v", name, res)
				}
				if got := bad(code, f); got.status != 400 || got.errorCode(t) != "invalid_grant" {
					t.Errorf("%s: %d %s", name, got.status, got.body)
				}
				if got := exchange(code, f, r.cfg.ClientID, r.cfg.ClientSecret); got.status != 400 || got.errorCode(t) != "invalid_grant" {
					t.Errorf("%s, then the correct exchange: %d %s", name, got.status, got.body)
				}
			}
			// Without a failure first, the same exchange works.
			res, f := r.login(t, e.newBrowser(u), "openid")
			if got := exchange(res.params.Get("code"), f, r.cfg.ClientID, r.cfg.ClientSecret); got.status != 200 {
				t.Fatalf("exchange: %d %s", got.status, got.body)
			}
		})
	}
}

// TestUnsafeRegisteredURIsAreNotUsed: redirect URIs, logout URLs and web
// origins stored before the registration rules and breaking them are not
// used: no code to javascript: or plain-http redirect URIs, no logout
// redirect to javascript:, no CORS for an http origin on another host.
func TestUnsafeRegisteredURIsAreNotUsed(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), "")
	r := e.newRP(t, clients.TypeRegularWeb)
	const evilOrigin = "http://evil.example"
	e.db.Ent.Application.UpdateOne(r.c.Client).
		SetRedirectUris([]string{redirectURI, "javascript:alert(document.domain)//", "http://app.example.com/cb"}).
		SetLogoutUrls([]string{logoutURI, "javascript:alert(1)"}).
		SetWebOrigins([]string{rpOrigin, evilOrigin}).
		ExecX(authz.SystemContext(e.ctx))
	u := e.newUser(t)
	for _, uri := range []string{"javascript:alert(document.domain)//", "http://app.example.com/cb"} {
		for _, mode := range []string{"query", "form_post"} {
			res, _ := r.login(t, e.newBrowser(u), "openid", "redirect_uri", uri, "response_mode", mode)
			if res.status != http.StatusBadRequest || res.location != "" || res.sawLogin || strings.Contains(res.body, "javascript:") {
				t.Errorf("redirect_uri %s (%s): %+v", uri, mode, res)
			}
		}
	}
	if res, _ := r.login(t, e.newBrowser(u), "openid"); res.params.Get("code") == "" {
		t.Fatalf("the safe redirect URI: %+v", res)
	}
	b := e.newBrowser(u)
	tok, _ := r.tokens(t, b, "openid")
	resp, err := b.hc.Get(e.issuer + "oidc/logout?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {"javascript:alert(1)"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("post_logout_redirect_uri javascript: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for origin, allowed := range map[string]bool{rpOrigin: true, evilOrigin: false} {
		req, _ := http.NewRequest(http.MethodOptions, e.tokenURL, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin") == origin; got != allowed {
			t.Errorf("preflight from %s: %d allowed=%v", origin, resp.StatusCode, got)
		}
	}
}
