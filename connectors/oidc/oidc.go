// Package oidc signs users in through an OpenID Connect provider or an OAuth2
// social preset (strategy `oidc`): authorization code flow with PKCE, state
// and nonce; the ID token verified with coreos/go-oidc (signature from the
// provider's JWKS, issuer, audience, expiry) and its nonce checked; userinfo
// merged only when its `sub` equals the ID token's; Auth0-style
// attribute_map; upstream email_verified believed only with
// trust_email_verified.
//
// Presets: "google" (OIDC at accounts.google.com, user_id
// google-oauth2|<sub>) and "github" (plain OAuth2, no ID token: profile from
// GET /user, verified primary email from GET /user/emails, login→nickname,
// user_id github|<numeric id>). Every endpoint can be overridden.
package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/mapping"
	"github.com/authgraph/authgraph/outbound"
)

// Presets.
const (
	PresetGitHub = "github"
	PresetGoogle = "google"
)

// Providers (the user_id prefix).
const (
	ProviderOIDC   = "oidc"
	ProviderGitHub = "github"
	ProviderGoogle = "google-oauth2"
)

// Config is an `oidc` connection's options (docs/CONNECTIONS.md). Example:
//
//	{
//	  "issuer": "https://idp.corp.example/",
//	  "client_id": "authgraph",
//	  "client_secret": "…",
//	  "scope": "openid profile email",
//	  "attribute_map": {
//	    "mapping_mode": "use_map",
//	    "userinfo_scope": "groups",
//	    "attributes": {"nickname": "${context.tokenset.preferred_username}",
//	                   "department": "${context.userinfo.dept}"}
//	  },
//	  "trust_email_verified": true
//	}
//
// and for GitHub: {"preset": "github", "client_id": "…", "client_secret": "…"}.
type Config struct {
	Connection string
	// Issuer (or DiscoveryURL, ending in /.well-known/openid-configuration)
	// locates the provider's discovery document.
	Issuer, DiscoveryURL   string
	ClientID, ClientSecret string
	// Scopes default to openid profile email (read:user user:email for
	// GitHub).
	Scopes []string
	// AttributeMap is Auth0's attribute_map {mapping_mode, userinfo_scope,
	// attributes}.
	AttributeMap map[string]any
	// TrustEmailVerified believes the provider's email_verified claim
	// (always on for the Google and GitHub presets, whose verification the
	// presets know).
	TrustEmailVerified bool
	Preset             string
	// Endpoint overrides (tests point presets at in-process fakes).
	AuthorizationEndpoint, TokenEndpoint, UserinfoEndpoint string
	// AllowPrivateNetwork lets the provider's endpoints be on loopback or a
	// private network, over plain http too (option allow_private_network;
	// see package outbound).
	AllowPrivateNetwork bool
	// Failures is shared by the connectors of one service (outbound).
	Failures *outbound.FailureCache
}

// FromOptions builds a Config from a connection's options and secrets.
func FromOptions(name string, opts, secrets map[string]any) Config {
	s := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	am, _ := opts["attribute_map"].(map[string]any)
	cfg := Config{
		Connection: name, Issuer: s(opts, "issuer"), DiscoveryURL: s(opts, "discovery_url"),
		ClientID: s(opts, "client_id"), ClientSecret: s(secrets, "client_secret"),
		AttributeMap: am, Preset: s(opts, "preset"),
		AuthorizationEndpoint: s(opts, "authorization_endpoint"), TokenEndpoint: s(opts, "token_endpoint"),
		UserinfoEndpoint: s(opts, "userinfo_endpoint"),
	}
	cfg.TrustEmailVerified, _ = opts["trust_email_verified"].(bool)
	cfg.AllowPrivateNetwork, _ = opts["allow_private_network"].(bool)
	if sc := s(opts, "scope"); sc != "" {
		cfg.Scopes = strings.Fields(sc)
	}
	return cfg
}

// Connector is an OIDC/OAuth2 CallbackConnector.
type Connector struct {
	cfg    Config
	client *http.Client

	mu       sync.Mutex
	provider *gooidc.Provider // discovered lazily, so a provider down at startup does not break the server
	// failed remembers a failed discovery, including a document that came
	// back but is refused (issuer mismatch, bad JSON), which the outbound
	// failure cache does not see.
	failed     error
	failedTill time.Time
}

