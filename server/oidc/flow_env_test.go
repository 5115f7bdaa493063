package oidc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/server/loginflow"
	"github.com/authgraph/authgraph/sessions"
)

// The test login completer: the real hosted login page (server/login) is
// built separately, so /login here is a stand-in that finds the pending
// request through Handoff.Request and, when the browser names a user in
// X-Test-User, creates an SSO session and calls Handoff.Complete (or
// Handoff.Fail with X-Test-Fail), through connection X-Test-Connection
// (testConnection by default). Without a user it shows a "form" (200).
func (e *env) fakeLogin(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get(loginflow.ParamRequestID)
	req, err := e.provider.Request(r.Context(), id)
	if err != nil {
		http.Error(w, "unknown login request", http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	e.logins = append(e.logins, req)
	e.mu.Unlock()
	if code := r.Header.Get("X-Test-Fail"); code != "" {
		e.provider.Fail(w, r, id, code, "test failure")
		return
	}
	uid := pulid.ID(r.Header.Get("X-Test-User"))
	if uid == "" {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<form method=\"post\" id=\"login\"></form>")
		return
	}
	authTime := time.Now().Truncate(time.Second)
	if s := r.Header.Get("X-Test-Auth-Age"); s != "" {
		d, _ := time.ParseDuration(s)
		authTime = authTime.Add(-d)
	}
	conn := testConnection
	if c := r.Header.Get("X-Test-Connection"); c != "" {
		conn = c
	}
	s, err := e.sessions.Create(r.Context(), w, r, sessions.Params{
		UserID: uid, AuthTime: authTime, AMR: []string{"pwd"}, Connection: conn,
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	e.provider.Complete(w, r, id, loginflow.Login{
		UserID: uid, SessionID: s.ID, AuthTime: authTime, AMR: []string{"pwd"}, Connection: conn,
	})
}

// lastLogin returns the request the login page last saw.
func (e *env) lastLogin() *loginflow.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.logins) == 0 {
		return nil
	}
	return e.logins[len(e.logins)-1]
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUser creates a user with a full profile.
func (e *env) newUser(t testing.TB) *ent.User {
	t.Helper()
	id := randHex(6)
	u, err := e.db.Ent.User.Create().
		SetUserID("auth0|" + id).
		SetEmail(id + "@example.com").
		SetEmailVerified(true).
		SetUsername("u" + id).
		SetPhoneNumber("+15551234567").
		SetPhoneVerified(true).
		SetName("Ada Lovelace").
		SetGivenName("Ada").
		SetFamilyName("Lovelace").
		SetNickname("ada").
		SetPicture("https://example.com/ada.png").
		SetUserMetadata(map[string]any{"secret_pref": "x"}).
		SetAppMetadata(map[string]any{"plan": "gold"}).
		Save(authz.SystemContext(e.ctx))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// browser is a user agent with a cookie jar that follows redirects by hand,
// stopping at the client's redirect_uri.
type browser struct {
	e      *env
	hc     *http.Client
	user   pulid.ID
	header http.Header // extra headers for the login page
}

func (e *env) newBrowser(user *ent.User) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{e: e, header: http.Header{}, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	if user != nil {
		b.user = user.ID
	}
	return b
}

// authResult is where an authorization request ended.
type authResult struct {
	status   int    // of the last response when it was not a redirect to the client
	body     string // idem
	params   url.Values
	location string
	sawLogin bool
	formPost bool
}

var formInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// authorize runs an authorization request (GET, or POST with form).
func (b *browser) authorize(t testing.TB, method, rawURL string, form url.Values) *authResult {
	t.Helper()
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequest(http.MethodGet, rawURL, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	res := &authResult{}
	for range 5 {
		resp, err := b.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusFound {
			loc := resp.Header.Get("Location")
			if strings.HasPrefix(loc, b.e.issuer+"login?") {
				res.sawLogin = true
				req, _ = http.NewRequest(http.MethodGet, loc, nil)
				for k, v := range b.header {
					req.Header[k] = v
				}
				if b.user != "" && req.Header.Get("X-Test-User") == "" {
					req.Header.Set("X-Test-User", string(b.user))
				}
				continue
			}
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			res.location, res.params = loc, u.Query()
			return res
		}
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `<form method="post" action="`+redirectURI+`"`) {
			res.formPost = true
			res.params = url.Values{}
			for _, m := range formInput.FindAllStringSubmatch(string(body), -1) {
				res.params.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
			}
			return res
		}
		res.status, res.body = resp.StatusCode, string(body)
		return res
	}
	t.Fatal("too many redirects")
	return nil
}

const (
	redirectURI = "https://rp.example/cb"
	logoutURI   = "https://rp.example/bye"
	rpOrigin    = "https://rp.example"
)

// rp is a relying party: a registered client, x/oauth2 and go-oidc.
type rp struct {
	e        *env
	c        *clients.Created
	cfg      oauth2.Config
	verifier *gooidc.IDTokenVerifier
}

func (e *env) newRP(t testing.TB, typ string) *rp {
	t.Helper()
	c, err := clients.Create(authz.SystemContext(e.ctx), e.db.Ent, clients.Params{
		Name: "rp " + typ, Type: typ, RedirectURIs: []string{redirectURI},
		LogoutURLs: []string{logoutURI}, WebOrigins: []string{rpOrigin},
	})
	if err != nil {
		t.Fatal(err)
	}
	gp, err := gooidc.NewProvider(e.ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	ep := gp.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if c.Secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &rp{e: e, c: c, verifier: gp.Verifier(&gooidc.Config{ClientID: c.Client.ClientID}), cfg: oauth2.Config{
		ClientID: c.Client.ClientID, ClientSecret: c.Secret, Endpoint: ep, RedirectURL: redirectURI,
	}}
}

// flow is one authorization request's secrets.
type flow struct {
	verifier, state, nonce string
}

// authURL builds an authorization URL with PKCE, state and nonce; kv pairs
// add parameters, and an empty value removes one.
func (r *rp) authURL(scope string, kv ...string) (string, *flow) {
	f := &flow{verifier: oauth2.GenerateVerifier(), state: randHex(8), nonce: randHex(8)}
	v := url.Values{
		"response_type":         {"code"},
		"client_id":             {r.cfg.ClientID},
		"redirect_uri":          {redirectURI},
		"scope":                 {scope},
		"state":                 {f.state},
		"nonce":                 {f.nonce},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(f.verifier)},
		"code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
		} else {
			v.Set(kv[i], kv[i+1])
		}
	}
	return r.e.issuer + "authorize?" + v.Encode(), f
}

// login runs a code flow to the callback and checks state and iss.
func (r *rp) login(t testing.TB, b *browser, scope string, kv ...string) (*authResult, *flow) {
	t.Helper()
	u, f := r.authURL(scope, kv...)
	res := b.authorize(t, http.MethodGet, u, nil)
	if res.params != nil && res.params.Get("code") != "" {
		if res.params.Get("state") != f.state {
			t.Errorf("state %q, want %q", res.params.Get("state"), f.state)
		}
		if res.params.Get("iss") != r.e.issuer {
			t.Errorf("iss %q", res.params.Get("iss"))
		}
	}
	return res, f
}

// exchange redeems a code through x/oauth2.
func (r *rp) exchange(code string, f *flow) (*oauth2.Token, error) {
	opts := []oauth2.AuthCodeOption{}
	if f != nil && f.verifier != "" {
		opts = append(opts, oauth2.VerifierOption(f.verifier))
	}
	return r.cfg.Exchange(context.Background(), code, opts...)
}

// tokens runs login + exchange and verifies the ID token (when openid).
func (r *rp) tokens(t testing.TB, b *browser, scope string, kv ...string) (*oauth2.Token, map[string]any) {
	t.Helper()
	res, f := r.login(t, b, scope, kv...)
	code := res.params.Get("code")
	if code == "" {
		t.Fatalf("no code: %+v", res)
	}
	tok, err := r.exchange(code, f)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return tok, nil
	}
	idt, err := r.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return tok, claims
}

// userinfo calls /userinfo with the token in the header (GET).
func (e *env) userinfo(t testing.TB, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return e.doJSON(t, req)
}

func (e *env) doJSON(t testing.TB, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m
}

// form posts a form to an endpoint path with optional Basic credentials.
func (e *env) form(t testing.TB, path string, f url.Values, id, secret string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return e.doJSON(t, req)
}

// sessionCookie mints an SSO session for user in b's cookie jar, as the
// login page would, with the given authentication age.
func (b *browser) sessionCookie(t testing.TB, user *ent.User, age time.Duration) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, b.e.issuer, nil)
	if _, err := b.e.sessions.Create(b.e.ctx, rec, req, sessions.Params{UserID: user.ID, AuthTime: time.Now().Add(-age), AMR: []string{"pwd"}, Connection: testConnection}); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(b.e.issuer)
	b.hc.Jar.SetCookies(u, rec.Result().Cookies())
}
