// Package dashboard serves the administrators' web UI at {issuer}dashboard/
// and an offline GraphQL playground (GraphiQL) at {issuer}playground.
//
// The dashboard has no private back door: it is a static single-page app
// that signs in through Authgraph's own /authorize with the built-in
// dashboard client (clients.DashboardClientName, PKCE) and calls only the
// public /graphql with the resulting management token. What an administrator
// may do is what that token's scopes allow (package admins grants them).
//
// Every asset is embedded (go:embed): the pages load with no internet
// access. Pages are served with a strict Content-Security-Policy (scripts
// and styles only from files of this server; no inline code), assets with
// strong ETags; versioned URLs (?v=<hash>, written into the HTML) are
// immutable for a year. The vendored GraphiQL/React files come from locked
// npm packages (web/package-lock.json) through `make dashboard-assets`.
package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/server/oidc"
)

//go:embed assets
var assetsFS embed.FS

// Config configures the Handler.
type Config struct {
	// Issuer is the issuer URL ending in "/"; the dashboard lives at
	// Issuer+"dashboard/", the playground at Issuer+"playground".
	Issuer string
	// DB finds the dashboard client (created by clients.EnsureDashboard).
	DB *ent.Client
	// Logger receives server-side failures. Default slog.Default().
	Logger *slog.Logger
}

// Handler serves the dashboard, its assets and the playground.
type Handler struct {
	base     string // issuer path: "/" or "/auth/"
	config   []byte // /dashboard/config.json
	pages    map[string][]byte
	assets   map[string]asset
	log      *slog.Logger
	modified time.Time
}

type asset struct {
	body  []byte
	etag  string
	ctype string
}

// Paths, relative to the issuer.
const (
	DashboardPath  = "dashboard/"
	PlaygroundPath = "playground"
	assetsPrefix   = "dashboard/assets/"
)

// Content-Security-Policy of the pages: nothing inline, nothing remote.
// connect-src 'self' covers /oauth/token and /graphql (same origin).
// GraphiQL's stylesheet embeds its fonts and icons as data: URLs.
const (
	cspDashboard  = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	cspPlayground = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)

// New builds the handler. The dashboard client must exist
// (clients.EnsureDashboard runs at every start, in server.Prepare).
func New(ctx context.Context, cfg Config) (*Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	app, err := clients.Dashboard(ctx, cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("finding the dashboard client: %w", err)
	}
	base := issuerPath(cfg.Issuer)
	h := &Handler{base: base, assets: map[string]asset{}, pages: map[string][]byte{}, log: cfg.Logger, modified: time.Now()}
	err = fs.WalkDir(assetsFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetsFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if path.Ext(p) == ".js" {
			ctype = "text/javascript; charset=utf-8"
		}
		h.assets[strings.TrimPrefix(p, "assets/")] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: ctype}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.config, err = json.Marshal(map[string]any{
		"issuer":      cfg.Issuer,
		"clientId":    app.ClientID,
		"redirectUri": cfg.Issuer + clients.DashboardCallbackPath,
		"logoutUri":   cfg.Issuer + DashboardPath,
		"audience":    authz.ManagementAudience(cfg.Issuer),
		"graphql":     cfg.Issuer + "graphql",
		"playground":  cfg.Issuer + PlaygroundPath,
		"dashboard":   cfg.Issuer + DashboardPath,
		"scopes":      authz.ManagementScopes(),
		// The search box's examples (examples.go).
		"searchExamples": SearchExamples,
	})
	if err != nil {
		return nil, err
	}
	// The HTML pages name assets by versioned URLs, so browsers cache
	// those forever and still pick up a new binary's files at once.
	funcs := template.FuncMap{"asset": func(name string) (string, error) {
		a, ok := h.assets[name]
		if !ok {
			return "", fmt.Errorf("no asset %q", name)
		}
		return base + assetsPrefix + name + "?v=" + strings.Trim(a.etag, `"`), nil
	}, "base": func() string { return base }}
	for _, name := range []string{"index.html", "playground.html"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(assetsFS, "assets/"+name)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, nil); err != nil {
			return nil, err
		}
		h.pages[name] = buf.Bytes()
	}
	return h, nil
}

// Register mounts the handler on mux under the issuer's path.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+h.base+"dashboard", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, h.base+DashboardPath, http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET "+h.base+DashboardPath+"config.json", h.serveConfig)
	mux.HandleFunc("GET "+h.base+assetsPrefix, h.serveAsset)
	// Every other path under dashboard/ (the OAuth callback included) is the
	// single-page app; it routes on the URL fragment.
	mux.HandleFunc("GET "+h.base+DashboardPath, func(w http.ResponseWriter, r *http.Request) {
		h.servePage(w, r, "index.html", cspDashboard)
	})
	mux.HandleFunc("GET "+h.base+PlaygroundPath, func(w http.ResponseWriter, r *http.Request) {
		h.servePage(w, r, "playground.html", cspPlayground)
	})
}

func securityHeaders(w http.ResponseWriter, csp string) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request, name, csp string) {
	securityHeaders(w, csp)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The page is tiny and names versioned assets: always revalidate it, and
	// never cache the callback URL (it carries the authorization code).
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(h.pages[name])
}

func (h *Handler) serveConfig(w http.ResponseWriter, _ *http.Request) {
	securityHeaders(w, cspDashboard)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(h.config)
}

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, h.base+assetsPrefix)
	a, ok := h.assets[name]
	if !ok || strings.HasSuffix(name, ".html") {
		http.NotFound(w, r)
		return
	}
	securityHeaders(w, cspDashboard)
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("ETag", a.etag)
	if v := r.URL.Query().Get("v"); v != "" && `"`+v+`"` == a.etag {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// Unversioned (ES module imports): revalidate with the ETag.
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", h.modified, bytes.NewReader(a.body))
}

// UserAPIScopes is the OpenID Provider's oidc.Config.UserAPIScopes: every
// user gets the self-service scopes they ask for (oidc.DefaultUserAPIScopes);
// an administrator signing in through the built-in dashboard client also
// gets the requested management scopes their AdminGrant holds. Other
// clients never receive administrator scopes, so signing in to some
// application cannot hand it the administrator's powers.
func UserAPIScopes(db *ent.Client) oidc.UserScopesFunc {
	return func(ctx context.Context, u *ent.User, app *ent.Application, api *oidc.API, requested []string) ([]string, error) {
		out, err := oidc.DefaultUserAPIScopes(ctx, u, app, api, requested)
		if err != nil || !api.Management || !clients.IsDashboard(app) || u == nil {
			return out, err
		}
		granted, err := admins.Scopes(ctx, db, u.ID)
		if err != nil {
			return nil, err
		}
		for _, s := range requested {
			if slices.Contains(granted, s) && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out, nil
	}
}

// issuerPath returns the path of the issuer URL ("/" or "/auth/").
func issuerPath(issuer string) string {
	rest := issuer
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.Index(rest, "/"); i >= 0 {
		return rest[i:]
	}
	return "/"
}
