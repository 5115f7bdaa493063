package oidc

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/store"
)

// CORS for the endpoints browsers call directly (/oauth/token, /userinfo,
// /oauth/revoke): only origins some client registered in web_origins are
// allowed, echoed back one at a time (never "*"), without credentials (the
// endpoints take tokens, not cookies).
const (
	// originCacheTTL is how long the union of web origins is trusted.
	originCacheTTL = 30 * time.Second
	// originMinReload rate-limits reloads caused by unknown origins, so a
	// client registered a moment ago works within seconds.
	originMinReload = 5 * time.Second
	corsMaxAge      = "600"
)

type originCache struct {
	db     *ent.Client
	mu     sync.Mutex
	set    map[string]bool
	loaded time.Time
	now    func() time.Time
	// gen moves when applications change, through this node or (on
	// Postgres) another: the set is reloaded at once then.
	gen     func() uint64
	fromGen uint64
}

func newOriginCache(db *ent.Client) *originCache {
	return &originCache{db: db, now: time.Now, gen: store.Generation(db, ent.TypeApplication)}
}

// normalizeOrigin lowercases scheme and host and drops a trailing "/";
// "" when raw is not an http(s) origin.
func normalizeOrigin(raw string) string {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// allowed reports whether origin is some client's registered web origin.
func (c *originCache) allowed(ctx context.Context, origin string) (bool, error) {
	o := normalizeOrigin(origin)
	if o == "" {
		return false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	age := now.Sub(c.loaded)
	g := c.gen()
	if c.set != nil && g == c.fromGen && (age < originCacheTTL && (c.set[o] || age < originMinReload)) {
		return c.set[o], nil
	}
	apps, err := c.db.Application.Query().Select(application.FieldWebOrigins).All(authz.SystemContext(ctx))
	if err != nil {
		if c.set != nil {
			return c.set[o], nil
		}
		return false, err
	}
	set := map[string]bool{}
	for _, a := range apps {
		for _, w := range a.WebOrigins {
			// An origin registered before the registration rules
			// (clients/redirecturi.go) that breaks them is not trusted.
			if clients.ValidateWebOrigin(w) != nil {
				continue
			}
			if n := normalizeOrigin(w); n != "" {
				set[n] = true
			}
		}
	}
	c.set, c.loaded, c.fromGen = set, now, g
	return set[o], nil
}

// cors wraps an endpoint: preflights from allowed origins get 204 with the
// endpoint's methods, from others 403 without CORS headers; simple requests
// from allowed origins get Access-Control-Allow-Origin.
func (p *Provider) cors(w http.ResponseWriter, r *http.Request, methods []string, next http.HandlerFunc) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		next(w, r)
		return
	}
	w.Header().Add("Vary", "Origin")
	ok, err := p.origins.allowed(r.Context(), origin)
	if err != nil {
		p.logError(r.Context(), "cors: loading web origins", err)
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		if !ok {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if ok {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate")
	}
	next(w, r)
}