var (
	_ connectors.CallbackConnector = (*Connector)(nil)
	_ connectors.RefreshConnector  = (*Connector)(nil)
)

// New validates cfg.
func New(cfg Config) (*Connector, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: oidc: %s", connectors.ErrConfig, fmt.Sprintf(format, args...))
	}
	if cfg.ClientID == "" {
		return nil, bad("client_id is required")
	}
	switch cfg.Preset {
	case PresetGitHub:
		cfg.TrustEmailVerified = true // from /user/emails, verified by GitHub
		def(&cfg.AuthorizationEndpoint, "https://github.com/login/oauth/authorize")
		def(&cfg.TokenEndpoint, "https://github.com/login/oauth/access_token")
		def(&cfg.UserinfoEndpoint, "https://api.github.com/user")
		if len(cfg.Scopes) == 0 {
			cfg.Scopes = []string{"read:user", "user:email"}
		}
	case PresetGoogle:
		cfg.TrustEmailVerified = true
		def(&cfg.Issuer, "https://accounts.google.com")
	case "":
	default:
		return nil, bad("unknown preset %q", cfg.Preset)
	}
	if cfg.DiscoveryURL != "" && cfg.Issuer == "" {
		cfg.Issuer = strings.TrimSuffix(strings.TrimSuffix(cfg.DiscoveryURL, "/.well-known/openid-configuration"), "/")
	}
	if cfg.Preset != PresetGitHub && cfg.Issuer == "" {
		return nil, bad("issuer or discovery_url is required")
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{gooidc.ScopeOpenID, "profile", "email"}
	}
	if cfg.Preset != PresetGitHub && !contains(cfg.Scopes, gooidc.ScopeOpenID) {
		cfg.Scopes = append([]string{gooidc.ScopeOpenID}, cfg.Scopes...)
	}
	if us, _ := cfg.AttributeMap["userinfo_scope"].(string); us != "" {
		for _, sc := range strings.Fields(us) {
			if !contains(cfg.Scopes, sc) {
				cfg.Scopes = append(cfg.Scopes, sc)
			}
		}
	}
	// Discovery, JWKS, token, userinfo and the GitHub API all go through
	// this client (c.ctx hands it to go-oidc and x/oauth2).
	client := outbound.New(outbound.Options{AllowPrivateNetwork: cfg.AllowPrivateNetwork, Failures: cfg.Failures})
	return &Connector{cfg: cfg, client: client}, nil
}

func def(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *Connector) ctx(ctx context.Context) context.Context {
	return gooidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, c.client), c.client)
}

// discover returns the provider (OIDC only), discovering it once.
func (c *Connector) discover(ctx context.Context) (*gooidc.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, nil
	}
	if c.failed != nil && time.Now().Before(c.failedTill) {
		return nil, c.failed
	}
	p, err := gooidc.NewProvider(c.ctx(ctx), c.cfg.Issuer)
	if err != nil {
		err = connectors.Unavailable(fmt.Errorf("oidc discovery of %s: %w", c.cfg.Issuer, err))
		if ctx.Err() == nil { // the caller giving up is not the provider's failure
			c.failed, c.failedTill = err, time.Now().Add(outbound.DefaultFailureTTL)
		}
		return nil, err
	}
	c.provider = p
	return p, nil
}

func (c *Connector) oauth2Config(ctx context.Context, callbackURL string) (*oauth2.Config, *gooidc.Provider, error) {
	oc := &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, RedirectURL: callbackURL, Scopes: c.cfg.Scopes}
	var p *gooidc.Provider
	if c.cfg.Preset != PresetGitHub {
		var err error
		if p, err = c.discover(ctx); err != nil {
			return nil, nil, err
		}
		oc.Endpoint = p.Endpoint()
	}
	if c.cfg.AuthorizationEndpoint != "" {
		oc.Endpoint.AuthURL = c.cfg.AuthorizationEndpoint
	}
	if c.cfg.TokenEndpoint != "" {
		oc.Endpoint.TokenURL = c.cfg.TokenEndpoint
	}
	return oc, p, nil
}

