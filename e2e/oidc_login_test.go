// Package e2e drives a complete Authgraph the way its users do: a standard
// OIDC client library (golang.org/x/oauth2 + coreos/go-oidc), a browser-like
// HTTP client with a cookie jar filling in the hosted login form, and a
// client registered with the `authgraph clients create` command.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

var authgraphBin string

func TestMain(m *testing.M) {
	// Build the real binary once: clients are registered with its CLI.
	dir, err := os.MkdirTemp("", "authgraph-e2e")
	if err != nil {
		panic(err)
	}
	authgraphBin = filepath.Join(dir, "authgraph")
	// Without cgo, as the container image and the other tests that build the
	// binary (chaos, cmd/authgraph, deploy) do: a cgo build recompiled the
	// whole tree a second time, and one compile in the build cache serves all.
	build := exec.Command("go", "build", "-o", authgraphBin, "../cmd/authgraph")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building authgraph: %v\n%s", err, out)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	testenv.Main(m)
}

const redirectURI = "http://127.0.0.1:9/callback" // never contacted: the browser stops there

// registerClient runs `authgraph clients create … --json` against the
// server's database.
func registerClient(t testing.TB, s *apitest.Server, args ...string) (id, secret string) {
	t.Helper()
	cmd := exec.Command(authgraphBin, append([]string{"clients", "create", "--json", "--database", s.Deps.Config.DatabaseURL, "--issuer", s.Issuer}, args...)...)
	cmd.Env = append(os.Environ(), "AUTHGRAPH_MASTER_KEY="+s.Deps.Config.MasterKey, "AUTHGRAPH_ADMIN_CLIENT_SECRET=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("clients create: %v %s", err, out)
	}
	var c struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("clients create printed %q", out)
	}
	return c.ClientID, c.ClientSecret
}

// browser is an HTTP client with cookies that stops at the client's
// redirect URI, as a browser hands that URL to the app.
type browser struct {
	t    testing.TB
	http *http.Client
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, http: &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}}
}

type page struct {
	status   int
	url      *url.URL
	body     string
	location *url.URL // set when the browser stopped at the redirect URI
	header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, url: resp.Request.URL, body: string(raw), header: resp.Header}
	if loc := resp.Header.Get("Location"); loc != "" && strings.HasPrefix(loc, redirectURI) {
		p.location, _ = url.Parse(loc)
	}
	return p
}

