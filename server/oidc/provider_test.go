package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/internal/testenv"
)

func TestProvider(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b.dsn(t), "")
			t.Run("discovery", func(t *testing.T) { testDiscovery(t, e) })
			t.Run("client_credentials", func(t *testing.T) { testClientCredentials(t, e) })
			t.Run("scopes", func(t *testing.T) { testScopes(t, e) })
			t.Run("audience", func(t *testing.T) { testAudience(t, e) })
			t.Run("client_authentication", func(t *testing.T) { testClientAuthentication(t, e) })
			t.Run("client_types", func(t *testing.T) { testClientTypes(t, e) })
			t.Run("request_shape", func(t *testing.T) { testRequestShape(t, e) })
			t.Run("rotation", func(t *testing.T) { testRotation(t, e) })
		})
	}
}

func testDiscovery(t *testing.T, e *env) {
	ctx := context.Background()
	p, err := gooidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	if got := p.Endpoint().TokenURL; got != e.issuer+"oauth/token" {
		t.Errorf("token endpoint %q", got)
	}
	var doc map[string]any
	if err := p.Claims(&doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer":                                e.issuer,
		"jwks_uri":                              e.issuer + ".well-known/jwks.json",
		"grant_types_supported":                 []any{"authorization_code", "refresh_token", "client_credentials"},
		"token_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post", "none"},
		"id_token_signing_alg_values_supported": []any{"RS256"},
	}
	for k, v := range want {
		got, _ := json.Marshal(doc[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			t.Errorf("discovery %s = %s, want %s", k, got, exp)
		}
	}
	scopes, _ := json.Marshal(doc["scopes_supported"])
	wantScopes, _ := json.Marshal([]string{"openid", "profile", "email", "phone", "address", "offline_access"})
	if string(scopes) != string(wantScopes) {
		t.Errorf("scopes_supported = %s, want %s", scopes, wantScopes)
	}
	for _, absent := range []string{"device_authorization_endpoint", "registration_endpoint",
		"request_object_signing_alg_values_supported", "check_session_iframe", "pushed_authorization_request_endpoint"} {
		if _, ok := doc[absent]; ok {
			t.Errorf("discovery advertises %s, which is not implemented", absent)
		}
	}
	// Unimplemented op endpoints are not served.
	for _, path := range []string{"revoke", "end_session", "keys", "introspect", "oauth/introspect/x", "healthz", "device_authorization",
		"oauth/device/code", "oauth/v2/authorize", "authorize/callback"} {
		resp, err := http.Get(e.issuer + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /%s = %d, want 404", path, resp.StatusCode)
		}
	}
}

// fetch gets a token through x/oauth2's client_credentials client.
func fetch(t *testing.T, e *env, id, secret string, style oauth2.AuthStyle, scopes ...string) *oauth2.Token {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.tokenURL, Scopes: scopes, AuthStyle: style}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatalf("client_credentials (style %d): %v", style, err)
	}
	return tok
}

