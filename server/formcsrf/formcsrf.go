// Package formcsrf protects server-rendered forms against cross-site request
// forgery: the browser holds a random secret in an HttpOnly, SameSite=Lax
// cookie; every rendered form carries a fresh token
// nonce‖HMAC-SHA256(secret, label‖nonce), and a POST is accepted only when
// its token verifies against the cookie it arrives with. Another site can
// make the browser send the cookie (top-level POSTs are not Lax-exempt, but
// other tricks exist) but can never read the secret or a token, and a token
// from another browser fails against this one's secret (login CSRF).
//
// Under an https issuer the cookie is __Host- prefixed (Secure, Path=/, no
// Domain), so a sibling subdomain cannot plant its own secret. Each set of
// pages (login, account) has its own cookie and label, so a token of one is
// no token for the other.
package formcsrf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// Field is the form field carrying the token.
const Field = "csrf_token"

// Guard issues and checks the tokens of one set of pages.
type Guard struct {
	cookie string
	label  []byte
	secure bool
}

// New returns the guard whose cookie is called name (prefixed __Host- when
// secure, that is under an https issuer) and whose MACs are bound to label.
func New(name, label string, secure bool) *Guard {
	if secure {
		name = "__Host-" + name
	}
	return &Guard{cookie: name, label: append([]byte(label), 0), secure: secure}
}

// secret returns the request's secret, setting a new cookie when absent.
func (g *Guard) secret(w http.ResponseWriter, r *http.Request) []byte {
	if c, err := r.Cookie(g.cookie); err == nil {
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && len(b) == 32 {
			return b
		}
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	http.SetCookie(w, &http.Cookie{
		Name:     g.cookie,
		Value:    base64.RawURLEncoding.EncodeToString(secret),
		Path:     "/",
		HttpOnly: true,
		Secure:   g.secure,
		SameSite: http.SameSiteLaxMode,
	})
	// Later reads in this request see the same secret.
	r.AddCookie(&http.Cookie{Name: g.cookie, Value: base64.RawURLEncoding.EncodeToString(secret)})
	return secret
}

// Token returns a fresh token for a form.
func (g *Guard) Token(w http.ResponseWriter, r *http.Request) string {
	secret := g.secret(w, r)
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(append(nonce, g.mac(secret, nonce)...))
}

// Valid checks the submitted token (the parsed form's Field) against the
// request's cookie.
func (g *Guard) Valid(r *http.Request) bool {
	c, err := r.Cookie(g.cookie)
	if err != nil {
		return false
	}
	secret, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(secret) != 32 {
		return false
	}
	tok, err := base64.RawURLEncoding.DecodeString(r.PostFormValue(Field))
	if err != nil || len(tok) != 16+sha256.Size {
		return false
	}
	return hmac.Equal(tok[16:], g.mac(secret, tok[:16]))
}

func (g *Guard) mac(secret, nonce []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(g.label)
	m.Write(nonce)
	return m.Sum(nil)
}
