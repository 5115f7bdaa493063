package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent/authrequest"
	"github.com/authgraph/authgraph/ent/grant"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
)

// TestOIDC runs the OpenID Foundation Basic OP modules (docs/OPENID_PROVIDER.md), each as a
// subtest named after its module, and the provider's own behaviours, on
// SQLite and Postgres.
func TestOIDC(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b.dsn(t), "")
			for _, tc := range []struct {
				name string
				fn   func(*testing.T, *env)
			}{
				{"oidcc-server", testServer},
				{"oidcc-server-client-secret-post", testClientSecretPost},
				{"oidcc-response-type-missing", testResponseTypeMissing},
				{"oidcc-ensure-registered-redirect-uri", testRegisteredRedirectURI},
				{"oidcc-userinfo-get", testUserinfoGet},
				{"oidcc-userinfo-post-header", testUserinfoPostHeader},
				{"oidcc-userinfo-post-body", testUserinfoPostBody},
				{"oidcc-scope-profile", scopeModule("openid profile")},
				{"oidcc-scope-email", scopeModule("openid email")},
				{"oidcc-scope-address", scopeModule("openid address")},
				{"oidcc-scope-phone", scopeModule("openid phone")},
				{"oidcc-scope-all", scopeModule("openid profile email address phone")},
				{"oidcc-ensure-other-scope-order-succeeds", scopeModule("email openid")},
				{"oidcc-ensure-request-without-nonce-succeeds-for-code-flow", testWithoutNonce},
				{"oidcc-ensure-request-with-unknown-parameter-succeeds", paramModule("extra", "foobar")},
				{"oidcc-ensure-request-with-valid-pkce-succeeds", testValidPKCE},
				{"oidcc-ensure-post-request-succeeds", testPostRequest},
				{"oidcc-login-hint", testLoginHint},
				{"oidcc-ui-locales", paramModule("ui_locales", "se")},
				{"oidcc-claims-locales", paramModule("claims_locales", "se")},
				{"oidcc-display-page", paramModule("display", "page")},
				{"oidcc-display-popup", paramModule("display", "popup")},
				{"oidcc-ensure-request-with-acr-values-succeeds", paramModule("acr_values", "1 2")},
				{"oidcc-claims-essential", testClaimsEssential},
				{"oidcc-codereuse", testCodeReuse},
				{"oidcc-codereuse-30seconds", testCodeReuseRevokes},
				{"oidcc-prompt-none-not-logged-in", testPromptNoneNotLoggedIn},
				{"oidcc-prompt-none-logged-in", testPromptNoneLoggedIn},
				{"oidcc-id-token-hint", testIDTokenHint},
				{"oidcc-prompt-login", testPromptLogin},
				{"oidcc-max-age-1", testMaxAge1},
				{"oidcc-max-age-10000", testMaxAge10000},
				{"oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported", testRequestObject},
				{"oidcc-refresh-token", testRefreshToken},
				// Authgraph's own behaviours.
				{"discovery", testFlowDiscovery},
				{"form_post", testFormPost},
				{"pkce", testPKCE},
				{"redirect_uri_mismatch", testRedirectURIMismatch},
				{"client_auth_methods", testClientAuthMethods},
				{"scope_matrix", testScopeMatrix},
				{"refresh_rotation_and_reuse", testRefreshReuse},
				{"blocked_user", testBlockedUser},
				{"blocked_before_exchange", testBlockedBeforeExchange},
				{"revoke_user_grants", testRevokeUserGrants},
				{"audience", testUserAudience},
				{"claims_hook", testClaimsHook},
				{"revocation", testRevocation},
				{"introspection", testIntrospection},
				{"end_session", testEndSession},
				{"cors", testCORS},
				{"login_handoff", testLoginHandoff},
				{"mfa_handoff", testMFAHandoff},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, e) })
			}
		})
	}
}