func testClientCredentials(t *testing.T, e *env) {
	c := e.client(clients.TypeM2M, "read:users", "update:users")
	ctx := context.Background()
	gp, err := gooidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	viaDiscovery := gp.Verifier(&gooidc.Config{ClientID: authz.ManagementAudience(e.issuer)})
	viaJWKS := gooidc.NewVerifier(e.issuer, gooidc.NewRemoteKeySet(ctx, e.issuer+".well-known/jwks.json"),
		&gooidc.Config{ClientID: authz.ManagementAudience(e.issuer)})

	for name, style := range map[string]oauth2.AuthStyle{"basic": oauth2.AuthStyleInHeader, "post": oauth2.AuthStyleInParams} {
		t.Run(name, func(t *testing.T) {
			before := time.Now().Unix()
			tok := fetch(t, e, c.Client.ClientID, c.Secret, style)
			if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
				t.Errorf("token type %q expiry %v", tok.TokenType, tok.Expiry)
			}
			if got := tok.Extra("scope"); got != "read:users update:users" {
				t.Errorf("response scope %v", got)
			}
			for what, v := range map[string]*gooidc.IDTokenVerifier{"discovery": viaDiscovery, "jwks": viaJWKS} {
				if _, err := v.Verify(ctx, tok.AccessToken); err != nil {
					t.Errorf("go-oidc (%s) rejects the token: %v", what, err)
				}
			}
			viewer, err := e.provider.Verifier().Verify(ctx, tok.AccessToken)
			if err != nil {
				t.Fatalf("Verifier: %v", err)
			}
			if viewer.Subject != c.Client.ClientID+"@clients" || viewer.ClientID != c.Client.ClientID ||
				!slices.Equal(viewer.Scopes, []string{"read:users", "update:users"}) {
				t.Errorf("viewer %+v", viewer)
			}
			cl := claimsOf(t, tok.AccessToken)
			want := map[string]any{
				"iss":       e.issuer,
				"sub":       c.Client.ClientID + "@clients",
				"aud":       []any{authz.ManagementAudience(e.issuer)},
				"azp":       c.Client.ClientID,
				"client_id": c.Client.ClientID,
				"gty":       "client-credentials",
				"scope":     "read:users update:users",
			}
			for k, v := range want {
				got, _ := json.Marshal(cl[k])
				exp, _ := json.Marshal(v)
				if string(got) != string(exp) {
					t.Errorf("claim %s = %s, want %s", k, got, exp)
				}
			}
			iat, _ := cl["iat"].(float64)
			exp, _ := cl["exp"].(float64)
			if int64(iat) < before-1 || int64(iat) > time.Now().Unix()+1 {
				t.Errorf("iat %v not now", iat)
			}
			if exp-iat != 86400 {
				t.Errorf("lifetime %v s, want 86400", exp-iat)
			}
			if jti, _ := cl["jti"].(string); len(jti) < 16 {
				t.Errorf("jti %q", jti)
			}
		})
	}
}

func testScopes(t *testing.T, e *env) {
	c := e.client(clients.TypeM2M, "read:users", "create:users", "read:logs")
	id, secret := c.Client.ClientID, c.Secret

	tok := fetch(t, e, id, secret, oauth2.AuthStyleInHeader)
	if got := claimsOf(t, tok.AccessToken)["scope"]; got != "read:users create:users read:logs" {
		t.Errorf("omitted scope granted %q, want all grantable", got)
	}
	tok = fetch(t, e, id, secret, oauth2.AuthStyleInHeader, "read:logs", "read:users")
	if got := claimsOf(t, tok.AccessToken)["scope"]; got != "read:logs read:users" {
		t.Errorf("subset granted %q", got)
	}
	for _, bad := range []string{"delete:users", "read:users openid", "no:such:scope", "offline_access"} {
		r := e.post(ccForm(id, secret, "scope", bad), "", "")
		if r.status != http.StatusBadRequest || r.errorCode(t) != "invalid_scope" {
			t.Errorf("scope %q: %d %s", bad, r.status, r.body)
		}
	}
	// A client holding every management scope gets them all.
	admin, err := clients.Create(authz.SystemContext(e.ctx), e.db.Ent, clients.Params{Name: "admin", Type: clients.TypeM2M, AllScopes: true})
	if err != nil {
		t.Fatal(err)
	}
	tok = fetch(t, e, admin.Client.ClientID, admin.Secret, oauth2.AuthStyleInParams)
	if got := claimsOf(t, tok.AccessToken)["scope"]; got != strings.Join(authz.ManagementScopes(), " ") {
		t.Errorf("admin granted %q", got)
	}
	// A client with no management scope at all is refused.
	none := e.client(clients.TypeM2M)
	r := e.post(ccForm(none.Client.ClientID, none.Secret), "", "")
	if r.status != http.StatusBadRequest || r.errorCode(t) != "access_denied" {
		t.Errorf("client without scopes: %d %s", r.status, r.body)
	}
}

