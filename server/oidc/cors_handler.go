package oidc

import "net/http"

// CORS wraps another endpoint that browsers call with tokens (the GraphQL
// API) in the same policy as /oauth/token and /userinfo: only origins some
// client registered in web_origins, echoed one at a time, no credentials.
func (p *Provider) CORS(next http.Handler, methods ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.cors(w, r, methods, next.ServeHTTP)
	})
}