func testServer(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	b := e.newBrowser(u)
	res, f := r.login(t, b, "openid")
	tok, err := r.exchange(res.params.Get("code"), f)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("go-oidc: %v", err)
	}
	if idt.Issuer != e.issuer || idt.Subject != u.UserID || !slices.Equal(idt.Audience, []string{r.cfg.ClientID}) || idt.Nonce != f.nonce {
		t.Errorf("ID token iss %s sub %s aud %v nonce %s", idt.Issuer, idt.Subject, idt.Audience, idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	c := claimsOf(t, raw)
	for _, k := range []string{"iss", "aud", "exp", "iat", "sub", "nonce", "auth_time", "azp", "at_hash"} {
		if _, ok := c[k]; !ok {
			t.Errorf("ID token lacks %s", k)
		}
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 36000 {
		t.Errorf("ID token lifetime %v", exp-iat)
	}
	for _, k := range []string{"email", "name", "user_metadata", "app_metadata", "plan"} {
		if _, ok := c[k]; ok {
			t.Errorf("openid-only ID token carries %s", k)
		}
	}
	if h := headerOf(t, raw); h["alg"] != "RS256" || h["kid"] == nil {
		t.Errorf("ID token header %v", h)
	}
	// Without an audience the access token is good only at /userinfo: it
	// is opaque (Auth0 does the same), and introspection describes it.
	if strings.Contains(tok.AccessToken, ".") {
		t.Errorf("access token for /userinfo only is a JWT: %s", tok.AccessToken)
	}
	at := introspectAccess(t, e, r, tok.AccessToken)
	if aud, _ := json.Marshal(at["aud"]); string(aud) != `["`+e.issuer+`userinfo"]` {
		t.Errorf("access token aud %s", aud)
	}
	if at["client_id"] != r.cfg.ClientID || at["sub"] != u.UserID || at["scope"] != "openid" || at["iss"] != e.issuer ||
		!strings.HasPrefix(at["jti"].(string), "grt_") {
		t.Errorf("access token claims %v", at)
	}
	if exp := tok.Extra("expires_in"); exp != 86400.0 {
		t.Errorf("expires_in %v", exp)
	}
	if tok.RefreshToken != "" {
		t.Error("refresh token without offline_access")
	}
	if exp := at["exp"].(float64) - at["iat"].(float64); exp != 86400 {
		t.Errorf("access token lifetime %v", exp)
	}
}

// introspectAccess returns what introspection says of an active access
// token of r (a confidential client).
func introspectAccess(t testing.TB, e *env, r *rp, token string) map[string]any {
	t.Helper()
	st, m := e.form(t, "oauth/introspect", url.Values{"token": {token}}, r.cfg.ClientID, r.cfg.ClientSecret)
	if st != 200 || m["active"] != true {
		t.Fatalf("introspection of an access token: %d %v", st, m)
	}
	return m
}

func headerOf(t testing.TB, raw string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(raw, ".")
	return claimsOf(t, "x."+seg+".y")
}

func testClientSecretPost(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	r.cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	tok, claims := r.tokens(t, e.newBrowser(e.newUser(t)), "openid")
	if tok.AccessToken == "" || claims["sub"] == nil {
		t.Errorf("client_secret_post flow: %v", claims)
	}
}

func testResponseTypeMissing(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	res, f := r.login(t, e.newBrowser(e.newUser(t)), "openid", "response_type", "")
	if res.params == nil || res.params.Get("error") != "invalid_request" || res.params.Get("code") != "" || res.params.Get("state") != f.state {
		t.Errorf("missing response_type: %+v", res)
	}
	res, _ = r.login(t, e.newBrowser(e.newUser(t)), "openid", "response_type", "token")
	if res.params.Get("error") != "unsupported_response_type" || res.params.Get("code") != "" {
		t.Errorf("response_type=token: %+v", res)
	}
}

func testRegisteredRedirectURI(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	for _, uri := range []string{"https://evil.example/cb", redirectURI + "/x", redirectURI + "?a=1", "https://RP.example/cb", ""} {
		res, _ := r.login(t, e.newBrowser(e.newUser(t)), "openid", "redirect_uri", uri)
		if res.location != "" || res.status != http.StatusBadRequest || !strings.Contains(res.body, "<html") {
			t.Errorf("redirect_uri %q: redirected to %q (status %d)", uri, res.location, res.status)
		}
	}
	res, _ := r.login(t, e.newBrowser(nil), "openid", "client_id", "nope")
	if res.location != "" || res.status != http.StatusBadRequest {
		t.Errorf("unknown client: %+v", res)
	}
}

func testUserinfoGet(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	tok, _ := r.tokens(t, e.newBrowser(u), "openid email")
	status, m := e.userinfo(t, tok.AccessToken)
	if status != 200 || m["sub"] != u.UserID || m["email"] != *u.Email {
		t.Errorf("userinfo %d %v", status, m)
	}
	// x/oauth2's client (header) is what SDKs use.
	resp, err := r.cfg.Client(context.Background(), tok).Get(e.issuer + "userinfo")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("oauth2 client userinfo: %v %v", err, resp)
	}
	resp.Body.Close()
}

func testUserinfoPostHeader(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	tok, _ := r.tokens(t, e.newBrowser(u), "openid")
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	status, m := e.doJSON(t, req)
	if status != 200 || m["sub"] != u.UserID {
		t.Errorf("POST header userinfo %d %v", status, m)
	}
}

func testUserinfoPostBody(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	tok, _ := r.tokens(t, e.newBrowser(u), "openid")
	status, m := e.form(t, "userinfo", url.Values{"access_token": {tok.AccessToken}}, "", "")
	if status != 200 || m["sub"] != u.UserID {
		t.Errorf("POST body userinfo %d %v", status, m)
	}
	// Query-string tokens and bad tokens are refused.
	status, _ = e.doJSON(t, mustReq(http.MethodGet, e.issuer+"userinfo?access_token="+tok.AccessToken))
	if status != http.StatusBadRequest && status != http.StatusUnauthorized {
		t.Errorf("token in query: %d", status)
	}
	if status, _ := e.userinfo(t, tok.AccessToken+"x"); status != http.StatusUnauthorized {
		t.Errorf("tampered token: %d", status)
	}
	// A client_credentials token (management API) is not a userinfo token.
	m2m := e.client(clients.TypeM2M, "read:users")
	cc := e.post(ccForm(m2m.Client.ClientID, m2m.Secret), "", "")
	ccTok, _ := cc.json(t)["access_token"].(string)
	if status, _ := e.userinfo(t, ccTok); status != http.StatusUnauthorized {
		t.Errorf("management token at userinfo: %d", status)
	}
}

func mustReq(method, u string) *http.Request {
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		panic(err)
	}
	return r
}

// wantClaims lists the standard claims a scope set releases for newUser.
func wantClaims(scope string) []string {
	out := []string{}
	for _, s := range strings.Fields(scope) {
		switch s {
		case "profile":
			out = append(out, "name", "given_name", "family_name", "nickname", "preferred_username", "picture", "updated_at")
		case "email":
			out = append(out, "email", "email_verified")
		case "phone":
			out = append(out, "phone_number", "phone_number_verified")
		}
	}
	sort.Strings(out)
	return out
}

// standardIn returns the standard claims present in m, sorted.
func standardIn(m map[string]any) []string {
	out := []string{}
	for k := range m {
		if standardClaimScope[k] != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func scopeModule(scope string) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		checkScope(t, e, scope)
	}
}

// checkScope logs in with scope and checks the ID token and userinfo carry
// exactly the claims it allows.
func checkScope(t *testing.T, e *env, scope string) {
	t.Helper()
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	tok, idt := r.tokens(t, e.newBrowser(u), scope)
	want := wantClaims(scope)
	if got := standardIn(idt); !slices.Equal(got, want) {
		t.Errorf("scope %q: ID token claims %v, want %v", scope, got, want)
	}
	status, ui := e.userinfo(t, tok.AccessToken)
	if status != 200 {
		t.Fatalf("userinfo %d", status)
	}
	if got := standardIn(ui); !slices.Equal(got, want) {
		t.Errorf("scope %q: userinfo claims %v, want %v", scope, got, want)
	}
	if ui["sub"] != u.UserID || idt["sub"] != u.UserID {
		t.Errorf("sub %v / %v", ui["sub"], idt["sub"])
	}
	if slices.Contains(want, "email") && (ui["email"] != *u.Email || ui["email_verified"] != true) {
		t.Errorf("email claims %v", ui)
	}
	if slices.Contains(want, "name") && (idt["name"] != "Ada Lovelace" || idt["preferred_username"] != *u.Username) {
		t.Errorf("profile claims %v", idt)
	}
	if slices.Contains(want, "phone_number") && ui["phone_number"] != "+15551234567" {
		t.Errorf("phone claims %v", ui)
	}
	for _, m := range []map[string]any{idt, ui} {
		for _, k := range []string{"user_metadata", "app_metadata", "plan", "blocked", "logins_count"} {
			if _, ok := m[k]; ok {
				t.Errorf("claims carry %s", k)
			}
		}
	}
	if strings.Contains(tok.AccessToken, ".") {
		t.Errorf("access token for /userinfo only is a JWT")
	}
	if got := introspectAccess(t, e, r, tok.AccessToken); len(standardIn(got)) > 0 {
		t.Errorf("access token carries profile data: %v", standardIn(got))
	}
}

func testWithoutNonce(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	_, idt := r.tokens(t, e.newBrowser(e.newUser(t)), "openid", "nonce", "")
	if _, ok := idt["nonce"]; ok {
		t.Errorf("nonce without one requested: %v", idt["nonce"])
	}
}

func paramModule(k, v string) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		r := e.newRP(t, clients.TypeRegularWeb)
		_, idt := r.tokens(t, e.newBrowser(e.newUser(t)), "openid", k, v)
		if idt["sub"] == nil {
			t.Errorf("%s=%s: no sub", k, v)
		}
		if k == "ui_locales" {
			if l := e.lastLogin(); l == nil || !slices.Equal(l.UILocales, []string{"se"}) {
				t.Errorf("login page ui_locales %v", l)
			}
		}
	}
}

