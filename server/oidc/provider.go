// Package oidc is Authgraph's OpenID Provider: zitadel/oidc's op on an
// ent-backed op.Storage, with RS256 signing keys sealed by the master key.
//
// Today it serves machine-to-machine authentication: discovery, the JWKS and
// the token endpoint's client_credentials grant, issuing JWT access tokens
// for the management API (aud = {issuer}api/v2/), and the Verifier that
// /graphql uses to check them. The authorization code flow, refresh tokens,
// userinfo, revocation and end_session come later and extend storage,
// Provider's routes and the discovery document together.
package oidc

import (
	"context"
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

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
)

// Paths of the provider's endpoints, relative to the issuer.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/.well-known/jwks.json"
	TokenPath     = "/oauth/token"
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
	// CryptoKey is op's 32-byte key for encrypted (opaque) tokens and codes.
	// Nothing uses it yet, but the authorization code flow will, so every
	// node must share it: derive it with DeriveCryptoKey(masterKey). When
	// empty a random key is used (fine for a single process, tests).
	CryptoKey []byte
	// AccessTokenLifetime defaults to DefaultAccessTokenLifetime (86,400 s).
	// KeySet.Retention must stay above it.
	AccessTokenLifetime time.Duration
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
//	GET  /.well-known/openid-configuration   discovery (only what is implemented)
//	GET  /.well-known/jwks.json              public signing keys
//	POST /oauth/token                        client_credentials grant
//
// Mount it on the server's root mux for those full paths (for an issuer
// "https://h/auth/", "/auth/.well-known/…" and "/auth/oauth/token"; see
// Paths): it matches r.URL.Path including the issuer's path, so do not strip
// the prefix. Anything else under it is 404.
type Provider struct {
	issuer    string
	base      string // issuer path without its trailing slash: "" or "/auth"
	op        *op.Provider
	storage   *storage
	keys      *KeySet
	verifier  *Verifier
	log       *slog.Logger
	discovery []byte
}

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

	st := &storage{
		db:                  cfg.DB,
		keys:                cfg.Keys,
		log:                 log,
		managementAudience:  authz.ManagementAudience(cfg.Issuer),
		accessTokenLifetime: lifetime,
		now:                 time.Now,
	}
	opts := []op.Option{
		op.WithCustomKeysEndpoint(op.NewEndpoint(JWKSPath)),
		op.WithCustomTokenEndpoint(op.NewEndpoint(TokenPath)),
		// No CORS from op: Provider does not use op's router, and the token
		// endpoint will get per-client origins with the code flow.
		op.WithCORSOptions(nil),
	}
	if cfg.AllowInsecure {
		opts = append(opts, op.WithAllowInsecure())
	}
	opProvider, err := op.NewProvider(&op.Config{
		CryptoKey:      cryptoKey,
		AuthMethodPost: true,
		// Discovery is Provider's own document (discoveryDocument); these
		// keep op's view consistent with it.
		SupportedScopes: authz.ManagementScopes(),
		SupportedClaims: accessTokenClaims,
	}, st, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	p := &Provider{
		issuer:   cfg.Issuer,
		base:     strings.TrimSuffix(u.Path, "/"),
		op:       opProvider,
		storage:  st,
		keys:     cfg.Keys,
		verifier: NewVerifier(cfg.Issuer, cfg.Keys),
		log:      log,
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

// accessTokenClaims are the claims of our access tokens.
var accessTokenClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "azp", "gty"}

// discoveryDocument lists only what is implemented. OpenID Discovery calls
// authorization_endpoint and response_types_supported required; both are
// absent until the authorization code flow exists, because advertising them
// would send clients to an endpoint that does not work.
func (p *Provider) discoveryDocument() *oidc.DiscoveryConfiguration {
	return &oidc.DiscoveryConfiguration{
		Issuer:                            p.issuer,
		TokenEndpoint:                     p.URL(TokenPath),
		JwksURI:                           p.URL(JWKSPath),
		ScopesSupported:                   authz.ManagementScopes(),
		GrantTypesSupported:               []oidc.GrantType{oidc.GrantTypeClientCredentials},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{string(jose.RS256)},
		TokenEndpointAuthMethodsSupported: []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost},
		ClaimsSupported:                   accessTokenClaims,
	}
}

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// ManagementAudience returns the management API identifier, {issuer}api/v2/.
func (p *Provider) ManagementAudience() string { return p.storage.managementAudience }

