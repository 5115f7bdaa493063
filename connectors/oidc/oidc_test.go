package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/outbound"
)

// fakeIdP is an independent OpenID Provider written for these tests with
// go-jose (not go-oidc): discovery, JWKS, an authorize endpoint that
// approves at once, a token endpoint checking PKCE, userinfo. mode bends
// the ID token it issues.
type fakeIdP struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	other  *rsa.PrivateKey
	mu     sync.Mutex
	codes  map[string]authz
	mode   string
	claims map[string]any // extra ID token claims
	ui     map[string]any // userinfo (sub added unless mode says)
	jwks   string         // jwks_uri to advertise instead of its own
}

type authz struct{ challenge, nonce, redirect string }

func newFakeIdP(t *testing.T) *fakeIdP {
	f := &fakeIdP{t: t, codes: map[string]authz{}}
	f.key, _ = rsa.GenerateKey(rand.Reader, 2048)
	f.other, _ = rsa.GenerateKey(rand.Reader, 2048)
	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	iss := f.srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		jwks := iss + "/jwks"
		if f.jwks != "" {
			jwks = f.jwks
		}
		json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize",
			"token_endpoint": iss + "/token", "userinfo_endpoint": iss + "/userinfo", "jwks_uri": jwks,
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("client_id") != "cid" {
			http.Error(w, "bad request", 400)
			return
		}
		code := "code-" + q.Get("state")
		f.mu.Lock()
		f.codes[code] = authz{q.Get("code_challenge"), q.Get("nonce"), q.Get("redirect_uri")}
		f.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		f.mu.Lock()
		a, ok := f.codes[r.PostForm.Get("code")]
		delete(f.codes, r.PostForm.Get("code"))
		mode, extra := f.mode, f.claims
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != a.challenge || a.redirect != r.PostForm.Get("redirect_uri") {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		id, secret, basic := r.BasicAuth()
		if !basic {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if id != "cid" || secret != "csecret" {
			f.t.Logf("token: client %q %q", id, secret)
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
			return
		}
		now := time.Now()
		c := map[string]any{"iss": iss, "sub": "user-1", "aud": "cid", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"nonce": a.nonce, "email": "Ann@Corp.example", "email_verified": true, "name": "Ann", "preferred_username": "ann", "amr": []string{"pwd"}}
		for k, v := range extra {
			c[k] = v
		}
		key := f.key
		switch mode {
		case "badsig":
			key = f.other
		case "wrongaud":
			c["aud"] = "someone-else"
		case "wrongnonce":
			c["nonce"] = "not-the-nonce"
		case "expired":
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		case "wrongiss":
			c["iss"] = "https://evil.example"
		}
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
		payload, _ := json.Marshal(c)
		jws, _ := signer.Sign(payload)
		idt, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + r.PostForm.Get("code"), "token_type": "Bearer",
			"expires_in": 3600, "refresh_token": "rt-1", "id_token": idt})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer at-") {
			w.WriteHeader(401)
			return
		}
		f.mu.Lock()
		ui := map[string]any{"sub": "user-1"}
		for k, v := range f.ui {
			ui[k] = v
		}
		f.mu.Unlock()
		json.NewEncoder(w).Encode(ui)
	})
	return f
}

// login runs the browser's part: LoginURL, follow the authorize redirect,
// then HandleCallback with the callback request.
func login(t *testing.T, c *Connector) (connectors.Identity, error) {
	t.Helper()
	ctx := context.Background()
	const cb = "https://authgraph.test/login/callback"
	u, pending, err := c.LoginURL(ctx, cb, "st-"+random())
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, cb+"?") {
		t.Fatalf("authorize answered %d %q", resp.StatusCode, loc)
	}
	return c.HandleCallback(ctx, cb, pending, httptest.NewRequest("GET", loc, nil))
}