func testValidPKCE(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	res, f := r.login(t, e.newBrowser(e.newUser(t)), "openid")
	if _, err := r.exchange(res.params.Get("code"), f); err != nil {
		t.Errorf("valid PKCE: %v", err)
	}
	// A wrong verifier fails and consumes the code.
	res, f = r.login(t, e.newBrowser(e.newUser(t)), "openid")
	if _, err := r.exchange(res.params.Get("code"), &flow{verifier: oauth2.GenerateVerifier()}); err == nil {
		t.Error("wrong verifier accepted")
	}
	if _, err := r.exchange(res.params.Get("code"), f); err == nil {
		t.Error("the right verifier after a wrong one was accepted")
	}
}

func testPostRequest(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u, f := r.authURL("openid email")
	parsed, _ := url.Parse(u)
	res := e.newBrowser(e.newUser(t)).authorize(t, http.MethodPost, e.issuer+"authorize", parsed.Query())
	if res.params.Get("code") == "" || res.params.Get("state") != f.state {
		t.Fatalf("POST /authorize: %+v", res)
	}
	if _, err := r.exchange(res.params.Get("code"), f); err != nil {
		t.Error(err)
	}
}

func testLoginHint(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	r.tokens(t, e.newBrowser(u), "openid", "login_hint", *u.Email)
	if l := e.lastLogin(); l == nil || l.LoginHint != *u.Email {
		t.Errorf("login page did not get login_hint: %+v", l)
	}
}

func testClaimsEssential(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	claims := `{"userinfo":{"name":{"essential":true}},"id_token":{"email":null,"auth_time":{"essential":true}}}`
	tok, idt := r.tokens(t, e.newBrowser(u), "openid", "claims", claims)
	_, ui := e.userinfo(t, tok.AccessToken)
	if ui["name"] != "Ada Lovelace" {
		t.Errorf("essential name missing from userinfo: %v", ui)
	}
	if _, ok := ui["email"]; ok {
		t.Errorf("userinfo has email, which only the ID token asked for: %v", ui)
	}
	if idt["email"] != *u.Email || idt["auth_time"] == nil {
		t.Errorf("ID token claims request: %v", idt)
	}
	if _, ok := idt["name"]; ok {
		t.Errorf("ID token has name: %v", idt)
	}
	res, _ := r.login(t, e.newBrowser(u), "openid", "claims", "{not json")
	if res.params.Get("error") != "invalid_request" {
		t.Errorf("malformed claims: %+v", res)
	}
}

func testCodeReuse(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	res, f := r.login(t, e.newBrowser(e.newUser(t)), "openid")
	if _, err := r.exchange(res.params.Get("code"), f); err != nil {
		t.Fatal(err)
	}
	_, err := r.exchange(res.params.Get("code"), f)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("second exchange: %v", err)
	}
	// This node remembers the codes it issued; a code redeemed elsewhere
	// (another node) is still refused here.
	res, f = r.login(t, e.newBrowser(e.newUser(t)), "openid")
	e.db.Ent.AuthRequest.Update().Where(authrequest.CodeHash(hashToken(res.params.Get("code")))).
		SetCodeUsedAt(time.Now()).ExecX(authz.SystemContext(e.ctx))
	if _, err := r.exchange(res.params.Get("code"), f); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("exchange of a code redeemed elsewhere: %v", err)
	}
}

func testCodeReuseRevokes(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	res, f := r.login(t, e.newBrowser(e.newUser(t)), "openid offline_access")
	tok, err := r.exchange(res.params.Get("code"), f)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := e.userinfo(t, tok.AccessToken); status != 200 {
		t.Fatalf("userinfo before reuse: %d", status)
	}
	if _, err := r.exchange(res.params.Get("code"), f); err == nil {
		t.Fatal("code reuse accepted")
	}
	if status, _ := e.userinfo(t, tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("access token of a reused code still works: %d", status)
	}
	if _, err := r.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("refresh token of a reused code still works")
	}
}

func testPromptNoneNotLoggedIn(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	res, f := r.login(t, e.newBrowser(nil), "openid", "prompt", "none")
	if res.params.Get("error") != "login_required" || res.params.Get("state") != f.state || res.sawLogin {
		t.Errorf("prompt=none without a session: %+v", res)
	}
}

func testPromptNoneLoggedIn(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeSPA)
	u := e.newUser(t)
	b := e.newBrowser(nil) // no login possible: only the session can answer
	b.sessionCookie(t, u, time.Minute)
	res, f := r.login(t, b, "openid", "prompt", "none")
	if res.params.Get("code") == "" || res.sawLogin {
		t.Fatalf("prompt=none with a session: %+v", res)
	}
	tok, err := r.exchange(res.params.Get("code"), f)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := r.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil || idt.Subject != u.UserID {
		t.Errorf("ID token from the session: %v %v", err, idt)
	}
	// A session of a blocked user is not a session.
	blocked := e.newUser(t)
	b2 := e.newBrowser(nil)
	b2.sessionCookie(t, blocked, time.Minute)
	e.db.Ent.User.UpdateOne(blocked).SetBlocked(true).ExecX(authz.SystemContext(e.ctx))
	if res, _ := r.login(t, b2, "openid", "prompt", "none"); res.params.Get("error") != "login_required" {
		t.Errorf("blocked user's session: %+v", res)
	}
}

func testIDTokenHint(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	b := e.newBrowser(u)
	tok, _ := r.tokens(t, b, "openid")
	hint := tok.Extra("id_token").(string)
	// Same user's session: silent success.
	b.user = ""
	res, _ := r.login(t, b, "openid", "prompt", "none", "id_token_hint", hint)
	if res.params.Get("code") == "" {
		t.Errorf("id_token_hint + prompt=none: %+v", res)
	}
	// Another user's session: login_required.
	other := e.newBrowser(nil)
	other.sessionCookie(t, e.newUser(t), time.Minute)
	res, _ = r.login(t, other, "openid", "prompt", "none", "id_token_hint", hint)
	if res.params.Get("error") != "login_required" {
		t.Errorf("hint of another user: %+v", res)
	}
	// Without prompt, the login page is told whose hint it is.
	fresh := e.newBrowser(nil)
	res, _ = r.login(t, fresh, "openid", "id_token_hint", hint)
	if !res.sawLogin || e.lastLogin().IDTokenHintSubject != u.UserID {
		t.Errorf("login page hint subject: %+v", e.lastLogin())
	}
	// A forged hint is refused.
	res, _ = r.login(t, fresh, "openid", "id_token_hint", hint[:len(hint)-4]+"AAAA")
	if res.params.Get("error") != "invalid_request" {
		t.Errorf("forged hint: %+v", res)
	}
}

