package server

import (
	"net/http"
	"strings"

	"github.com/authgraph/authgraph/internal/tracing"
)

// traced wraps the whole handler chain in a server span per request (when
// tracing is on), named by the mux pattern the request matches. The OpenID
// Provider is mounted at "/" and routes by path itself, so its fixed
// endpoints are named here; the management API names its own routes
// (tracing.SetRoute).
func traced(h http.Handler, mux *http.ServeMux, base string) http.Handler {
	oidcPaths := oidcRoutes(base) // the same names as the metrics' route label
	return tracing.Handler(h, func(r *http.Request) string {
		_, pattern := mux.Handler(r)
		// A pattern may carry a method ("GET /healthz"): the span name adds
		// the request's own.
		if i := strings.IndexByte(pattern, ' '); i >= 0 {
			pattern = pattern[i+1:]
		}
		if pattern == "/" {
			if route, ok := oidcPaths[r.URL.Path]; ok {
				return route
			}
		}
		if pattern == "" {
			return "unmatched"
		}
		return pattern
	})
}
