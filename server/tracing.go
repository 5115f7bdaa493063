package server

import (
	"net/http"
	"strings"

	"github.com/authgraph/authgraph/internal/tracing"
	"github.com/authgraph/authgraph/server/oidc"
)

// traced wraps the whole handler chain in a server span per request (when
// tracing is on), named by the mux pattern the request matches. The OpenID
// Provider is mounted at "/" and routes by path itself, so its fixed
// endpoints are named here; the management API names its own routes
// (tracing.SetRoute).
func traced(h http.Handler, mux *http.ServeMux, base string) http.Handler {
	oidcPaths := map[string]bool{}
	for _, p := range []string{oidc.DiscoveryPath, oidc.JWKSPath, oidc.AuthorizePath, oidc.TokenPath,
		oidc.UserinfoPath, oidc.RevokePath, oidc.IntrospectPath, oidc.EndSessionPath} {
		oidcPaths[p] = true
	}
	base = strings.TrimSuffix(base, "/") // the provider's paths start with "/"
	return tracing.Handler(h, func(r *http.Request) string {
		_, pattern := mux.Handler(r)
		// A pattern may carry a method ("GET /healthz"): the span name adds
		// the request's own.
		if i := strings.IndexByte(pattern, ' '); i >= 0 {
			pattern = pattern[i+1:]
		}
		if pattern == "/" {
			if rel, ok := strings.CutPrefix(r.URL.Path, base); ok && oidcPaths[rel] {
				return base + rel
			}
		}
		if pattern == "" {
			return "unmatched"
		}
		return pattern
	})
}