func testPromptLogin(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	b := e.newBrowser(u)
	_, first := r.tokens(t, b, "openid")
	// With a session, a second request is silent...
	res, _ := r.login(t, b, "openid")
	if res.sawLogin || res.params.Get("code") == "" {
		t.Errorf("SSO: %+v", res)
	}
	// ...unless prompt=login, which goes back to the login page.
	time.Sleep(1100 * time.Millisecond)
	_, second := r.tokens(t, b, "openid", "prompt", "login")
	if !slices.Contains(e.lastLogin().Prompt, "login") {
		t.Errorf("login page prompt %v", e.lastLogin().Prompt)
	}
	if second["auth_time"].(float64) <= first["auth_time"].(float64) {
		t.Errorf("prompt=login did not re-authenticate: auth_time %v then %v", first["auth_time"], second["auth_time"])
	}
}

func testMaxAge1(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	b := e.newBrowser(u)
	b.sessionCookie(t, u, 5*time.Second) // authenticated 5 s ago
	res, f := r.login(t, b, "openid", "max_age", "1")
	if !res.sawLogin {
		t.Fatalf("max_age=1 with an older session did not re-authenticate: %+v", res)
	}
	tok, err := r.exchange(res.params.Get("code"), f)
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, tok.Extra("id_token").(string))
	at, _ := c["auth_time"].(float64)
	if time.Since(time.Unix(int64(at), 0)) > 3*time.Second {
		t.Errorf("auth_time %v is not fresh", at)
	}
}

func testMaxAge10000(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	b := e.newBrowser(nil)
	b.sessionCookie(t, u, time.Minute)
	res, f := r.login(t, b, "openid", "max_age", "10000")
	if res.sawLogin || res.params.Get("code") == "" {
		t.Fatalf("max_age=10000: %+v", res)
	}
	tok, err := r.exchange(res.params.Get("code"), f)
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, tok.Extra("id_token").(string))
	if at, _ := c["auth_time"].(float64); time.Since(time.Unix(int64(at), 0)) < 50*time.Second {
		t.Errorf("auth_time %v should be the session's", c["auth_time"])
	}
}

func testRequestObject(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	res, f := r.login(t, e.newBrowser(e.newUser(t)), "openid", "request", "eyJhbGciOiJub25lIn0.eyJzdGF0ZSI6IngifQ.")
	if res.params.Get("error") != "request_not_supported" || res.params.Get("state") != f.state {
		t.Errorf("request object: %+v", res)
	}
	res, _ = r.login(t, e.newBrowser(e.newUser(t)), "openid", "request_uri", "https://rp.example/req")
	if res.params.Get("error") != "request_uri_not_supported" {
		t.Errorf("request_uri: %+v", res)
	}
}

func testRefreshToken(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	tok, first := r.tokens(t, e.newBrowser(u), "openid offline_access email")
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token with offline_access")
	}
	next, err := r.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := next.Extra("id_token").(string)
	idt, err := r.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("refreshed ID token: %v", err)
	}
	var c map[string]any
	_ = idt.Claims(&c)
	for _, k := range []string{"iss", "sub", "aud", "auth_time"} {
		a, _ := json.Marshal(first[k])
		b, _ := json.Marshal(c[k])
		if string(a) != string(b) {
			t.Errorf("refresh changed %s: %s → %s", k, a, b)
		}
	}
	if c["email"] != *u.Email {
		t.Errorf("refreshed ID token claims %v", c)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
		t.Error("refresh token not rotated")
	}
	if status, _ := e.userinfo(t, next.AccessToken); status != 200 {
		t.Errorf("refreshed access token at userinfo: %d", status)
	}
}

func testFlowDiscovery(t *testing.T, e *env) {
	status, doc := e.doJSON(t, mustReq(http.MethodGet, e.issuer+".well-known/openid-configuration"))
	if status != 200 {
		t.Fatal(status)
	}
	want := map[string]string{
		"authorization_endpoint":           e.issuer + "authorize",
		"userinfo_endpoint":                e.issuer + "userinfo",
		"revocation_endpoint":              e.issuer + "oauth/revoke",
		"introspection_endpoint":           e.issuer + "oauth/introspect",
		"end_session_endpoint":             e.issuer + "oidc/logout",
		"response_types_supported":         `["code"]`,
		"response_modes_supported":         `["query","form_post"]`,
		"grant_types_supported":            `["authorization_code","refresh_token","client_credentials"]`,
		"code_challenge_methods_supported": `["S256"]`,
		"scopes_supported":                 `["openid","profile","email","phone","address","offline_access"]`,
		"claims_parameter_supported":       "true",
		"request_parameter_supported":      "false",
		"request_uri_parameter_supported":  "false",
	}
	for k, v := range want {
		got, _ := json.Marshal(doc[k])
		if string(got) != v && doc[k] != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
}

func testFormPost(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeSPA)
	res, f := r.login(t, e.newBrowser(e.newUser(t)), "openid", "response_mode", "form_post")
	if !res.formPost || res.params.Get("code") == "" || res.params.Get("state") != f.state {
		t.Fatalf("form_post: %+v", res)
	}
	if _, err := r.exchange(res.params.Get("code"), f); err != nil {
		t.Error(err)
	}
	res, _ = r.login(t, e.newBrowser(nil), "openid", "response_mode", "form_post", "prompt", "none")
	if !res.formPost || res.params.Get("error") != "login_required" {
		t.Errorf("form_post error: %+v", res)
	}
	res, _ = r.login(t, e.newBrowser(nil), "openid", "response_mode", "fragment")
	if res.params.Get("error") != "invalid_request" {
		t.Errorf("response_mode=fragment: %+v", res)
	}
}

