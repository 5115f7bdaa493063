// Package oidc is Authgraph's OpenID Provider, with RS256 signing keys
// sealed by the master key.
//
// It serves the authorization code flow with PKCE (/authorize, handing the
// browser to the hosted login page through loginflow.Handoff), the token
// endpoint (authorization_code, refresh_token with rotation and reuse
// detection, client_credentials), /userinfo, revocation (RFC 7009),
// introspection (RFC 7662), RP-initiated logout, discovery and the JWKS.
//
// Every grant is served by Authgraph's own handlers built on zitadel's oidc
// types (op remains for its request decoder): client_credentials because it
// is the hottest path (client_credentials.go), the user flows because what
// they must do lives outside op's model:
// one Grant row per code or refresh chain whose revocation kills every token
// it issued, access tokens for an `audience` other than the ID token's,
// RFC 9068 `at+jwt` access tokens, hashed single-use codes whose reuse
// revokes, refresh-token reuse detection, and the `claims` parameter.
package oidc

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authn/loginstore"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/metrics"
	"github.com/authgraph/authgraph/server/loginflow"
	"github.com/authgraph/authgraph/sessions"
	"github.com/authgraph/authgraph/store"
)

// Paths of the provider's endpoints, relative to the issuer.
const (
	DiscoveryPath  = "/.well-known/openid-configuration"
	JWKSPath       = "/.well-known/jwks.json"
	AuthorizePath  = "/authorize"
	TokenPath      = "/oauth/token"
	UserinfoPath   = "/userinfo"
	RevokePath     = "/oauth/revoke"
	IntrospectPath = "/oauth/introspect"
	// EndSessionPath is RP-initiated logout (Auth0's /oidc/logout).
	EndSessionPath = "/oidc/logout"
	// LoginPath is the hosted login page (server/login), not served here:
	// /authorize sends the browser to {issuer}login?req=<auth request id>.
	LoginPath = "/login"
)

// maxTokenRequestBytes bounds a token request body: a client_credentials
// request is a few hundred bytes.
const maxTokenRequestBytes = 64 << 10

// Config configures a Provider.
type Config struct {
	// Issuer is the issuer URL exactly as clients see it, ending in "/"
	// ("https://id.example.com/" or "https://example.com/auth/"). Tokens
	// carry it as `iss`; the management API identifier is Issuer+"api/v2/".
	Issuer string
	// DB is the ent client; the provider reads clients and keys as the
	// system (authz.SystemContext).
	DB *ent.Client
	// Keys are the signing keys; call Keys.Ensure before serving.
	Keys *KeySet
	// AllowInsecure accepts an http:// issuer. The server sets it only for a
	// loopback issuer; New refuses http on any other host regardless.
	AllowInsecure bool
	// Logger receives server-side failures (never a token or secret).
	// Default slog.Default().
	Logger *slog.Logger
	// CryptoKey is op's 32-byte key for encrypted (opaque) tokens. Derive it
	// with DeriveCryptoKey(masterKey) so every node shares it. When empty a
	// random key is used (fine for a single process, tests).
	CryptoKey []byte
	// PreviousCryptoKeys are derived from the previous master keys during a
	// master key rotation: what they sealed or bound (opaque access tokens,
	// machine token secret bindings, logout confirmations) stays valid;
	// only CryptoKey makes new ones.
	PreviousCryptoKeys [][]byte
	// AccessTokenLifetime is the lifetime of client_credentials tokens
	// (default DefaultAccessTokenLifetime, 86,400 s). User access tokens
	// take their API's token_lifetime. KeySet.Retention must stay above both.
	AccessTokenLifetime time.Duration
	// Sessions finds and ends SSO sessions (/authorize skips the login page
	// when the browser has a usable one; end_session ends it). The server
	// must give the login page the same Manager (same cookie Path and
	// Secure). Default: a Manager on DB with Secure for an https issuer and
	// Path the issuer's path.
	Sessions *sessions.Manager
	// Claims is the rules engine's hook (nil: no custom claims). See
	// ClaimsHook.
	Claims ClaimsHook
	// UserAPIScopes decides which of the requested API scopes a user gets
	// (nil: DefaultUserAPIScopes). See UserScopesFunc.
	UserAPIScopes UserScopesFunc
	// Authorization is RBAC (package rbac's Authorizer): a user's roles and
	// permissions for APIs that enforce policies, client grants for machine
	// tokens of registered APIs. Nil: no RBAC (an API's scopes go to every
	// user who asks, and machine tokens are for the management API only).
	Authorization Authorization
	// MFA is the tenant's second-factor policy (package mfa's Service). Nil
	// applies no policy: only acr_values or a rule then ask for a second
	// factor.
	MFA MFA
	// Metrics counts logins (through authn) and token issuance (nil: not
	// measured).
	Metrics *metrics.Registry
}