// URL returns the absolute URL of an endpoint path (DiscoveryPath…).
func (p *Provider) URL(path string) string { return strings.TrimSuffix(p.issuer, "/") + path }

// Paths returns the request paths Provider serves, as the server's mux sees
// them (the issuer's path included).
func (p *Provider) Paths() []string {
	return []string{p.base + DiscoveryPath, p.base + JWKSPath, p.base + TokenPath}
}

// Verifier returns the management token verifier for this issuer and keys.
func (p *Provider) Verifier() *Verifier { return p.verifier }

// ServeHTTP implements http.Handler.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel, ok := strings.CutPrefix(r.URL.Path, p.base)
	if !ok {
		http.NotFound(w, r)
		return
	}
	ctx := op.ContextWithIssuer(r.Context(), p.issuer)
	r = r.WithContext(ctx)
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
	case TokenPath:
		p.tokenInterceptor(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			op.Exchange(w, r, p.op)
		})).ServeHTTP(w, r)
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

// tokenState carries what the token endpoint learns before op calls
// Storage: the `audience`/`resource` parameters (op drops them) and the
// client once authenticated (saving a second lookup).
type tokenState struct {
	audiences []string
	app       *ent.Application
}

type tokenStateKey struct{}

func tokenStateFrom(ctx context.Context) *tokenState {
	st, _ := ctx.Value(tokenStateKey{}).(*tokenState)
	return st
}

// tokenInterceptor is an op.HttpInterceptor for the token endpoint. It
//   - admits POST only, with a bounded body, no client credentials in the
//     query string, and no-store caching (RFC 6749 §5.1);
//   - admits only the grant types implemented (client_credentials), so op's
//     other grants (jwt-bearer is always on in op) are unreachable;
//   - refuses two client authentication methods in one request (RFC 6749
//     §2.3; op would let Basic silently win) and client assertions;
//   - reads `audience` (and RFC 8707 `resource`), which op never passes to
//     Storage, into the context for ClientCredentialsTokenRequest.
//
// Both client_secret_basic and client_secret_post are accepted from every
// confidential client: clients have no registered method to enforce.
func (p *Provider) tokenInterceptor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			tokenError(w, http.StatusMethodNotAllowed, oidc.ErrInvalidRequest().WithDescription("the token endpoint accepts POST only"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequestBytes)
		if err := r.ParseForm(); err != nil {
			tokenError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("malformed form body"))
			return
		}
		q := r.URL.Query()
		if q.Has("client_secret") || q.Has("client_assertion") {
			tokenError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("client credentials must not be sent in the URL"))
			return
		}
		switch gt := r.PostForm.Get("grant_type"); gt {
		case string(oidc.GrantTypeClientCredentials):
		case "":
			tokenError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("grant_type missing"))
			return
		default:
			tokenError(w, http.StatusBadRequest, oidc.ErrUnsupportedGrantType().WithDescription("supported grant types: client_credentials"))
			return
		}
		basicID, _, hasBasic := r.BasicAuth()
		if r.PostForm.Has("client_assertion") || r.PostForm.Has("client_assertion_type") {
			tokenError(w, http.StatusUnauthorized, oidc.ErrInvalidClient().WithDescription("supported client authentication: client_secret_basic, client_secret_post"))
			return
		}
		if hasBasic {
			if r.PostForm.Has("client_secret") {
				tokenError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("client authentication must not use more than one method"))
				return
			}
			if id := r.PostForm.Get("client_id"); id != "" {
				if dec, err := url.QueryUnescape(basicID); err != nil || dec != id {
					tokenError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("client_id differs from the authenticated client"))
					return
				}
			}
			// RFC 6749 §5.2: a failed Basic authentication answers 401
			// with a WWW-Authenticate challenge.
			w = &challengeWriter{ResponseWriter: w}
		}
		// op reads the whole form (query included) for scope and client_id;
		// only the body counts here, matching how clients send them.
		st := &tokenState{}
		st.audiences = append(st.audiences, r.PostForm["audience"]...)
		st.audiences = append(st.audiences, r.PostForm["resource"]...)
		r.Form = r.PostForm
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenStateKey{}, st)))
	})
}

// challengeWriter adds WWW-Authenticate to a 401 answer.
type challengeWriter struct{ http.ResponseWriter }

func (c *challengeWriter) WriteHeader(status int) {
	if status == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", `Basic realm="token", charset="UTF-8"`)
	}
	c.ResponseWriter.WriteHeader(status)
}

func tokenError(w http.ResponseWriter, status int, e *oidc.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}