func (b *browser) get(u string) page {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	reqRE    = regexp.MustCompile(`name="req" value="([^"]*)"`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

// login submits the hosted login form shown on p.
func (b *browser) login(p page, username, password string) page {
	b.t.Helper()
	csrf, act, req := csrfRE.FindStringSubmatch(p.body), actionRE.FindStringSubmatch(p.body), reqRE.FindStringSubmatch(p.body)
	if csrf == nil || act == nil || req == nil || !strings.Contains(p.body, `name="username"`) || !strings.Contains(p.body, `name="password"`) {
		b.t.Fatalf("not the login form (status %d, %s): %.600s", p.status, p.url, p.body)
	}
	action, _ := p.url.Parse(html.UnescapeString(act[1]))
	form := url.Values{"csrf_token": {html.UnescapeString(csrf[1])}, "req": {html.UnescapeString(req[1])},
		"username": {username}, "password": {password}}
	r, _ := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

type rp struct {
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
	provider *oidc.Provider
}

func newRP(t testing.TB, s *apitest.Server, id, secret string, scopes ...string) *rp {
	ctx := oidc.ClientContext(context.Background(), s.HTTP)
	p, err := oidc.NewProvider(ctx, s.Issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &rp{
		conf:     oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: redirectURI, Scopes: scopes},
		verifier: p.Verifier(&oidc.Config{ClientID: id}),
		provider: p,
	}
}

func TestStandardClientLogsInRefreshesAndReadsUserinfo(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := oidc.ClientContext(context.Background(), s.HTTP)
		admin := s.AdminToken(t)
		var created struct{ CreateUser struct{ ID, UserID string } }
		s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
			email: "ada@example.com", password: "Analytical-Engine-1843", name: "Ada Lovelace", phoneNumber: "+441234567890"}) { id userId } }`, nil, &created)

		id, secret := registerClient(t, s, "--name", "Notebook", "--type", "regular_web", "--redirect-uri", redirectURI)
		relying := newRP(t, s, id, secret, oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess)
		b := newBrowser(t)

		// 1. Authorization request → hosted login page → code.
		verifier, state, nonce := oauth2.GenerateVerifier(), "st-"+id[:6], "n-"+id[:6]
		authURL := relying.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
		form := b.get(authURL)
		if form.status != http.StatusOK || !strings.Contains(form.url.Path, "/login") {
			t.Fatalf("expected the login page, got %d %s", form.status, form.url)
		}
		// Wrong password and unknown user read the same.
		bad := b.login(form, "ada@example.com", "wrong-password")
		unknown := b.login(bad, "nobody@example.com", "wrong-password")
		if bad.status != http.StatusUnauthorized || unknown.status != bad.status || errorText(bad.body) == "" || errorText(bad.body) != errorText(unknown.body) {
			t.Fatalf("wrong password (%d %q) and unknown user (%d %q) must answer alike", bad.status, errorText(bad.body), unknown.status, errorText(unknown.body))
		}
		done := b.login(unknown, "ada@example.com", "Analytical-Engine-1843")
		if done.location == nil || done.location.Query().Get("state") != state || done.location.Query().Get("code") == "" {
			t.Fatalf("no code at the redirect URI: %d %s %.300s", done.status, done.url, done.body)
		}

		// 2. Code exchange with PKCE; the ID token verifies through discovery.
		tok, err := relying.conf.Exchange(ctx, done.location.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := relying.verifier.Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		var claims map[string]any
		_ = idt.Claims(&claims)
		if idt.Subject != created.CreateUser.UserID || idt.Nonce != nonce || claims["email"] != "ada@example.com" ||
			claims["name"] != "Ada Lovelace" || claims["email_verified"] != false {
			t.Fatalf("ID token claims: %v", claims)
		}
		if _, ok := claims["phone_number"]; ok {
			t.Fatal("phone_number released without the phone scope")
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token despite offline_access")
		}

		// 3. userinfo with the access token carries the same, scope-filtered claims.
		ui, err := relying.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var uiClaims map[string]any
		_ = ui.Claims(&uiClaims)
		if ui.Subject != idt.Subject || ui.Email != "ada@example.com" || uiClaims["name"] != "Ada Lovelace" || uiClaims["phone_number"] != nil {
			t.Fatalf("userinfo: %v", uiClaims)
		}

		// 4. Refresh keeps iss/sub/aud and rotates the refresh token.
		refreshed, err := relying.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken {
			t.Fatal("refresh token not rotated")
		}
		if raw, ok := refreshed.Extra("id_token").(string); ok {
			again, err := relying.verifier.Verify(ctx, raw)
			if err != nil || again.Subject != idt.Subject || again.Issuer != idt.Issuer {
				t.Fatalf("refreshed ID token: %v %+v", err, again)
			}
		}

		// 5. The same browser signs in again without the form (SSO session).
		sso := b.get(relying.conf.AuthCodeURL("again", oauth2.S256ChallengeOption(verifier)))
		if sso.location == nil || sso.location.Query().Get("code") == "" {
			t.Fatalf("second authorization showed a page instead of SSO: %d %s", sso.status, sso.url)
		}

		// 6. Bookkeeping and logs.
		var after struct {
			User struct {
				LoginsCount int
				LastLogin   *string
				LastIP      *string `json:"lastIp"`
			}
		}
		s.MustGraphQL(t, admin, `query($id: ID!) { user(id: $id) { loginsCount lastLogin lastIp } }`, map[string]any{"id": created.CreateUser.ID}, &after)
		if after.User.LoginsCount < 1 || after.User.LastLogin == nil || after.User.LastIP == nil {
			t.Fatalf("login bookkeeping: %+v", after)
		}
		sys := authz.SystemContext(context.Background())
		for _, typ := range []string{"s", "fp", "fu"} {
			if n := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type(typ)).CountX(sys); n == 0 {
				t.Errorf("no %q log event", typ)
			}
		}

		// 7. A blocked user is refused after a correct password; sessions end.
		s.MustGraphQL(t, admin, `mutation($id: ID!) { updateUser(id: $id, input: {blocked: true}) { id } }`, map[string]any{"id": created.CreateUser.ID}, nil)
		if _, err := relying.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token(); err == nil {
			t.Fatal("a blocked user's refresh token still works")
		}
		fresh := newBrowser(t)
		blocked := fresh.login(fresh.get(relying.conf.AuthCodeURL("b", oauth2.S256ChallengeOption(verifier))), "ada@example.com", "Analytical-Engine-1843")
		if blocked.location == nil || blocked.location.Query().Get("error") == "" || !strings.Contains(blocked.location.Query().Get("error_description"), "blocked") {
			t.Fatalf("blocked user: %d %v %.300s", blocked.status, blocked.location, blocked.body)
		}
		again := b.get(relying.conf.AuthCodeURL("c", oauth2.S256ChallengeOption(verifier)))
		if again.location != nil && again.location.Query().Get("code") != "" {
			t.Fatal("a blocked user's SSO session still yields codes")
		}
	})
}

// A signed-in user's management-API token works with me/updateMe and nothing else.
func TestUserTokenForTheManagementAPI(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	ctx := oidc.ClientContext(context.Background(), s.HTTP)
	admin := s.AdminToken(t)
	s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
		email: "grace@example.com", password: "Compiler-A0-1952!", userMetadata: {theme: "dark"}, appMetadata: {plan: "gold"}}) { id } }`, nil, nil)
	id, _ := registerClient(t, s, "--name", "SPA", "--type", "spa", "--redirect-uri", redirectURI, "--web-origin", "http://127.0.0.1:9")
	relying := newRP(t, s, id, "", oidc.ScopeOpenID, "read:current_user", "update:current_user_metadata")
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	audience := oauth2.SetAuthURLParam("audience", authz.ManagementAudience(s.Issuer))
	done := b.login(b.get(relying.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), audience)), "grace@example.com", "Compiler-A0-1952!")
	if done.location == nil || done.location.Query().Get("code") == "" {
		t.Fatalf("login failed: %d %.300s", done.status, done.body)
	}
	tok, err := relying.conf.Exchange(ctx, done.location.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	var me struct {
		UpdateMe struct{ UserMetadata, AppMetadata map[string]any }
	}
	s.MustGraphQL(t, tok.AccessToken, `mutation { updateMe(input: {userMetadata: {lang: "en"}}) { userMetadata appMetadata } }`, nil, &me)
	if me.UpdateMe.UserMetadata["lang"] != "en" || me.UpdateMe.UserMetadata["theme"] != "dark" || me.UpdateMe.AppMetadata["plan"] != "gold" {
		t.Fatalf("updateMe: %+v", me)
	}
	r := s.GraphQL(t, tok.AccessToken, `{ connections { edges { node { options } } } }`, nil)
	if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" {
		t.Fatalf("user token read connection options: %+v", r)
	}
	r = s.GraphQL(t, tok.AccessToken, `mutation { createUser(input: {connection: "Username-Password-Authentication", email: "x@example.com"}) { id } }`, nil)
	if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" {
		t.Fatalf("user token created a user: %+v", r)
	}
}

var errorRE = regexp.MustCompile(`(?s)id="form-error"[^>]*>(.*?)</`)

func errorText(body string) string {
	m := errorRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

func TestGraphQLCORSAllowsOnlyRegisteredOrigins(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	registerClient(t, s, "--name", "SPA", "--type", "spa", "--redirect-uri", redirectURI, "--web-origin", "https://app.example.com")
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, s.URL+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := s.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ok := preflight("https://app.example.com")
	if ok.StatusCode/100 != 2 || ok.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(ok.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("registered origin: %d %v", ok.StatusCode, ok.Header)
	}
	bad := preflight("https://evil.example.com")
	if bad.StatusCode/100 == 2 || bad.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("unknown origin allowed: %d %v", bad.StatusCode, bad.Header)
	}
	// An actual request from an unknown origin gets no CORS grant either.
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(`{"query":"{ me { userId } }"}`))
	req.Header.Set("Origin", "https://evil.example.com")
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("unknown origin granted on a real request")
	}
}