func testAudience(t *testing.T, e *env) {
	c := e.client(clients.TypeM2M, "read:users")
	mgmt := authz.ManagementAudience(e.issuer)
	r := e.post(ccForm(c.Client.ClientID, c.Secret, "audience", mgmt), "", "")
	if r.status != http.StatusOK {
		t.Fatalf("explicit management audience: %d %s", r.status, r.body)
	}
	tok, _ := r.json(t)["access_token"].(string)
	if aud, _ := json.Marshal(claimsOf(t, tok)["aud"]); string(aud) != `["`+mgmt+`"]` {
		t.Errorf("aud %s", aud)
	}
	for _, form := range [][]string{
		{"audience", "https://api.example.com/"},
		{"audience", e.issuer},
		{"audience", mgmt, "audience", "https://api.example.com/"},
		{"resource", "https://api.example.com/"},
	} {
		r := e.post(ccForm(c.Client.ClientID, c.Secret, form...), "", "")
		if r.status != http.StatusBadRequest || r.errorCode(t) != "invalid_target" {
			t.Errorf("audience %v: %d %s", form, r.status, r.body)
		}
		if strings.Contains(string(r.body), "api.example.com") {
			t.Errorf("error echoes the requested audience: %s", r.body)
		}
	}
}

func testClientAuthentication(t *testing.T, e *env) {
	c := e.client(clients.TypeM2M, "read:users")
	id := c.Client.ClientID
	cases := map[string]tokenResponse{
		"wrong secret (post)":    e.post(ccForm(id, c.Secret+"x"), "", ""),
		"unknown client (post)":  e.post(ccForm("no-such-client", c.Secret), "", ""),
		"empty secret (post)":    e.post(ccForm(id, ""), "", ""),
		"no credentials":         e.post(ccForm("", ""), "", ""),
		"wrong secret (basic)":   e.post(ccForm("", ""), id, "nope"),
		"unknown client (basic)": e.post(ccForm("", ""), "no-such-client", c.Secret),
	}
	var first string
	for name, r := range cases {
		if r.status != http.StatusUnauthorized || r.errorCode(t) != "invalid_client" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
		if first == "" {
			first = string(r.body)
		} else if string(r.body) != first {
			t.Errorf("%s: body %s differs from %s", name, r.body, first)
		}
		if strings.Contains(string(r.body), "no-such-client") || strings.Contains(string(r.body), c.Secret) {
			t.Errorf("%s: body echoes credentials: %s", name, r.body)
		}
	}
	t.Logf("invalid_client answer: %s", first)
	if got := cases["wrong secret (basic)"].header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic") {
		t.Errorf("Basic failure without a WWW-Authenticate challenge: %q", got)
	}
}

func testClientTypes(t *testing.T, e *env) {
	// Public clients hold no secret, so they cannot authenticate.
	for _, typ := range []string{clients.TypeSPA, clients.TypeNative} {
		c := e.client(typ)
		e.setGrantTypes(c.Client, "authorization_code", "client_credentials")
		for _, secret := range []string{"", "anything"} {
			r := e.post(ccForm(c.Client.ClientID, secret), "", "")
			if r.status != http.StatusUnauthorized || r.errorCode(t) != "invalid_client" {
				t.Errorf("%s client: %d %s", typ, r.status, r.body)
			}
		}
	}
	// A spa client given a secret hash anyway is still refused the grant.
	spa := e.client(clients.TypeSPA)
	e.setGrantTypes(spa.Client, "client_credentials")
	if err := e.db.Ent.Application.UpdateOne(spa.Client).SetSecretHash(clients.HashSecret("a-secret-long-enough-to-count-for-this-test")).
		Exec(authz.SystemContext(e.ctx)); err != nil {
		t.Fatal(err)
	}
	r := e.post(ccForm(spa.Client.ClientID, "a-secret-long-enough-to-count-for-this-test"), "", "")
	if r.status != http.StatusBadRequest || r.errorCode(t) != "unauthorized_client" {
		t.Errorf("spa with a secret: %d %s", r.status, r.body)
	}
	// regular_web may use the grant; without client_credentials in its grant
	// types neither it nor an m2m client may.
	web := e.client(clients.TypeRegularWeb, "read:users")
	fetch(t, e, web.Client.ClientID, web.Secret, oauth2.AuthStyleInHeader)
	for _, c := range []*clients.Created{web, e.client(clients.TypeM2M, "read:users")} {
		e.setGrantTypes(c.Client, "authorization_code")
		r := e.post(ccForm(c.Client.ClientID, c.Secret), "", "")
		if r.status != http.StatusBadRequest || r.errorCode(t) != "unauthorized_client" {
			t.Errorf("%s without the grant: %d %s", c.Client.Type, r.status, r.body)
		}
	}
}