// pending is what LoginURL hands the caller to keep until the callback.
type pending struct {
	Verifier string `json:"v"`
	Nonce    string `json:"n,omitempty"`
}

// LoginURL implements connectors.CallbackConnector.
func (c *Connector) LoginURL(ctx context.Context, callbackURL, state string) (string, []byte, error) {
	oc, _, err := c.oauth2Config(ctx, callbackURL)
	if err != nil {
		return "", nil, err
	}
	p := pending{Verifier: oauth2.GenerateVerifier()}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(p.Verifier)}
	if c.cfg.Preset != PresetGitHub {
		p.Nonce = random()
		opts = append(opts, gooidc.Nonce(p.Nonce))
	}
	b, _ := json.Marshal(p)
	return oc.AuthCodeURL(state, opts...), b, nil
}

func random() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HandleCallback implements connectors.CallbackConnector.
func (c *Connector) HandleCallback(ctx context.Context, callbackURL string, pendingData []byte, r *http.Request) (connectors.Identity, error) {
	var none connectors.Identity
	var p pending
	if err := json.Unmarshal(pendingData, &p); err != nil || p.Verifier == "" {
		return none, connectors.Invalid("oidc: no pending login")
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return none, connectors.Invalid("oidc: the provider answered %s: %s", truncate(e, 64), truncate(q.Get("error_description"), 200))
	}
	code := q.Get("code")
	if code == "" {
		return none, connectors.Invalid("oidc: callback without a code")
	}
	oc, provider, err := c.oauth2Config(ctx, callbackURL)
	if err != nil {
		return none, err
	}
	tok, err := oc.Exchange(c.ctx(ctx), code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return none, connectors.Invalid("oidc: code exchange refused: %v", re.ErrorCode)
		}
		return none, connectors.Unavailable(fmt.Errorf("oidc: code exchange: %w", err))
	}
	tokens := &connectors.Tokens{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry}
	if c.cfg.Preset == PresetGitHub {
		return c.github(ctx, tok, tokens)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return none, connectors.Invalid("oidc: the token response has no id_token")
	}
	tokens.IDToken = rawID
	return c.fromIDToken(ctx, provider, tok, rawID, p.Nonce, tokens)
}

func (c *Connector) fromIDToken(ctx context.Context, provider *gooidc.Provider, tok *oauth2.Token, rawID, nonce string, tokens *connectors.Tokens) (connectors.Identity, error) {
	var none connectors.Identity
	idt, err := provider.Verifier(&gooidc.Config{ClientID: c.cfg.ClientID}).Verify(c.ctx(ctx), rawID)
	if err != nil {
		return none, connectors.Invalid("oidc: id token: %v", err)
	}
	if nonce != "" && idt.Nonce != nonce {
		return none, connectors.Invalid("oidc: id token nonce does not match the login's")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return none, connectors.Invalid("oidc: id token claims: %v", err)
	}
	userinfo := map[string]any{}
	if c.userinfoURL(provider) != "" && tok != nil {
		ui, err := c.userinfo(ctx, provider, tok)
		if err != nil {
			return none, err
		}
		// Claims about another subject are ignored (OIDC Core §5.3.2).
		if sub, _ := ui["sub"].(string); sub == idt.Subject {
			userinfo = ui
		}
	}
	profile := mapping.AttributeMap(c.cfg.AttributeMap, claims, userinfo)
	raw := map[string]any{}
	for k, v := range claims {
		raw[k] = v
	}
	for k, v := range userinfo {
		raw[k] = v
	}
	for _, k := range []string{"aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "auth_time", "azp", "sid", "jti", "amr", "acr"} {
		delete(raw, k)
	}
	for k, v := range profile {
		raw[k] = v
	}
	id := connectors.Identity{Provider: ProviderOIDC, Raw: raw, Tokens: tokens}
	mapping.Apply(&id, mapping.OIDC, profile)
	if !c.cfg.TrustEmailVerified {
		id.EmailVerified = false
	}
	if c.cfg.Preset == PresetGoogle {
		id.Provider, id.UserID = ProviderGoogle, idt.Subject
	} else {
		id.UserID = c.cfg.Connection + "|" + idt.Subject
	}
	return id, nil
}