func testPKCE(t *testing.T, e *env) {
	for _, typ := range []string{clients.TypeSPA, clients.TypeNative} {
		r := e.newRP(t, typ)
		// Required for public clients.
		res, _ := r.login(t, e.newBrowser(e.newUser(t)), "openid", "code_challenge", "", "code_challenge_method", "")
		if res.params.Get("error") != "invalid_request" || res.sawLogin {
			t.Errorf("%s without PKCE: %+v", typ, res)
		}
		// plain is refused (explicit, or by omitting the method).
		for _, m := range []string{"plain", ""} {
			v := oauth2.GenerateVerifier()
			res, _ = r.login(t, e.newBrowser(e.newUser(t)), "openid", "code_challenge", v, "code_challenge_method", m)
			if res.params.Get("error") != "invalid_request" {
				t.Errorf("%s with method %q: %+v", typ, m, res)
			}
		}
		// S256 works; a wrong or missing verifier fails (and consumes
		// the code).
		res, f := r.login(t, e.newBrowser(e.newUser(t)), "openid")
		if _, err := r.exchange(res.params.Get("code"), &flow{verifier: oauth2.GenerateVerifier()}); err == nil {
			t.Errorf("%s: wrong verifier accepted", typ)
		}
		res, f = r.login(t, e.newBrowser(e.newUser(t)), "openid")
		if _, err := r.exchange(res.params.Get("code"), &flow{}); err == nil {
			t.Errorf("%s: missing verifier accepted", typ)
		}
		res, f = r.login(t, e.newBrowser(e.newUser(t)), "openid")
		if _, err := r.exchange(res.params.Get("code"), f); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	// A confidential client may skip PKCE, but a verifier without a
	// challenge is refused (downgrade).
	r := e.newRP(t, clients.TypeRegularWeb)
	res, _ := r.login(t, e.newBrowser(e.newUser(t)), "openid", "code_challenge", "", "code_challenge_method", "")
	if _, err := r.exchange(res.params.Get("code"), &flow{verifier: oauth2.GenerateVerifier()}); err == nil {
		t.Error("verifier without challenge accepted")
	}
	res, _ = r.login(t, e.newBrowser(e.newUser(t)), "openid", "code_challenge", "", "code_challenge_method", "")
	if _, err := r.exchange(res.params.Get("code"), nil); err != nil {
		t.Errorf("confidential client without PKCE: %v", err)
	}
}

func testRedirectURIMismatch(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	res, f := r.login(t, e.newBrowser(e.newUser(t)), "openid")
	cfg := r.cfg
	cfg.RedirectURL = "https://rp.example/other"
	_, err := cfg.Exchange(context.Background(), res.params.Get("code"), oauth2.VerifierOption(f.verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("redirect_uri mismatch at the token endpoint: %v", err)
	}
}

func testClientAuthMethods(t *testing.T, e *env) {
	web := e.newRP(t, clients.TypeRegularWeb)
	spa := e.newRP(t, clients.TypeSPA)
	code := func(r *rp) (string, *flow) {
		res, f := r.login(t, e.newBrowser(e.newUser(t)), "openid")
		return res.params.Get("code"), f
	}
	// A confidential client without its secret.
	c, f := code(web)
	st, m := e.form(t, "oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {c}, "client_id": {web.cfg.ClientID},
		"redirect_uri": {redirectURI}, "code_verifier": {f.verifier}}, "", "")
	if st != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Errorf("confidential without secret: %d %v", st, m)
	}
	// Wrong secret.
	st, m = e.form(t, "oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {c},
		"redirect_uri": {redirectURI}, "code_verifier": {f.verifier}}, web.cfg.ClientID, "wrong")
	if st != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", st, m)
	}
	// A public client presenting a secret.
	c, f = code(spa)
	st, m = e.form(t, "oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {c},
		"redirect_uri": {redirectURI}, "code_verifier": {f.verifier}}, spa.cfg.ClientID, "some-secret")
	if st != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Errorf("public client with a secret: %d %v", st, m)
	}
	// Another client redeeming the code.
	other := e.newRP(t, clients.TypeSPA)
	st, m = e.form(t, "oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {c}, "client_id": {other.cfg.ClientID},
		"redirect_uri": {redirectURI}, "code_verifier": {f.verifier}}, "", "")
	if st != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("code of another client: %d %v", st, m)
	}
	// An m2m client may not use the code flow at all.
	m2m := e.client(clients.TypeM2M, "read:users")
	e.db.Ent.Application.UpdateOne(m2m.Client).SetRedirectUris([]string{redirectURI}).ExecX(authz.SystemContext(e.ctx))
	res := e.newBrowser(nil).authorize(t, http.MethodGet, e.issuer+"authorize?"+url.Values{"client_id": {m2m.Client.ClientID},
		"redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"}}.Encode(), nil)
	if res.params.Get("error") != "unauthorized_client" {
		t.Errorf("m2m code flow: %+v", res)
	}
}

func testScopeMatrix(t *testing.T, e *env) {
	for _, scope := range []string{"openid", "openid profile", "openid email", "openid phone", "openid profile email phone",
		"openid offline_access", "openid profile email phone address offline_access"} {
		t.Run(strings.ReplaceAll(scope, " ", "+"), func(t *testing.T) {
			checkScope(t, e, scope)
			r := e.newRP(t, clients.TypeSPA)
			tok, _ := r.tokens(t, e.newBrowser(e.newUser(t)), scope)
			if got := tok.RefreshToken != ""; got != strings.Contains(scope, "offline_access") {
				t.Errorf("refresh token issued = %v", got)
			}
			if tok.Extra("scope") != scope {
				t.Errorf("granted scope %q", tok.Extra("scope"))
			}
		})
	}
	// Unknown scopes are dropped; a client without the refresh_token grant
	// gets no refresh token.
	r := e.newRP(t, clients.TypeRegularWeb)
	e.db.Ent.Application.UpdateOne(r.c.Client).SetGrantTypes([]string{"authorization_code"}).ExecX(authz.SystemContext(e.ctx))
	tok, _ := r.tokens(t, e.newBrowser(e.newUser(t)), "openid offline_access read:users something")
	if tok.RefreshToken != "" || tok.Extra("scope") != "openid" {
		t.Errorf("scope %q refresh %v", tok.Extra("scope"), tok.RefreshToken != "")
	}
}

func testRefreshReuse(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeSPA)
	u := e.newUser(t)
	tok, _ := r.tokens(t, e.newBrowser(u), "openid offline_access")
	refresh := func(rt string) (*oauth2.Token, error) {
		return r.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
	}
	t1, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := refresh(t1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// Reusing the first (rotated) token revokes the whole family.
	_, err = refresh(tok.RefreshToken)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("reuse: %v", err)
	}
	if _, err := refresh(t2.RefreshToken); err == nil {
		t.Error("the newest refresh token survived reuse of an old one")
	}
	if status, _ := e.userinfo(t, t2.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("access token survived refresh-token reuse: %d", status)
	}
	n, err := e.db.Ent.LogEvent.Query().Where(logevent.Type("ferrt"), logevent.UserID(u.UserID), logevent.ClientID(r.cfg.ClientID)).
		Count(authz.SystemContext(e.ctx))
	if err != nil || n != 1 {
		t.Errorf("ferrt log events: %d %v", n, err)
	}
	g, err := e.db.Ent.Grant.Query().Where(grant.UserRef(u.ID)).Only(authz.SystemContext(e.ctx))
	if err != nil || g.RevokedReason != ReasonRefreshTokenReuse {
		t.Errorf("grant %v %v", g, err)
	}
	// Another client cannot use the token; scope may narrow but not widen.
	tok, _ = r.tokens(t, e.newBrowser(u), "openid offline_access email")
	other := e.newRP(t, clients.TypeSPA)
	if _, err := other.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("refresh token of another client accepted")
	}
	st, m := e.form(t, "oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {r.cfg.ClientID}, "scope": {"openid profile"}}, "", "")
	if st != http.StatusBadRequest || m["error"] != "invalid_scope" {
		t.Errorf("widening scope: %d %v", st, m)
	}
	st, m = e.form(t, "oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {r.cfg.ClientID}, "scope": {"openid"}}, "", "")
	if st != 200 || m["scope"] != "openid" {
		t.Errorf("narrowing scope: %d %v", st, m)
	}
	// Idle expiry (per-client override of 1 s).
	e.db.Ent.Application.UpdateOne(r.c.Client).SetRefreshTokenIdleLifetime(1).ExecX(authz.SystemContext(e.ctx))
	r.c.Client.RefreshTokenIdleLifetime = 1
	tok, _ = r.tokens(t, e.newBrowser(u), "openid offline_access")
	time.Sleep(1100 * time.Millisecond)
	if _, err := refresh(tok.RefreshToken); err == nil {
		t.Error("idle-expired refresh token accepted")
	}
}

// testBlockedBeforeExchange: a user blocked or deleted between the code
// and its exchange gets no tokens, and the code is not burnt as reused.
func testBlockedBeforeExchange(t *testing.T, e *env) {
	sys := authz.SystemContext(e.ctx)
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	res, f := r.login(t, e.newBrowser(u), "openid")
	e.db.Ent.User.UpdateOne(u).SetBlocked(true).ExecX(sys)
	var re *oauth2.RetrieveError
	if _, err := r.exchange(res.params.Get("code"), f); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" ||
		re.ErrorDescription != "user is blocked" {
		t.Errorf("exchange for a blocked user: %v", err)
	}
	e.db.Ent.User.UpdateOne(u).SetBlocked(false).ExecX(sys)
	if n := e.db.Ent.Grant.Query().Where(grant.UserRef(u.ID)).CountX(sys); n != 0 {
		t.Errorf("%d grants for a code refused", n)
	}
	d := e.newUser(t)
	res, f = r.login(t, e.newBrowser(d), "openid")
	e.db.Ent.User.DeleteOne(d).ExecX(sys)
	if _, err := r.exchange(res.params.Get("code"), f); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" ||
		re.ErrorDescription != "the user no longer exists" {
		t.Errorf("exchange for a deleted user: %v", err)
	}
}

func testBlockedUser(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	tok, _ := r.tokens(t, e.newBrowser(u), "openid offline_access")
	e.db.Ent.User.UpdateOne(u).SetBlocked(true).ExecX(authz.SystemContext(e.ctx))
	_, err := r.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("blocked user refresh: %v", err)
	}
	if status, _ := e.userinfo(t, tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("blocked user userinfo: %d", status)
	}
	// A blocked user's login is refused by the provider too.
	res, _ := r.login(t, e.newBrowser(u), "openid")
	if res.params.Get("error") != "unauthorized" || res.params.Get("error_description") != "user is blocked" {
		t.Errorf("blocked login: %+v", res)
	}
	// Deleted users cannot refresh either.
	d := e.newUser(t)
	tok, _ = r.tokens(t, e.newBrowser(d), "openid offline_access")
	e.db.Ent.User.DeleteOne(d).ExecX(authz.SystemContext(e.ctx))
	if _, err := r.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("deleted user refreshed")
	}
}

