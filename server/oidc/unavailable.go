package oidc

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/authgraph/authgraph/store"
)

// A request that failed because the database is down or restarting is
// answered 503 with Retry-After (or, where OAuth answers by redirect,
// temporarily_unavailable), never 500: nothing is wrong with the request,
// and the same one succeeds once the database is back.

// retryAfterSeconds is what Retry-After says during a database outage.
const retryAfterSeconds = 1

// unavailableError returns the token endpoint's answer for err if the
// database is unavailable, logged as a warning; nil otherwise.
func (p *Provider) unavailableError(ctx context.Context, what string, err error) *oauthError {
	if !store.IsUnavailable(err) {
		return nil
	}
	p.log.WarnContext(ctx, "oidc: "+what+": database unavailable", slog.Any("error", err))
	return &oauthError{status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
		Description: "the server is temporarily unavailable; retry shortly", retryAfter: retryAfterSeconds}
}

// unavailablePage answers a browser request with a 503 page if err says the
// database is unavailable, and reports whether it did.
func (p *Provider) unavailablePage(w http.ResponseWriter, r *http.Request, what string, err error) bool {
	if !store.IsUnavailable(err) {
		return false
	}
	p.log.WarnContext(r.Context(), "oidc: "+what+": database unavailable", slog.Any("error", err))
	w.Header().Set("Retry-After", "1")
	p.errorPage(w, http.StatusServiceUnavailable, "The service is temporarily unavailable. Please try again in a moment.")
	return true
}
