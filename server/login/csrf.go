package login

import (
	"context"
	"net/http"

	"github.com/authgraph/authgraph/authz"
)

// CSRF protection of every form (package formcsrf), with the login pages'
// own cookie and MAC label.

// csrfToken returns a fresh token for a form.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) string { return h.csrf.Token(w, r) }

// csrfValid checks the submitted token against the request's cookie.
func (h *Handler) csrfValid(r *http.Request) bool { return h.csrf.Valid(r) }

// checkCSRF parses the form and refuses (403) a POST without a valid token.
func (h *Handler) checkCSRF(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		h.message(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.", "", "")
		return false
	}
	if !h.csrfValid(r) {
		h.message(w, r, http.StatusForbidden, "Session expired",
			"This form has expired or was not sent from this site. Go back, reload the page and try again.", "", "")
		return false
	}
	return true
}

func systemCtx(ctx context.Context) context.Context { return authz.SystemContext(ctx) }