func testRevokeUserGrants(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	b := e.newBrowser(u)
	tok, _ := r.tokens(t, b, "openid offline_access")
	mgmt, _ := r.tokens(t, b, "openid "+authz.ScopeReadCurrentUser, "audience", authz.ManagementAudience(e.issuer))
	if _, err := e.provider.Verifier().Verify(e.ctx, mgmt.AccessToken); err != nil {
		t.Fatalf("management token before revocation: %v", err)
	}
	if err := identity.RevokeAccess(e.ctx, e.db.Ent, u.ID, identity.RevokePasswordChanged); err != nil {
		t.Fatal(err)
	}
	if _, err := r.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("refresh after identity.RevokeAccess")
	}
	if status, _ := e.userinfo(t, tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("userinfo after identity.RevokeAccess: %d", status)
	}
	e.provider.Verifier().grants.forget() // another node's revocation, cache expired
	if _, err := e.provider.Verifier().Verify(e.ctx, mgmt.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("management token after revocation: %v", err)
	}
	// The SSO session is gone too.
	if res, _ := r.login(t, b, "openid", "prompt", "none"); res.params.Get("error") != "login_required" {
		t.Errorf("session after identity.RevokeAccess: %+v", res)
	}
}

func testUserAudience(t *testing.T, e *env) {
	sys := authz.SystemContext(e.ctx)
	api := e.db.Ent.ResourceServer.Create().SetIdentifier("https://api.example.com/").SetName("API").
		SetScopes([]map[string]string{{"value": "read:things", "description": "r"}, {"value": "write:things", "description": "w"}}).
		SetTokenLifetime(600).SaveX(sys)
	r := e.newRP(t, clients.TypeSPA)
	u := e.newUser(t)
	b := e.newBrowser(u)
	tok, idt := r.tokens(t, b, "openid email read:things delete:things offline_access", "audience", api.Identifier)
	at := claimsOf(t, tok.AccessToken)
	aud, _ := json.Marshal(at["aud"])
	if string(aud) != `["https://api.example.com/","`+e.issuer+`userinfo"]` {
		t.Errorf("aud %s", aud)
	}
	if at["scope"] != "openid email read:things" || tok.RefreshToken != "" {
		t.Errorf("scope %v (offline_access must need allow_offline_access), refresh %v", at["scope"], tok.RefreshToken != "")
	}
	if exp := at["exp"].(float64) - at["iat"].(float64); exp != 600 {
		t.Errorf("API token lifetime %v", exp)
	}
	if standardIn(at) != nil && len(standardIn(at)) > 0 {
		t.Errorf("API token carries profile data %v", at)
	}
	if idt["aud"] != r.cfg.ClientID {
		t.Errorf("ID token aud %v", idt["aud"])
	}
	// allow_offline_access lets offline_access through.
	api.Update().SetAllowOfflineAccess(true).ExecX(sys)
	tok, _ = r.tokens(t, b, "openid read:things offline_access", "audience", api.Identifier)
	if tok.RefreshToken == "" {
		t.Error("no refresh token for an API allowing offline access")
	}
	next, err := r.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := json.Marshal(claimsOf(t, next.AccessToken)["aud"]); string(a) != string(aud) {
		t.Errorf("refresh changed aud: %s", a)
	}
	// Unknown audiences are refused.
	res, _ := r.login(t, b, "openid", "audience", "https://unknown.example/")
	if res.params.Get("error") != "invalid_target" {
		t.Errorf("unknown audience: %+v", res)
	}
	// Management API: only the self-service scopes, verified by Verifier.
	tok, _ = r.tokens(t, b, "openid read:current_user update:current_user_metadata read:users", "audience", authz.ManagementAudience(e.issuer))
	v, err := e.provider.Verifier().Verify(e.ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if v.Subject != u.UserID || !slices.Equal(v.Scopes, []string{"openid", "read:current_user", "update:current_user_metadata"}) {
		t.Errorf("management viewer %+v", v)
	}
	// Without an audience the token is good only at /userinfo.
	tok, _ = r.tokens(t, b, "openid")
	if _, err := e.provider.Verifier().Verify(e.ctx, tok.AccessToken); !errors.Is(err, ErrTokenAudience) {
		t.Errorf("userinfo-only token at the management API: %v", err)
	}
	// An API access token without openid is not a userinfo token.
	tok, _ = r.tokens(t, b, "read:things", "audience", api.Identifier)
	if status, _ := e.userinfo(t, tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("API-only token at userinfo: %d", status)
	}
}

func testClaimsHook(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	e.hook.Store(ClaimsHook(func(_ context.Context, ev *ClaimsEvent) (*CustomClaims, error) {
		if ev.Client.ClientID != r.cfg.ClientID {
			return nil, nil
		}
		if ev.User.Nickname != nil && *ev.User.Nickname == "deny-me" {
			return nil, &DenyError{Reason: "not today"}
		}
		return &CustomClaims{
			IDToken:     map[string]any{"https://ns.example/plan": "gold", "email": "spoof@x", "sub": "spoof", "https://auth0.com/x": 1, "proto": ev.Protocol},
			AccessToken: map[string]any{"https://ns.example/roles": []string{"admin"}, "scope": "everything"},
		}, nil
	}))
	defer e.hook.Store(ClaimsHook(nil))
	tok, idt := r.tokens(t, e.newBrowser(u), "openid offline_access")
	if idt["https://ns.example/plan"] != "gold" || idt["sub"] != u.UserID || idt["proto"] != ProtocolOIDCBasicProfile {
		t.Errorf("ID token custom claims %v", idt)
	}
	for _, k := range []string{"email", "https://auth0.com/x"} {
		if _, ok := idt[k]; ok {
			t.Errorf("hook set %s", k)
		}
	}
	// With custom access token claims, even the /userinfo-only access token
	// is a JWT that carries them (without, it is opaque: testServer).
	at := claimsOf(t, tok.AccessToken)
	if at["scope"] != "openid offline_access" || at["https://ns.example/roles"] == nil {
		t.Errorf("access token custom claims %v", at)
	}
	if at := introspectAccess(t, e, r, tok.AccessToken); at["scope"] != "openid offline_access" {
		t.Errorf("access token scope %v", at["scope"])
	}
	api := e.db.Ent.ResourceServer.Create().SetIdentifier("https://claims.example.com/").SetName("claims API").
		SetTokenLifetime(600).SaveX(authz.SystemContext(e.ctx))
	apiTok, _ := r.tokens(t, e.newBrowser(u), "openid", "audience", api.Identifier)
	if at := claimsOf(t, apiTok.AccessToken); at["scope"] != "openid" || at["https://ns.example/roles"] == nil {
		t.Errorf("API access token custom claims %v", at)
	}
	next, err := r.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if c := claimsOf(t, next.Extra("id_token").(string)); c["proto"] != ProtocolRefreshToken {
		t.Errorf("refresh hook protocol %v", c["proto"])
	}
	d := e.newUser(t)
	e.db.Ent.User.UpdateOne(d).SetNickname("deny-me").ExecX(authz.SystemContext(e.ctx))
	res, _ := r.login(t, e.newBrowser(d), "openid")
	if res.params.Get("error") != "access_denied" || res.params.Get("error_description") != "not today" {
		t.Errorf("hook deny: %+v", res)
	}
}

func testRevocation(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	tok, _ := r.tokens(t, e.newBrowser(u), "openid offline_access")
	// Another client's revocation has no effect (and answers 200).
	other := e.newRP(t, clients.TypeRegularWeb)
	if st, _ := e.form(t, "oauth/revoke", url.Values{"token": {tok.RefreshToken}}, other.cfg.ClientID, other.cfg.ClientSecret); st != 200 {
		t.Errorf("foreign revoke: %d", st)
	}
	if st, _ := e.userinfo(t, tok.AccessToken); st != 200 {
		t.Errorf("foreign revoke took effect: %d", st)
	}
	if st, _ := e.form(t, "oauth/revoke", url.Values{"token": {"garbage"}}, r.cfg.ClientID, r.cfg.ClientSecret); st != 200 {
		t.Errorf("unknown token: %d", st)
	}
	if st, m := e.form(t, "oauth/revoke", url.Values{"token": {tok.RefreshToken}}, r.cfg.ClientID, "wrong"); st != 401 || m["error"] != "invalid_client" {
		t.Errorf("revoke with a wrong secret: %d %v", st, m)
	}
	if st, _ := e.form(t, "oauth/revoke", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}, r.cfg.ClientID, r.cfg.ClientSecret); st != 200 {
		t.Errorf("revoke: %d", st)
	}
	if _, err := r.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("revoked refresh token works")
	}
	if st, _ := e.userinfo(t, tok.AccessToken); st != 401 {
		t.Errorf("access token of a revoked grant: %d", st)
	}
	// Revoking an access token revokes its grant (public client).
	spa := e.newRP(t, clients.TypeSPA)
	tok, _ = spa.tokens(t, e.newBrowser(u), "openid offline_access")
	if st, _ := e.form(t, "oauth/revoke", url.Values{"token": {tok.AccessToken}, "client_id": {spa.cfg.ClientID}}, "", ""); st != 200 {
		t.Errorf("revoke access token: %d", st)
	}
	if st, _ := e.userinfo(t, tok.AccessToken); st != 401 {
		t.Errorf("revoked access token at userinfo: %d", st)
	}
}

