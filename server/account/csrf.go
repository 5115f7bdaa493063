package account

import "net/http"

// CSRF protection of every form (package formcsrf), with the account page's
// own cookie and MAC label, so that a login page's token is no token here.

// csrfToken returns a fresh token for a form.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) string { return h.csrf.Token(w, r) }

// csrfValid checks the submitted token against the request's cookie.
func (h *Handler) csrfValid(r *http.Request) bool { return h.csrf.Valid(r) }

// checkCSRF parses the form and refuses (403) a POST without a valid token.
func (h *Handler) checkCSRF(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		h.message(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.", h.path(""), "Back to your account")
		return false
	}
	if !h.csrfValid(r) {
		h.message(w, r, http.StatusForbidden, "Form expired",
			"This form has expired or was not sent from this site. Go back, reload the page and try again.", h.path(""), "Back to your account")
		return false
	}
	return true
}