func testRequestShape(t *testing.T, e *env) {
	c := e.client(clients.TypeM2M, "read:users")
	id, secret := c.Client.ClientID, c.Secret
	// Two authentication methods at once.
	r := e.post(ccForm(id, secret), id, secret)
	if r.status != http.StatusBadRequest || r.errorCode(t) != "invalid_request" {
		t.Errorf("basic + post: %d %s", r.status, r.body)
	}
	// Basic for one client, client_id of another in the body.
	r = e.post(ccForm("", "", "client_id", "someone-else"), id, secret)
	if r.status != http.StatusBadRequest || r.errorCode(t) != "invalid_request" {
		t.Errorf("mismatched client_id: %d %s", r.status, r.body)
	}
	// Basic with the same client_id in the body is fine.
	r = e.post(ccForm("", "", "client_id", id), id, secret)
	if r.status != http.StatusOK {
		t.Errorf("basic + matching client_id: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	// The user grants exist, but not for an m2m client.
	for _, gt := range []string{"authorization_code", "refresh_token"} {
		f := ccForm(id, secret)
		f.Set("grant_type", gt)
		if r := e.post(f, "", ""); r.status != http.StatusBadRequest || r.errorCode(t) != "unauthorized_client" {
			t.Errorf("grant %s for m2m: %d %s", gt, r.status, r.body)
		}
	}
	for _, gt := range []string{"password", "urn:ietf:params:oauth:grant-type:jwt-bearer",
		"urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:device_code"} {
		f := ccForm(id, secret)
		f.Set("grant_type", gt)
		r := e.post(f, "", "")
		if r.status != http.StatusBadRequest || r.errorCode(t) != "unsupported_grant_type" {
			t.Errorf("grant %s: %d %s", gt, r.status, r.body)
		}
	}
	f := ccForm(id, secret)
	f.Del("grant_type")
	if r := e.post(f, "", ""); r.status != http.StatusBadRequest || r.errorCode(t) != "invalid_request" {
		t.Errorf("no grant_type: %d %s", r.status, r.body)
	}
	if r := e.post(ccForm("", "", "client_id", id, "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
		"client_assertion", "x.y.z"), "", ""); r.status != http.StatusUnauthorized || r.errorCode(t) != "invalid_client" {
		t.Errorf("client assertion: %d %s", r.status, r.body)
	}
	// Credentials in the query string.
	resp, err := http.Post(e.tokenURL+"?client_secret="+secret, "application/x-www-form-urlencoded",
		strings.NewReader(ccForm(id, secret).Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("secret in query: %d", resp.StatusCode)
	}
	resp, err = http.Get(e.tokenURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET token endpoint: %d", resp.StatusCode)
	}
	// JWKS is public JSON with our RS256 key(s).
	resp, err = http.Get(e.issuer + ".well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %v %s", err, body)
	}
	for _, k := range set.Keys {
		if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["kid"] == "" || k["d"] != nil {
			t.Errorf("jwks key %v", k)
		}
	}
}

func testRotation(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.client(clients.TypeM2M, "read:users")
	old := fetch(t, e, c.Client.ClientID, c.Secret, oauth2.AuthStyleInHeader)
	if err := e.keys.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := fetch(t, e, c.Client.ClientID, c.Secret, oauth2.AuthStyleInHeader)
	if kidOf(t, old.AccessToken) == kidOf(t, fresh.AccessToken) {
		t.Fatal("rotation did not change the signing key")
	}
	gv := gooidc.NewVerifier(e.issuer, gooidc.NewRemoteKeySet(ctx, e.issuer+".well-known/jwks.json"),
		&gooidc.Config{ClientID: authz.ManagementAudience(e.issuer)})
	for name, tok := range map[string]string{"old": old.AccessToken, "new": fresh.AccessToken} {
		if _, err := e.provider.Verifier().Verify(ctx, tok); err != nil {
			t.Errorf("%s token after rotation: %v", name, err)
		}
		if _, err := gv.Verify(ctx, tok); err != nil {
			t.Errorf("go-oidc, %s token after rotation: %v", name, err)
		}
	}
	// Another node (its own KeySet on the same database) that loaded its keys
	// before the rotation finds the new kid on demand.
	other := NewKeySet(e.db.Ent, e.box)
	other.MinReload = 0
	if err := other.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	newest := fetch(t, e, c.Client.ClientID, c.Secret, oauth2.AuthStyleInHeader)
	if _, err := NewVerifier(e.issuer, other).Verify(ctx, newest.AccessToken); err != nil {
		t.Errorf("other node: %v", err)
	}
	// Past the retention window the retired key is gone.
	later := NewKeySet(e.db.Ent, e.box)
	later.now = func() time.Time { return time.Now().Add(DefaultRetention + time.Hour) }
	v := NewVerifier(e.issuer, later)
	v.now = later.now
	if _, err := v.Verify(ctx, old.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("old token past retention: %v", err)
	}
	keys, err := later.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID() != kidOf(t, newest.AccessToken) {
		t.Errorf("JWKS past retention holds %d keys", len(keys))
	}
}

func TestIssuerWithPath(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), "tenant/auth/")
	ctx := context.Background()
	gp, err := gooidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatalf("discovery under a path: %v", err)
	}
	if gp.Endpoint().TokenURL != e.issuer+"oauth/token" {
		t.Errorf("token URL %s", gp.Endpoint().TokenURL)
	}
	c := e.client(clients.TypeM2M, "read:users")
	tok := fetch(t, e, c.Client.ClientID, c.Secret, oauth2.AuthStyleInParams)
	if _, err := gp.Verifier(&gooidc.Config{ClientID: e.issuer + "api/v2/"}).Verify(ctx, tok.AccessToken); err != nil {
		t.Errorf("go-oidc: %v", err)
	}
	if _, err := e.provider.Verifier().Verify(ctx, tok.AccessToken); err != nil {
		t.Errorf("Verifier: %v", err)
	}
	resp, err := http.Get(e.srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("discovery outside the issuer path: %d", resp.StatusCode)
	}
}