func testIntrospection(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	tok, _ := r.tokens(t, e.newBrowser(u), "openid offline_access")
	introspect := func(token, id, secret string) (int, map[string]any) {
		return e.form(t, "oauth/introspect", url.Values{"token": {token}}, id, secret)
	}
	st, m := introspect(tok.AccessToken, r.cfg.ClientID, r.cfg.ClientSecret)
	if st != 200 || m["active"] != true || m["sub"] != u.UserID || m["client_id"] != r.cfg.ClientID || m["scope"] != "openid offline_access" {
		t.Errorf("access token: %d %v", st, m)
	}
	st, m = introspect(tok.RefreshToken, r.cfg.ClientID, r.cfg.ClientSecret)
	if st != 200 || m["active"] != true || m["sub"] != u.UserID {
		t.Errorf("refresh token: %d %v", st, m)
	}
	other := e.newRP(t, clients.TypeRegularWeb)
	if _, m := introspect(tok.RefreshToken, other.cfg.ClientID, other.cfg.ClientSecret); m["active"] != false {
		t.Errorf("another client's refresh token: %v", m)
	}
	if _, m := introspect(tok.Extra("id_token").(string), r.cfg.ClientID, r.cfg.ClientSecret); m["active"] != false {
		t.Errorf("ID token introspected as active: %v", m)
	}
	if _, m := introspect("nope", r.cfg.ClientID, r.cfg.ClientSecret); m["active"] != false || len(m) != 1 {
		t.Errorf("garbage: %v", m)
	}
	if st, _ := introspect(tok.AccessToken, "", ""); st != 401 {
		t.Errorf("unauthenticated introspection: %d", st)
	}
	spa := e.newRP(t, clients.TypeSPA)
	if st, _ := e.form(t, "oauth/introspect", url.Values{"token": {tok.AccessToken}, "client_id": {spa.cfg.ClientID}}, "", ""); st != 401 {
		t.Errorf("public client introspection: %d", st)
	}
	if err := identity.RevokeAccess(e.ctx, e.db.Ent, u.ID, identity.RevokeUserBlocked); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{tok.AccessToken, tok.RefreshToken} {
		if _, m := introspect(tk, r.cfg.ClientID, r.cfg.ClientSecret); m["active"] != false {
			t.Errorf("revoked token active: %v", m)
		}
	}
}

