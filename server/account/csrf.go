package account

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRF protection, as on the login pages (with its own cookie and MAC
// label, so that a login page's token is no token here): the browser holds
// a random secret in an HttpOnly, SameSite=Lax cookie; every rendered form carries a fresh token
// nonce‖HMAC-SHA256(secret, nonce), and a POST is accepted only when its
// token verifies against the cookie it arrives with. Another site can make
// the browser send the cookie (top-level POSTs are not Lax-exempt, but other
// tricks exist) but can never read the secret or a token, and a token from
// another browser fails against this one's secret (login CSRF).
//
// Under an https issuer the cookie is __Host- prefixed (Secure, Path=/, no
// Domain), so a sibling subdomain cannot plant its own secret.

const csrfField = "csrf_token"

func (h *Handler) csrfCookieName() string {
	if h.secure {
		return "__Host-authgraph_account_csrf"
	}
	return "authgraph_account_csrf"
}

// csrfSecret returns the request's secret, setting a new cookie when absent.
func (h *Handler) csrfSecret(w http.ResponseWriter, r *http.Request) []byte {
	if c, err := r.Cookie(h.csrfCookieName()); err == nil {
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && len(b) == 32 {
			return b
		}
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	http.SetCookie(w, &http.Cookie{
		Name:     h.csrfCookieName(),
		Value:    base64.RawURLEncoding.EncodeToString(secret),
		Path:     "/",
		HttpOnly: true,
		Secure:   h.secure,
		SameSite: http.SameSiteLaxMode,
	})
	// Later reads in this request see the same secret.
	r.AddCookie(&http.Cookie{Name: h.csrfCookieName(), Value: base64.RawURLEncoding.EncodeToString(secret)})
	return secret
}

// csrfToken returns a fresh token for a form.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) string {
	secret := h.csrfSecret(w, r)
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(append(nonce, mac(secret, nonce)...))
}

// csrfValid checks the submitted token against the request's cookie.
func (h *Handler) csrfValid(r *http.Request) bool {
	c, err := r.Cookie(h.csrfCookieName())
	if err != nil {
		return false
	}
	secret, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(secret) != 32 {
		return false
	}
	tok, err := base64.RawURLEncoding.DecodeString(r.PostFormValue(csrfField))
	if err != nil || len(tok) != 16+sha256.Size {
		return false
	}
	return hmac.Equal(tok[16:], mac(secret, tok[:16]))
}

func mac(secret, nonce []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("authgraph-account-csrf\x00"))
	m.Write(nonce)
	return m.Sum(nil)
}

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