func newConn(t *testing.T, f *fakeIdP, mod func(*Config)) *Connector {
	// The fakes run on loopback over plain http.
	cfg := Config{Connection: "corp", ClientID: "cid", ClientSecret: "csecret", AllowPrivateNetwork: true}
	if f.srv != nil {
		cfg.Issuer = f.srv.URL
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOIDCLogin(t *testing.T) {
	f := newFakeIdP(t)
	f.ui = map[string]any{"department": "R&D", "picture": "https://img.test/ann.png"}
	c := newConn(t, f, nil)
	id, err := login(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if id.FullUserID() != "oidc|corp|user-1" || id.Email != "Ann@Corp.example" || id.Name != "Ann" || id.Nickname != "ann" ||
		id.Picture != "https://img.test/ann.png" {
		t.Fatalf("identity: %+v", id)
	}
	if id.EmailVerified {
		t.Fatal("email_verified believed without trust_email_verified")
	}
	if id.Raw["department"] != "R&D" || id.Raw["amr"] != nil || id.Raw["nonce"] != nil {
		t.Fatalf("raw: %v", id.Raw)
	}
	if id.Tokens == nil || !strings.HasPrefix(id.Tokens.AccessToken, "at-") || id.Tokens.RefreshToken != "rt-1" || id.Tokens.IDToken == "" {
		t.Fatalf("tokens: %+v", id.Tokens)
	}

	// trust_email_verified and an attribute_map.
	c = newConn(t, f, func(cfg *Config) {
		cfg.TrustEmailVerified = true
		cfg.AttributeMap = map[string]any{"mapping_mode": "use_map", "attributes": map[string]any{
			"nickname": "${context.userinfo.department}", "given_name": "${context.tokenset.name}"}}
	})
	id, err = login(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if !id.EmailVerified || id.Nickname != "R&D" || id.GivenName != "Ann" {
		t.Fatalf("mapped: %+v", id)
	}

	// userinfo about another subject is ignored.
	f.ui = map[string]any{"sub": "someone-else", "name": "Mallory"}
	id, err = login(t, newConn(t, f, nil))
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "Ann" || id.Raw["name"] != "Ann" {
		t.Fatalf("merged userinfo of another sub: %+v", id)
	}
}

func TestOIDCRefusesBadTokens(t *testing.T) {
	f := newFakeIdP(t)
	for _, mode := range []string{"badsig", "wrongaud", "wrongnonce", "expired", "wrongiss"} {
		t.Run(mode, func(t *testing.T) {
			f.mu.Lock()
			f.mode = mode
			f.mu.Unlock()
			_, err := login(t, newConn(t, f, nil))
			if !errors.Is(err, connectors.ErrInvalidResponse) {
				t.Fatalf("%s accepted or wrong error: %v", mode, err)
			}
			t.Log(err)
		})
	}
	f.mode = ""
	// A tampered pending state (another PKCE verifier) fails the exchange.
	c := newConn(t, f, nil)
	u, _, _ := c.LoginURL(context.Background(), "https://authgraph.test/login/callback", "s1")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ := noFollow.Get(u)
	resp.Body.Close()
	_, other, _ := c.LoginURL(context.Background(), "https://authgraph.test/login/callback", "s2")
	_, err := c.HandleCallback(context.Background(), "https://authgraph.test/login/callback", other,
		httptest.NewRequest("GET", resp.Header.Get("Location"), nil))
	if !errors.Is(err, connectors.ErrInvalidResponse) {
		t.Fatalf("wrong verifier: %v", err)
	}
	// The provider's error comes back as an invalid response.
	_, err = c.HandleCallback(context.Background(), "x", other, httptest.NewRequest("GET", "/cb?error=access_denied&state=s2", nil))
	if !errors.Is(err, connectors.ErrInvalidResponse) {
		t.Fatalf("provider error: %v", err)
	}
}

// Without allow_private_network, a provider on loopback is never reached:
// not its discovery document, nor (GitHub preset, no discovery) its token
// endpoint or API.
func TestLoopbackProviderRefused(t *testing.T) {
	f := newFakeIdP(t)
	var hits atomic.Int32
	f.srv.Config.Handler = countHits(&hits, f.srv.Config.Handler)
	c := newConn(t, f, func(cfg *Config) { cfg.AllowPrivateNetwork = false })
	_, _, err := c.LoginURL(context.Background(), "https://a/cb", "s")
	if !errors.Is(err, connectors.ErrUnavailable) || !errors.Is(err, outbound.ErrSchemeRefused) {
		t.Fatalf("discovery of a loopback provider: %v", err)
	}
	// https to loopback is refused by address.
	c = newConn(t, f, func(cfg *Config) {
		cfg.AllowPrivateNetwork, cfg.Issuer = false, strings.Replace(f.srv.URL, "http:", "https:", 1)
	})
	if _, _, err = c.LoginURL(context.Background(), "https://a/cb", "s"); !errors.Is(err, outbound.ErrAddressRefused) {
		t.Fatalf("https discovery of a loopback provider: %v", err)
	}

	gh := fakeGitHub(t, `[]`)
	gh.Config.Handler = countHits(&hits, gh.Config.Handler)
	c = newConn(t, &fakeIdP{}, func(cfg *Config) {
		cfg.Issuer, cfg.Preset, cfg.AllowPrivateNetwork = "", PresetGitHub, false
		cfg.AuthorizationEndpoint, cfg.TokenEndpoint, cfg.UserinfoEndpoint = gh.URL+"/login/oauth/authorize", gh.URL+"/login/oauth/access_token", gh.URL+"/api/user"
	})
	_, pending, err := c.LoginURL(context.Background(), "https://authgraph.test/login/callback", "s")
	if err != nil {
		t.Fatal(err) // nothing fetched yet: the browser goes to the authorize URL
	}
	_, err = c.HandleCallback(context.Background(), "https://authgraph.test/login/callback", pending,
		httptest.NewRequest("GET", "/cb?code=gh-code&state=s", nil))
	if !errors.Is(err, connectors.ErrUnavailable) || !errors.Is(err, outbound.ErrSchemeRefused) {
		t.Fatalf("token endpoint on loopback: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("loopback upstreams reached %d times", n)
	}
}

// The keys are fetched through the same client: a discovery document
// sending them to the cloud metadata address fails the login, even with
// allow_private_network.
func TestJWKSThroughOutboundClient(t *testing.T) {
	f := newFakeIdP(t)
	f.jwks = "http://169.254.169.254/latest/meta-data/jwks"
	_, err := login(t, newConn(t, f, nil))
	if !errors.Is(err, connectors.ErrInvalidResponse) || !strings.Contains(err.Error(), outbound.ErrAddressRefused.Error()) {
		t.Fatalf("JWKS at the metadata address: %v", err)
	}
}

// A discovery document that comes back but is refused (here: another
// issuer) is not fetched again at every login start.
func TestFailedDiscoveryRemembered(t *testing.T) {
	f := newFakeIdP(t)
	var hits atomic.Int32
	f.srv.Config.Handler = countHits(&hits, f.srv.Config.Handler)
	c := newConn(t, f, func(cfg *Config) { cfg.Issuer = f.srv.URL + "/" }) // the document says no trailing slash
	for range 3 {
		if _, _, err := c.LoginURL(context.Background(), "https://a/cb", "s"); !errors.Is(err, connectors.ErrUnavailable) {
			t.Fatalf("mismatched issuer: %v", err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("discovery fetched %d times, want once", n)
	}
}

func countHits(n *atomic.Int32, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1); h.ServeHTTP(w, r) })
}

func TestProviderDown(t *testing.T) {
	f := newFakeIdP(t)
	c := newConn(t, f, nil)
	f.srv.Close()
	if _, _, err := c.LoginURL(context.Background(), "https://a/cb", "s"); !errors.Is(err, connectors.ErrUnavailable) {
		t.Fatalf("discovery of a stopped provider: %v", err)
	}
}

// fakeGitHub serves the two API calls and the OAuth endpoints of GitHub.
func fakeGitHub(t *testing.T, emails string) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code=gh-code&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.PostForm.Get("code") != "gh-code" || r.PostForm.Get("code_verifier") == "" {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"gho_x","token_type":"bearer","scope":"read:user,user:email"}`))
	})
	mux.HandleFunc("GET /api/user", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gho_x" {
			w.WriteHeader(401)
			return
		}
		w.Write([]byte(`{"login":"octocat","id":583231,"avatar_url":"https://avatars.githubusercontent.com/u/583231?v=4","name":"The Octocat","email":"public@octo.test","company":"@github"}`))
	})
	mux.HandleFunc("GET /api/user/emails", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(emails))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestGitHubPreset(t *testing.T) {
	gh := fakeGitHub(t, `[{"email":"octo@users.test","primary":true,"verified":true},{"email":"x@y.test","primary":false,"verified":true}]`)
	preset := func(cfg *Config) {
		cfg.Issuer, cfg.Preset = "", PresetGitHub
		cfg.AuthorizationEndpoint, cfg.TokenEndpoint, cfg.UserinfoEndpoint = gh.URL+"/login/oauth/authorize", gh.URL+"/login/oauth/access_token", gh.URL+"/api/user"
	}
	id, err := login(t, newConn(t, &fakeIdP{}, preset))
	if err != nil {
		t.Fatal(err)
	}
	if id.FullUserID() != "github|583231" || id.Nickname != "octocat" || id.Name != "The Octocat" || id.Email != "octo@users.test" ||
		!id.EmailVerified || id.Picture != "https://avatars.githubusercontent.com/u/583231?v=4" || id.Raw["company"] != "@github" {
		t.Fatalf("github identity: %+v", id)
	}
	// No verified primary email: the public one, unverified.
	gh2 := fakeGitHub(t, `[{"email":"octo@users.test","primary":true,"verified":false}]`)
	id, err = login(t, newConn(t, &fakeIdP{}, func(cfg *Config) {
		preset(cfg)
		cfg.AuthorizationEndpoint, cfg.TokenEndpoint, cfg.UserinfoEndpoint = gh2.URL+"/login/oauth/authorize", gh2.URL+"/login/oauth/access_token", gh2.URL+"/api/user"
	}))
	if err != nil {
		t.Fatal(err)
	}
	if id.Email != "public@octo.test" || id.EmailVerified {
		t.Fatalf("unverified github email: %+v", id)
	}
}
