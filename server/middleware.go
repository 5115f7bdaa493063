package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/graph"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/server/oidc"
)

// requireManagementToken admits only requests bearing a valid management
// access token and puts its viewer in the context; ent privacy policies then
// check scopes on every object the operation touches.
func requireManagementToken(v *oidc.Verifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		raw, ok := bearer(r)
		if !ok {
			unauthenticated(w, "missing bearer token", "")
			return
		}
		viewer, err := v.Verify(r.Context(), raw)
		if errors.Is(err, oidc.ErrGrantsUnavailable) || errors.Is(err, oidc.ErrKeysUnavailable) {
			// Our fault, not the token's: say so, and let the client retry.
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"errors":[{"message":"temporarily unavailable","extensions":{"code":"UNAVAILABLE"}}]}`, http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			// The reason is the verifier's sentinel text, never the token.
			unauthenticated(w, "invalid access token", err.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(authz.NewContext(r.Context(), viewer)))
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// unauthenticated answers 401 with a GraphQL-shaped error, so GraphQL
// clients read extensions.code like any other error.
func unauthenticated(w http.ResponseWriter, msg, reason string) {
	desc := msg
	if reason != "" {
		desc = reason
	}
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description=`+quote(desc))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{
			"message":    msg,
			"extensions": map[string]any{"code": "UNAUTHENTICATED"},
		}},
		"data": nil,
	})
}

func quote(s string) string { return `"` + strings.NewReplacer(`"`, `'`, `\`, ``).Replace(s) + `"` }

// Request body caps. The OP's endpoints and the login pages also cap their
// own forms at maxFormBody (server/oidc, server/login): the cap here makes
// an oversized body a 413 everywhere, before any handler parses it.
const (
	// maxGraphQLBody bounds a /graphql request body: 12 MiB carries a rule
	// module (at most 8 MiB, base64-encoded) in createRule/updateRule.
	maxGraphQLBody = 12 << 20
	// maxSAMLBody bounds a SAMLResponse posted to an ACS (many attributes).
	maxSAMLBody = 1 << 20
	// maxRESTBody bounds a management API v2 request (a user with its
	// metadata); its rules and connections endpoints take maxGraphQLBody,
	// for rule modules and custom-database script modules.
	maxRESTBody = 1 << 20
	// maxFormBody bounds every other body: OAuth requests and login forms.
	maxFormBody = 64 << 10
	// maxImportBody bounds a users file uploaded for import (REST
	// /jobs/users-imports, or a GraphQL multipart request): far beyond
	// Auth0's 500 KB, as migrations need. These bodies are streamed into
	// storage, never held in memory.
	maxImportBody = 1 << 30
)

// capBodies refuses a request body over its route's cap with a 413, before
// the handler runs: at once when Content-Length announces it, otherwise
// (chunked) after reading at most cap+1 bytes. The handler then reads a
// body that cannot grow past the cap.
// isImportUpload reports a user import file upload (REST or GraphQL
// multipart): a body of up to maxImportBody, streamed into storage for as
// long as the upload takes.
func isImportUpload(base string, r *http.Request) bool {
	switch r.URL.Path {
	case base + "api/v2/jobs/users-imports", "/api/v2/jobs/users-imports":
		return true
	case base + "graphql":
		return strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data")
	}
	return false
}

func capBodies(base string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxFormBody)
		streamed := false
		switch {
		case isImportUpload(base, r):
			limit, streamed = maxImportBody, true
		case r.URL.Path == base+"graphql":
			limit = maxGraphQLBody
		case strings.HasPrefix(r.URL.Path, base+"saml/"):
			limit = maxSAMLBody
		case strings.HasPrefix(r.URL.Path, base+"api/v2/rules"), strings.HasPrefix(r.URL.Path, "/api/v2/rules"),
			strings.HasPrefix(r.URL.Path, base+"api/v2/connections"), strings.HasPrefix(r.URL.Path, "/api/v2/connections"):
			limit = maxGraphQLBody
		case strings.HasPrefix(r.URL.Path, base+"api/v2/"), strings.HasPrefix(r.URL.Path, "/api/v2/"):
			limit = maxRESTBody
		}
		if r.ContentLength > limit {
			tooLarge(w, r, base, limit)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if r.ContentLength < 0 && r.Body != http.NoBody && !streamed {
			body, err := io.ReadAll(r.Body)
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				tooLarge(w, r, base, limit)
				return
			}
			if err != nil {
				http.Error(w, "the request body could not be read", http.StatusBadRequest)
				return
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		next.ServeHTTP(w, r)
	})
}

// tooLarge answers 413 in the shape the route's clients read: a GraphQL
// error on /graphql, an OAuth error elsewhere.
func tooLarge(w http.ResponseWriter, r *http.Request, base string, limit int64) {
	msg := fmt.Sprintf("the request body exceeds %d bytes", limit)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close") // the rest of the body is not read
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	if r.URL.Path == base+"graphql" {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"errors": []any{map[string]any{"message": msg, "extensions": map[string]any{"code": graph.CodePayloadTooLarge}}},
			"data":   nil,
		})
		return
	}
	if strings.HasPrefix(r.URL.Path, base+"api/v2/") || strings.HasPrefix(r.URL.Path, "/api/v2/") { // Auth0's error shape
		_ = json.NewEncoder(w).Encode(map[string]any{"statusCode": http.StatusRequestEntityTooLarge,
			"error": "Request Entity Too Large", "message": msg, "errorCode": "payload_too_large"})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": msg})
}