func testEndSession(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	b := e.newBrowser(u)
	online, _ := r.tokens(t, b, "openid")
	offline, _ := r.tokens(t, b, "openid offline_access")
	hint := online.Extra("id_token").(string)
	get := func(q url.Values) *http.Response {
		resp, err := b.hc.Get(e.issuer + "oidc/logout?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// An unregistered post_logout_redirect_uri: error page, no redirect,
	// session intact.
	resp := get(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/"}})
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("unregistered post_logout_redirect_uri: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Without a client there is no redirect at all.
	resp = get(url.Values{"post_logout_redirect_uri": {logoutURI}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("post_logout_redirect_uri without a client: %d", resp.StatusCode)
	}
	b.user = ""
	if res, _ := r.login(t, b, "openid", "prompt", "none"); res.params.Get("code") == "" {
		t.Fatalf("session ended by a refused logout: %+v", res)
	}
	// Without id_token_hint: a confirmation page, no logout.
	resp = get(url.Values{"client_id": {r.cfg.ClientID}})
	if resp.StatusCode != 200 {
		t.Errorf("confirmation page: %d", resp.StatusCode)
	}
	if res, _ := r.login(t, b, "openid", "prompt", "none"); res.params.Get("code") == "" {
		t.Fatalf("session ended without confirmation: %+v", res)
	}
	// A forged confirmation is refused.
	pr, _ := http.NewRequest(http.MethodPost, e.issuer+"oidc/logout", strings.NewReader(url.Values{"confirm": {"1"}, "csrf": {"x"}}.Encode()))
	pr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := b.hc.Do(pr); err == nil {
		resp.Body.Close()
	}
	if res, _ := r.login(t, b, "openid", "prompt", "none"); res.params.Get("code") == "" {
		t.Fatalf("session ended by a forged confirmation: %+v", res)
	}
	// The real logout.
	resp = get(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {logoutURI}, "state": {"s1"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != logoutURI+"?state=s1" {
		t.Errorf("logout redirect: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if res, _ := r.login(t, b, "openid", "prompt", "none"); res.params.Get("error") != "login_required" {
		t.Errorf("session survived logout: %+v", res)
	}
	if st, _ := e.userinfo(t, online.AccessToken); st != 401 {
		t.Errorf("online grant survived logout: %d", st)
	}
	if _, err := r.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: offline.RefreshToken}).Token(); err != nil {
		t.Errorf("offline grant should survive logout: %v", err)
	}
}

func testCORS(t *testing.T, e *env) {
	e.newRP(t, clients.TypeSPA) // registers rpOrigin
	for _, path := range []string{"oauth/token", "userinfo"} {
		for origin, allowed := range map[string]bool{rpOrigin: true, "https://evil.example": false, "null": false} {
			req, _ := http.NewRequest(http.MethodOptions, e.issuer+path, nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			acao := resp.Header.Get("Access-Control-Allow-Origin")
			if allowed && (resp.StatusCode != http.StatusNoContent || acao != origin || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST")) {
				t.Errorf("%s preflight from %s: %d %q", path, origin, resp.StatusCode, acao)
			}
			if !allowed && (acao != "" || resp.StatusCode == http.StatusNoContent) {
				t.Errorf("%s preflight from %s allowed: %d %q", path, origin, resp.StatusCode, acao)
			}
			if acao == "*" {
				t.Error("wildcard origin")
			}
		}
	}
	// An actual request from the registered origin gets the header; from
	// another it does not.
	for origin, want := range map[string]string{rpOrigin: rpOrigin, "https://evil.example": ""} {
		req, _ := http.NewRequest(http.MethodPost, e.tokenURL, strings.NewReader("grant_type=refresh_token&refresh_token=x&client_id=y"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("token POST from %s: ACAO %q", origin, got)
		}
	}
}

func testLoginHandoff(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeSPA)
	u := e.newUser(t)
	// The login page is told the request; a user without a login header sees
	// the form.
	b := e.newBrowser(nil)
	res, _ := r.login(t, b, "openid email", "connection", "Username-Password-Authentication", "login_hint", "x@example.com",
		"max_age", "300", "audience", authz.ManagementAudience(e.issuer))
	if !res.sawLogin || res.status != 200 {
		t.Fatalf("login page not shown: %+v", res)
	}
	req := e.lastLogin()
	if req.ClientID != r.cfg.ClientID || req.ClientType != "spa" || req.Connection != "Username-Password-Authentication" ||
		req.LoginHint != "x@example.com" || req.MaxAge == nil || *req.MaxAge != 300 || !slices.Equal(req.Scopes, []string{"openid", "email"}) ||
		!slices.Equal(req.Audience, []string{authz.ManagementAudience(e.issuer)}) || req.RedirectURI != redirectURI {
		t.Errorf("login request %+v", req)
	}
	// Fail sends the error to the client; the request is then finished.
	b.header.Set("X-Test-Fail", "access_denied")
	res, f := r.login(t, b, "openid")
	if res.params.Get("error") != "access_denied" || res.params.Get("state") != f.state {
		t.Errorf("Fail: %+v", res)
	}
	id := e.lastLogin().ID
	if _, err := e.provider.Request(e.ctx, id); err == nil {
		t.Error("a failed request is still pending")
	}
	// Completing twice does not issue a second code.
	b = e.newBrowser(u)
	res, _ = r.login(t, b, "openid")
	id = e.lastLogin().ID
	if res.params.Get("code") == "" {
		t.Fatal(res)
	}
	resp, err := b.hc.Do(withHeader(mustReq(http.MethodGet, e.provider.LoginURL(id)), "X-Test-User", string(u.ID)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("second completion: %d", resp.StatusCode)
	}
	if _, err := e.provider.Request(e.ctx, "arq_nope"); err == nil {
		t.Error("unknown request found")
	}
	// This node keeps the requests it created in memory; a request finished
	// elsewhere (another node) still cannot be completed here.
	res, _ = r.login(t, e.newBrowser(nil), "openid")
	other := e.lastLogin().ID
	if !res.sawLogin || res.status != 200 {
		t.Fatalf("login page not shown: %+v", res)
	}
	e.db.Ent.AuthRequest.UpdateOneID(pulid.ID(other)).SetDone(true).ExecX(authz.SystemContext(e.ctx))
	resp, err = e.newBrowser(u).hc.Do(withHeader(mustReq(http.MethodGet, e.provider.LoginURL(other)), "X-Test-User", string(u.ID)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("completing a request finished elsewhere: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Auth requests live in the database with a 30-minute expiry and a
	// hashed code.
	ar := e.db.Ent.AuthRequest.GetX(authz.SystemContext(e.ctx), pulid.ID(id))
	if d := time.Until(ar.ExpiresAt); d < 29*time.Minute || d > 31*time.Minute {
		t.Errorf("auth request expiry in %v", d)
	}
	if ar.CodeHash == nil || *ar.CodeHash == res.params.Get("code") {
		t.Error("code not stored as a hash")
	}
}

func withHeader(r *http.Request, k, v string) *http.Request {
	r.Header.Set(k, v)
	return r
}