func TestNewChecksIssuer(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), "")
	for _, tc := range []struct {
		issuer   string
		insecure bool
		ok       bool
	}{
		{"https://id.example.com/", false, true},
		{"https://id.example.com/auth/", false, true},
		{"http://127.0.0.1:8080/", true, true},
		{"http://localhost:8080/", true, true},
		{"http://[::1]:8080/", true, true},
		{"http://127.0.0.1:8080/", false, false},
		{"http://id.example.com/", true, false},
		{"https://id.example.com", false, false},
		{"https://id.example.com/?x=1", false, false},
		{"https://user:pw@id.example.com/", false, false},
		{"id.example.com/", false, false},
	} {
		_, err := New(Config{Issuer: tc.issuer, DB: e.db.Ent, Keys: e.keys, AllowInsecure: tc.insecure})
		if (err == nil) != tc.ok {
			t.Errorf("New(%q, insecure=%v) = %v", tc.issuer, tc.insecure, err)
		}
	}
	if _, err := New(Config{Issuer: "https://id.example.com/", DB: e.db.Ent, Keys: e.keys, CryptoKey: make([]byte, 16)}); err == nil {
		t.Error("short CryptoKey accepted")
	}
	k, err := DeriveCryptoKey(make([]byte, 32))
	if err != nil || len(k) != 32 {
		t.Errorf("DeriveCryptoKey: %d bytes, %v", len(k), err)
	}
}
