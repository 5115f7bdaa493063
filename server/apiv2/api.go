// Package apiv2 serves Auth0's Management API v2 as REST under
// {issuer}api/v2/ — users, identities, blocks, tickets, jobs, logs,
// connections, clients, resource servers, roles, permissions, client
// grants, rules and MFA (Guardian) — so that code written against Auth0's SDKs
// (node-auth0, go-auth0, auth0-python) works by changing the domain. It is
// a transport: each handler parses Auth0's request shape, calls the same
// use case the GraphQL API calls, and writes Auth0's response shape. Tokens and scopes are the GraphQL API's: any
// access token for the audience {issuer}api/v2/ (a client's, or an
// administrator's through the dashboard).
package apiv2

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/authgraph/authgraph/internal/tracing"
	"github.com/authgraph/authgraph/metrics"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authgraph/authgraph/accounts"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/bulkimport"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/rulesrun"
	"github.com/authgraph/authgraph/store"
)

// Config holds the API's dependencies.
type Config struct {
	// Issuer is the OpenID issuer, ending in "/"; the API is served at
	// {Issuer}api/v2/.
	Issuer string
	DB     *ent.Client
	// Verify checks a bearer token for the management API audience and
	// returns its viewer (the OpenID Provider's verifier: the GraphQL API
	// uses the same one). Its errors say why; see Unavailable.
	Verify func(ctx context.Context, raw string) (*authz.Viewer, error)
	// Unavailable reports whether a Verify error is the server's fault
	// (keys or grants could not be read): 503, not 401.
	Unavailable func(error) bool
	// Accounts runs the user use cases (create, update, delete, link,
	// tickets, blocks).
	Accounts *accounts.Service
	// Connections manages connections and their options.
	Connections *connections.Service
	// Rules stores post-login rules.
	Rules *rulesrun.Service
	// Imports runs user import jobs.
	Imports *bulkimport.Service
	// MFA manages the tenant's MFA settings and users' authenticators.
	MFA *mfa.Service
	// VerifyIDToken checks an ID token of this issuer, issued to one of
	// its clients (account linking with link_with), and returns its
	// subject. Nil: link_with is refused.
	VerifyIDToken func(ctx context.Context, raw string) (sub string, err error)
	// RateLimit bounds each client's request rate; zero values take the
	// defaults, a negative PerSecond turns limiting off.
	RateLimit RateLimit
	Logger    *slog.Logger
}

// API is the REST handler of the Management API v2.
type API struct {
	cfg     Config
	base    string // the path prefix, "/…/api/v2"
	routes  []*Route
	limiter *limiter
	doc     openapiDoc
	// connNames caches connection names for rendering users' identities.
	connNames *store.Cache[struct{}, map[pulid.ID]string]
}

// Route is one endpoint. Its description feeds the OpenAPI document, so the
// document cannot drift from what is served.
type Route struct {
	Method string
	// Path is Auth0's path below /api/v2, with {name} segments:
	// "/users/{id}/identities/{provider}/{user_id}".
	Path string
	// Scopes: the caller must hold one of them (Auth0 says "expected any
	// of"); empty means any valid token.
	Scopes []string
	// AllScopes makes Scopes all required: Auth0 asks two for some calls
	// (a role's members: read:users and read:role_members).
	AllScopes bool
	// Summary and Description document the endpoint.
	Summary, Description string
	// Query documents the query parameters: a struct whose fields carry
	// `query:"name"` tags and `doc:"…"` texts.
	Query any
	// Body is the request body's Go type (nil: none). Unknown properties
	// are refused, as Auth0 does.
	Body any
	// Response is the success body's Go type (nil: none).
	Response any
	// Status is the success status; 0 means 200.
	Status int
	// Handle serves the request. It returns the body to encode (nil for
	// none) or an error that writeError maps to Auth0's error shape.
	Handle func(*Request) (any, error)

	segs []string
}

// Request is what a handler gets.
type Request struct {
	*http.Request
	// Params are the path's {name} values, unescaped.
	Params map[string]string
	api    *API
	w      http.ResponseWriter
}

// ExtendReadDeadline lets a route that takes a large upload read its body
// for longer than the server's ReadTimeout; it is called after the caller
// is authenticated and authorized, so anonymous clients cannot hold a
// connection open. It is best effort: a writer that cannot set deadlines
// keeps the server's.
func (r *Request) ExtendReadDeadline(d time.Duration) {
	if r.w != nil {
		_ = http.NewResponseController(r.w).SetReadDeadline(time.Now().Add(d))
	}
}

// Ctx is the request context, carrying the caller's viewer.
func (r *Request) Ctx() context.Context { return r.Context() }

// Param returns a path parameter.
func (r *Request) Param(name string) string { return r.Params[name] }

// New builds the API and its route table.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	u, _ := url.Parse(cfg.Issuer)
	base := "/api/v2"
	if u != nil {
		base = strings.TrimSuffix(u.Path, "/") + "/api/v2"
	}
	a := &API{cfg: cfg, base: base, limiter: newLimiter(cfg.RateLimit),
		connNames: store.NewCache[struct{}, map[pulid.ID]string](cfg.DB, clients.CacheTTL, 1, ent.TypeConnection).Named("apiv2_connection_names")}
	// One group of routes per resource, each in its own file.
	for _, group := range [][]*Route{
		a.userRoutes(),           // users.go
		a.identityRoutes(),       // identities.go
		a.userBlockRoutes(),      // blocks.go
		a.connectionRoutes(),     // connections.go
		a.clientRoutes(),         // clients.go
		a.resourceServerRoutes(), // resourceservers.go
		a.roleRoutes(),           // roles.go
		a.userRBACRoutes(),       // roles.go
		a.clientGrantRoutes(),    // clientgrants.go
		a.logRoutes(),            // logs.go
		a.ticketRoutes(),         // tickets.go
		a.jobRoutes(),            // jobs.go
		a.exportJobRoutes(),      // exportjobs.go
		a.ruleRoutes(),           // rules.go
		a.mfaRoutes(),            // mfa.go
		a.docRoutes(),            // openapi.go
	} {
		for _, rt := range group {
			rt.segs = strings.Split(strings.Trim(rt.Path, "/"), "/")
			a.routes = append(a.routes, rt)
		}
	}
	return a
}