// DeriveCryptoKey derives op's crypto key from the master key (HKDF-SHA256,
// info "authgraph oidc op crypto key"), so the key is stable across nodes
// and restarts without another secret to configure.
func DeriveCryptoKey(masterKey []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, masterKey, nil, "authgraph oidc op crypto key", 32)
}

// Provider is the OpenID Provider's HTTP handler. It serves, under the
// issuer's path:
//
//	GET       /.well-known/openid-configuration   discovery (only what is implemented)
//	GET       /.well-known/jwks.json              public signing keys
//	GET, POST /authorize                          authorization code flow
//	POST      /oauth/token                        authorization_code, refresh_token, client_credentials
//	GET, POST /userinfo                           claims of the token's user
//	POST      /oauth/revoke                       RFC 7009
//	POST      /oauth/introspect                   RFC 7662 (confidential clients)
//	GET, POST /oidc/logout                        RP-initiated logout
//
// Mount it on the server's root mux for those full paths (for an issuer
// "https://h/auth/", "/auth/authorize" and so on; see Paths): it matches
// r.URL.Path including the issuer's path, so do not strip the prefix.
// Anything else under it is 404. The login page ({issuer}login) is
// server/login's, which drives logins through Provider's loginflow.Handoff
// methods (Request, Complete, Fail).
type Provider struct {
	issuer    string
	base      string // issuer path without its trailing slash: "" or "/auth"
	op        *op.Provider
	storage   *storage
	keys      *KeySet
	verifier  *Verifier
	log       *slog.Logger
	discovery []byte

	db                 *ent.Client
	transient          *ent.Client // db for the writes of a login in progress (store/transient.go)
	sessions           *sessions.Manager
	claimsHook         ClaimsHook
	userAPIScopes      UserScopesFunc
	authorization      Authorization
	mfa                MFA
	finalizer          *authn.Finalizer
	managementAudience string
	userinfoAudience   string
	// accessTokenLifetime is client_credentials tokens' (Config).
	accessTokenLifetime time.Duration
	signers             *signerCache
	origins             *originCache
	// Read caches (cache.go): clients, connections, APIs and the auth
	// requests this node created.
	clients    *clients.Cache
	conns      *store.Cache[struct{}, []*ent.Connection]
	apis       *store.Cache[string, *ent.ResourceServer]
	requests   *pendingCache // by auth request id
	codes      *pendingCache // by code hash
	logoutKeys [][]byte      // the current key first, then previous master keys'
	// opaque seals the access tokens good only at /userinfo (opaque.go).
	opaque  *opaqueSealer
	metrics *metrics.Registry
	now     func() time.Time
}

var _ loginflow.Handoff = (*Provider)(nil)