// withRequestInfo records the client IP and user agent for log events. The
// X-Forwarded-For chain is believed only hop by hop from trusted proxies: the
// client IP is the rightmost address not belonging to one.
func withRequestInfo(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientIP(r, trusted)
		ctx := logs.WithRequest(r.Context(), logs.Request{IP: ip, UserAgent: r.UserAgent()})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if !isTrusted(addr, trusted) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		hop = hop.Unmap()
		if !isTrusted(hop, trusted) {
			return hop.String()
		}
		addr = hop
	}
	return addr.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// issuerPath returns the issuer URL's path, ending in "/".
func issuerPath(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Path == "" {
		return "/"
	}
	if !strings.HasSuffix(u.Path, "/") {
		return u.Path + "/"
	}
	return u.Path
}

// securityHeaders sets the headers every response needs, whoever writes
// it: HSTS when the issuer is https (browsers ignore it over http, and it
// would pin a loopback development host to https), nosniff, and a
// Referrer-Policy of no-referrer (login, reset and verification pages carry
// codes and tickets in their URLs). HTML responses also refuse framing, with
// X-Frame-Options for old browsers and CSP frame-ancestors for the others:
// a handler's own Content-Security-Policy is kept and completed.
// Handlers may override Referrer-Policy; nothing may drop the rest.
func securityHeaders(hsts bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(&frameGuard{ResponseWriter: w}, r)
	})
}

// frameGuard adds the anti-framing headers to an HTML response just before
// its header is written, when its Content-Type is known.
type frameGuard struct {
	http.ResponseWriter
	wrote bool
}

func (g *frameGuard) WriteHeader(code int) {
	g.guard(nil)
	g.ResponseWriter.WriteHeader(code)
}

func (g *frameGuard) Write(p []byte) (int, error) {
	g.guard(p)
	return g.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (g *frameGuard) Unwrap() http.ResponseWriter { return g.ResponseWriter }

func (g *frameGuard) Flush() {
	g.guard(nil)
	_ = http.NewResponseController(g.ResponseWriter).Flush()
}

func (g *frameGuard) guard(first []byte) {
	if g.wrote {
		return
	}
	g.wrote = true
	h := g.Header()
	ct := h.Get("Content-Type")
	if ct == "" && first != nil {
		// What net/http would sniff: set it now so it can be checked.
		ct = http.DetectContentType(first)
		h.Set("Content-Type", ct)
	}
	if !strings.HasPrefix(strings.ToLower(ct), "text/html") {
		return
	}
	h.Set("X-Frame-Options", "DENY")
	csp := h.Values("Content-Security-Policy")
	for _, p := range csp {
		if strings.Contains(p, "frame-ancestors") {
			return
		}
	}
	if len(csp) == 0 {
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
		return
	}
	csp[0] = strings.TrimRight(strings.TrimSpace(csp[0]), ";") + "; frame-ancestors 'none'"
}