// Prefixes are the paths the API is mounted at: {issuer}api/v2/ and, for an
// issuer with a path, /api/v2/ as well (Auth0's SDKs drop the path).
func (a *API) Prefixes() []string {
	if a.base == "/api/v2" {
		return []string{a.base + "/"}
	}
	return []string{a.base + "/", "/api/v2/"}
}

// ServeHTTP authenticates, rate-limits and routes a request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// SDKs escape ids ("auth0|abc" → "auth0%7Cabc", "/" → "%2F"): match on
	// the escaped path and unescape each segment on its own, so an escaped
	// "/" stays inside its segment.
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), a.base)
	if !ok {
		// Auth0's SDKs call {scheme}://{host}/api/v2/ whatever path the
		// domain had: an issuer with a path serves the API at the root too.
		rest, ok = strings.CutPrefix(r.URL.EscapedPath(), "/api/v2")
	}
	if !ok || (rest != "" && rest[0] != '/') {
		writeError(w, r, a.cfg.Logger, errNotFoundRoute)
		return
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	rt, params, allowed := a.match(r.Method, segs)
	if rt == nil {
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, r, a.cfg.Logger, &httpError{Status: http.StatusMethodNotAllowed, Message: "Method not allowed"})
			return
		}
		writeError(w, r, a.cfg.Logger, errNotFoundRoute)
		return
	}
	tracing.SetRoute(r, "/api/v2"+rt.Path) // the span's name: the route, not the ids
	metrics.SetRoute(w, "/api/v2"+rt.Path) // the requests' route label, likewise
	ctx := r.Context()
	if len(rt.Scopes) > 0 || rt.Path != "/openapi.json" {
		viewer, err := a.authenticate(ctx, r)
		if err != nil {
			if ae := new(httpError); errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			}
			writeError(w, r, a.cfg.Logger, err)
			return
		}
		// One bucket per client and subject: a machine client's tokens
		// share one, while administrators signed in through the same
		// dashboard client each get their own.
		if !a.limiter.allow(w, viewer.ClientID+"\x00"+viewer.Subject) {
			writeError(w, r, a.cfg.Logger, &httpError{Status: http.StatusTooManyRequests,
				Message: "Global limit has been reached", ErrorCode: "too_many_requests"})
			return
		}
		if rt.AllScopes && !holdsAll(viewer, rt.Scopes) {
			writeError(w, r, a.cfg.Logger, &httpError{Status: http.StatusForbidden,
				Message:   "Insufficient scope, expected all of: " + strings.Join(rt.Scopes, ","),
				ErrorCode: "insufficient_scope"})
			return
		}
		if len(rt.Scopes) > 0 && !holdsAny(viewer, rt.Scopes) {
			writeError(w, r, a.cfg.Logger, &httpError{Status: http.StatusForbidden,
				Message:   "Insufficient scope, expected any of: " + strings.Join(rt.Scopes, ","),
				ErrorCode: "insufficient_scope"})
			return
		}
		ctx = authz.NewContext(ctx, viewer)
	}
	req := &Request{Request: r.WithContext(ctx), Params: params, api: a, w: w}
	body, err := rt.Handle(req)
	if err != nil {
		writeError(w, r, a.cfg.Logger, err)
		return
	}
	status := rt.Status
	if status == 0 {
		status = http.StatusOK
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, body)
}

func (a *API) match(method string, segs []string) (*Route, map[string]string, []string) {
	var allowed []string
	for _, rt := range a.routes {
		params, ok := matchSegs(rt.segs, segs)
		if !ok {
			continue
		}
		if rt.Method != method && !(method == http.MethodHead && rt.Method == http.MethodGet) {
			allowed = append(allowed, rt.Method)
			continue
		}
		return rt, params, nil
	}
	return nil, nil, allowed
}

func matchSegs(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			v, err := url.PathUnescape(segs[i])
			if err != nil || v == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[strings.Trim(p, "{}")] = v
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

func (a *API) authenticate(ctx context.Context, r *http.Request) (*authz.Viewer, error) {
	h := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(h, " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, &httpError{Status: http.StatusUnauthorized, Message: "Missing authentication"}
	}
	v, err := a.cfg.Verify(ctx, raw)
	if err != nil {
		if a.cfg.Unavailable != nil && a.cfg.Unavailable(err) {
			return nil, &httpError{Status: http.StatusServiceUnavailable, Message: "Temporarily unavailable", RetryAfter: 1}
		}
		// The reason is the verifier's fixed text, never the token.
		return nil, &httpError{Status: http.StatusUnauthorized, Message: "Invalid token", Attributes: map[string]any{"error": err.Error()}}
	}
	return v, nil
}

func holdsAny(v *authz.Viewer, scopes []string) bool {
	for _, s := range scopes {
		if v.HasScope(s) {
			return true
		}
	}
	return false
}

func holdsAll(v *authz.Viewer, scopes []string) bool {
	for _, s := range scopes {
		if !v.HasScope(s) {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
}