// New builds a Provider.
func New(cfg Config) (*Provider, error) {
	if cfg.DB == nil || cfg.Keys == nil {
		return nil, errors.New("oidc: Config.DB and Config.Keys are required")
	}
	u, err := checkIssuer(cfg.Issuer, cfg.AllowInsecure)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	lifetime := cfg.AccessTokenLifetime
	if lifetime <= 0 {
		lifetime = DefaultAccessTokenLifetime
	}
	var cryptoKey [32]byte
	switch len(cfg.CryptoKey) {
	case 0:
		if _, err := rand.Read(cryptoKey[:]); err != nil {
			return nil, err
		}
	case 32:
		copy(cryptoKey[:], cfg.CryptoKey)
	default:
		return nil, fmt.Errorf("oidc: CryptoKey must be 32 bytes, got %d", len(cfg.CryptoKey))
	}
	base := strings.TrimSuffix(u.Path, "/")

	st := &storage{
		db:      cfg.DB,
		clients: clients.NewCache(cfg.DB),
		keys:    cfg.Keys,
		log:     log,
	}
	opts := []op.Option{
		op.WithCustomKeysEndpoint(op.NewEndpoint(JWKSPath)),
		op.WithCustomTokenEndpoint(op.NewEndpoint(TokenPath)),
		// No CORS from op: Provider does not use op's router; /oauth/token
		// and /userinfo get per-client web origins (cors.go).
		op.WithCORSOptions(nil),
	}
	if cfg.AllowInsecure {
		opts = append(opts, op.WithAllowInsecure())
	}
	opProvider, err := op.NewProvider(&op.Config{
		CryptoKey:      cryptoKey,
		AuthMethodPost: true,
		// op serves no endpoint (its decoder parses authorization
		// requests); discovery is Provider's own document.
		SupportedScopes: authz.ManagementScopes(),
		SupportedClaims: accessTokenClaims,
	}, st, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	sm := cfg.Sessions
	if sm == nil {
		sm = &sessions.Manager{DB: cfg.DB, Secure: u.Scheme == "https", Path: base + "/"}
	}
	p := &Provider{
		issuer:              cfg.Issuer,
		base:                base,
		op:                  opProvider,
		storage:             st,
		keys:                cfg.Keys,
		log:                 log,
		db:                  cfg.DB,
		transient:           store.TransientOf(cfg.DB),
		sessions:            sm,
		claimsHook:          cfg.Claims,
		userAPIScopes:       cfg.UserAPIScopes,
		authorization:       cfg.Authorization,
		mfa:                 cfg.MFA,
		managementAudience:  authz.ManagementAudience(cfg.Issuer),
		userinfoAudience:    cfg.Issuer + "userinfo",
		accessTokenLifetime: lifetime,
		signers:             newSignerCache(),
		origins:             newOriginCache(cfg.DB),
		clients:             st.clients,
		conns:               store.NewCache[struct{}, []*ent.Connection](cfg.DB, clients.CacheTTL, 1, ent.TypeConnection).Named("oidc_connections"),
		apis:                store.NewCache[string, *ent.ResourceServer](cfg.DB, clients.CacheTTL, 1024, ent.TypeResourceServer).Named("oidc_apis"),
		requests:            newPendingCache(),
		codes:               newPendingCache(),
		metrics:             cfg.Metrics,
		now:                 time.Now,
	}
	cryptoKeys := append([][]byte{cryptoKey[:]}, cfg.PreviousCryptoKeys...)
	for _, k := range cryptoKeys {
		if len(k) != 32 {
			return nil, fmt.Errorf("oidc: PreviousCryptoKeys must be 32 bytes, got %d", len(k))
		}
		lk, err := hkdf.Key(sha256.New, k, nil, "authgraph logout confirmation", 32)
		if err != nil {
			return nil, err
		}
		p.logoutKeys = append(p.logoutKeys, lk)
	}
	if p.opaque, err = newOpaqueSealer(cryptoKeys...); err != nil {
		return nil, err
	}
	if p.userAPIScopes == nil {
		p.userAPIScopes = DefaultUserAPIScopes
	}
	// Every login is decided by authn.Finalize (docs/ARCHITECTURE.md).
	if p.finalizer, err = authn.New(authn.Deps{
		Users: finalizeUsers{db: cfg.DB}, Grants: finalizeGrants{p: p}, Rules: finalizeRules{p: p}, MFA: cfg.MFA,
		Store: loginstore.New(cfg.DB), Sessions: sm,
		Logger: log, Now: func() time.Time { return p.now() }, Metrics: cfg.Metrics,
	}); err != nil {
		return nil, err
	}
	p.verifier = NewVerifier(cfg.Issuer, cfg.Keys)
	p.verifier.grants = newGrantChecker(cfg.DB)
	p.verifier.opaque = p.opaque
	p.verifier.machines = &machineTokens{clients: p.clients}
	for _, k := range cryptoKeys {
		mk, err := hkdf.Key(sha256.New, k, nil, "authgraph machine token secret binding", 32)
		if err != nil {
			return nil, err
		}
		p.verifier.machines.keys = append(p.verifier.machines.keys, mk)
	}
	p.discovery, err = json.Marshal(p.discoveryDocument())
	if err != nil {
		return nil, err
	}
	return p, nil
}

// checkIssuer validates the issuer: absolute, ending in "/", no query,
// fragment or credentials; https, or http on a loopback host with
// allowInsecure.
func checkIssuer(issuer string, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("oidc: issuer %q must be an absolute URL without credentials, query or fragment", issuer)
	}
	if !strings.HasSuffix(u.Path, "/") {
		return nil, fmt.Errorf("oidc: issuer %q must end with \"/\" (the management API identifier is {issuer}api/v2/)", issuer)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowInsecure || !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("oidc: an http issuer is accepted only on a loopback address (%q)", issuer)
		}
	default:
		return nil, fmt.Errorf("oidc: issuer %q must use https", issuer)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// accessTokenClaims are the claims of client_credentials access tokens.
var accessTokenClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "azp", "gty"}