func (c *Connector) userinfoURL(p *gooidc.Provider) string {
	if c.cfg.UserinfoEndpoint != "" {
		return c.cfg.UserinfoEndpoint
	}
	if p != nil {
		return p.UserInfoEndpoint()
	}
	return ""
}

// userinfo GETs the userinfo endpoint (plain JSON; a signed userinfo is not
// supported) with the access token.
func (c *Connector) userinfo(ctx context.Context, p *gooidc.Provider, tok *oauth2.Token) (map[string]any, error) {
	out := map[string]any{}
	if err := c.getJSON(ctx, c.userinfoURL(p), tok.AccessToken, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *Connector) getJSON(ctx context.Context, url, accessToken string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", connectors.ErrConfig, err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return connectors.Unavailable(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // capped by the outbound client (ErrTooLarge)
	if err != nil {
		return connectors.Unavailable(err)
	}
	if resp.StatusCode >= 500 {
		return connectors.Unavailable(fmt.Errorf("GET %s: %s", url, resp.Status))
	}
	if resp.StatusCode != http.StatusOK {
		return connectors.Invalid("GET %s: %s", url, resp.Status)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return connectors.Invalid("GET %s: %v", url, err)
	}
	return nil
}

// github builds the identity from GitHub's API: GET /user, and GET
// /user/emails for the verified primary address (the profile's public
// email may be unset or unverified).
func (c *Connector) github(ctx context.Context, tok *oauth2.Token, tokens *connectors.Tokens) (connectors.Identity, error) {
	var none connectors.Identity
	user := map[string]any{}
	if err := c.getJSON(ctx, c.cfg.UserinfoEndpoint, tok.AccessToken, &user); err != nil {
		return none, err
	}
	idNum, ok := user["id"].(float64)
	if !ok || idNum <= 0 || idNum != float64(int64(idNum)) {
		return none, connectors.Invalid("github: /user has no numeric id")
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := c.getJSON(ctx, strings.TrimSuffix(c.cfg.UserinfoEndpoint, "/")+"/emails", tok.AccessToken, &emails); err != nil {
		return none, err
	}
	delete(user, "email_verified")
	public, _ := user["email"].(string)
	user["email"], user["email_verified"] = nil, false
	for _, e := range emails {
		if e.Primary && e.Verified {
			user["email"], user["email_verified"] = e.Email, true
		}
	}
	if user["email"] == nil && public != "" {
		user["email"] = public // shown, but not verified
	}
	id := connectors.Identity{Provider: ProviderGitHub, UserID: strconv.FormatInt(int64(idNum), 10), Raw: user, Tokens: tokens}
	mapping.Apply(&id, mapping.GitHub, user)
	return id, nil
}

// Refresh implements connectors.RefreshConnector with the upstream refresh
// token (OIDC only).
func (c *Connector) Refresh(ctx context.Context, ident connectors.Identity) (connectors.Identity, error) {
	if ident.Tokens == nil || ident.Tokens.RefreshToken == "" {
		return connectors.Identity{}, connectors.Invalid("oidc: no upstream refresh token")
	}
	oc, provider, err := c.oauth2Config(ctx, "")
	if err != nil {
		return connectors.Identity{}, err
	}
	tok, err := oc.TokenSource(c.ctx(ctx), &oauth2.Token{RefreshToken: ident.Tokens.RefreshToken}).Token()
	if err != nil {
		return connectors.Identity{}, connectors.Invalid("oidc: refresh: %v", err)
	}
	tokens := &connectors.Tokens{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry}
	if tokens.RefreshToken == "" {
		tokens.RefreshToken = ident.Tokens.RefreshToken
	}
	if c.cfg.Preset == PresetGitHub {
		return c.github(ctx, tok, tokens)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return connectors.Identity{}, connectors.Invalid("oidc: refresh returned no id_token")
	}
	tokens.IDToken = rawID
	return c.fromIDToken(ctx, provider, tok, rawID, "", tokens)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