// discoveryDocument is OpenID Provider metadata listing exactly what is
// implemented.
func (p *Provider) discoveryDocument() map[string]any {
	claims := []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "amr", "acr", "sid"}
	for _, sc := range []string{oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeAddress} {
		claims = append(claims, scopeClaims[sc]...)
	}
	return map[string]any{
		"issuer":                                        p.issuer,
		"authorization_endpoint":                        p.URL(AuthorizePath),
		"token_endpoint":                                p.URL(TokenPath),
		"userinfo_endpoint":                             p.URL(UserinfoPath),
		"jwks_uri":                                      p.URL(JWKSPath),
		"revocation_endpoint":                           p.URL(RevokePath),
		"introspection_endpoint":                        p.URL(IntrospectPath),
		"end_session_endpoint":                          p.URL(EndSessionPath),
		"scopes_supported":                              oidcScopes,
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query", "form_post"},
		"grant_types_supported":                         []string{"authorization_code", "refresh_token", "client_credentials"},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         []string{string(jose.RS256)},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":              []string{"S256"},
		"claims_parameter_supported":                    true,
		"request_parameter_supported":                   false,
		"request_uri_parameter_supported":               false,
		"claims_supported":                              claims,
		"prompt_values_supported":                       []string{"none", "login", "consent", "select_account"},
		"acr_values_supported":                          []string{loginflow.MultiFactorACR},
	}
}

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// ManagementAudience returns the management API identifier, {issuer}api/v2/.
func (p *Provider) ManagementAudience() string { return p.managementAudience }

// URL returns the absolute URL of an endpoint path (DiscoveryPath…).
func (p *Provider) URL(path string) string { return strings.TrimSuffix(p.issuer, "/") + path }

// Paths returns the request paths Provider serves, as the server's mux sees
// them (the issuer's path included).
func (p *Provider) Paths() []string {
	out := make([]string, 0, 8)
	for _, path := range []string{DiscoveryPath, JWKSPath, AuthorizePath, TokenPath, UserinfoPath, RevokePath, IntrospectPath, EndSessionPath} {
		out = append(out, p.base+path)
	}
	return out
}

// Verifier returns the management token verifier for this issuer and keys.
// It also refuses user tokens whose grant was revoked (logout, block,
// refresh-token reuse), looking the grant up at most every few seconds.
func (p *Provider) Verifier() *Verifier { return p.verifier }

// Sessions returns the SSO session manager the provider uses.
func (p *Provider) Sessions() *sessions.Manager { return p.sessions }

// ServeHTTP implements http.Handler.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel, ok := strings.CutPrefix(r.URL.Path, p.base)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch rel {
	case DiscoveryPath:
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		publicDocumentHeaders(w)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(p.discovery)
	case JWKSPath:
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		p.serveJWKS(w, r)
	case AuthorizePath:
		if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		p.serveAuthorize(w, r)
	case TokenPath:
		p.cors(w, r, []string{http.MethodPost}, p.serveToken)
	case UserinfoPath:
		p.cors(w, r, []string{http.MethodGet, http.MethodPost}, p.serveUserinfo)
	case RevokePath:
		p.cors(w, r, []string{http.MethodPost}, p.serveRevoke)
	case IntrospectPath:
		p.serveIntrospect(w, r)
	case EndSessionPath:
		if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		p.serveEndSession(w, r)
	default:
		http.NotFound(w, r)
	}
}

func publicDocumentHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	// Public documents: browsers on any origin may read them (no
	// credentials involved).
	w.Header().Set("Access-Control-Allow-Origin", "*")
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	keys, err := p.keys.PublicKeys(r.Context())
	if err != nil {
		p.log.ErrorContext(r.Context(), "oidc: jwks", slog.Any("error", err))
		http.Error(w, "signing keys unavailable", http.StatusServiceUnavailable)
		return
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{
			KeyID: k.ID(), Algorithm: string(k.Algorithm()), Use: k.Use(), Key: k.Key(),
		})
	}
	body, err := json.Marshal(set)
	if err != nil {
		p.log.ErrorContext(r.Context(), "oidc: jwks", slog.Any("error", err))
		http.Error(w, "signing keys unavailable", http.StatusInternalServerError)
		return
	}
	publicDocumentHeaders(w)
	// Short: a rotation adds a key that verifiers must find quickly
	// (go-oidc also refetches on an unknown kid).
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(body)
}

func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}
