package account

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/passkeys"
)

// Security keys and passkeys: the page's "Add a security key" and "Create
// a passkey" forms are driven by the login pages' script
// ({base}login/assets/webauthn.js, same origin): it asks
// {base}account/webauthn/options for the ceremony's options (with the
// form's CSRF token), calls navigator.credentials.create, and posts the
// credential's JSON to {base}account/webauthn/register. The ceremony's
// sealed state lives in a cookie for 5 minutes, bound to the session that
// started it; like the other factor changes it needs a recent sign-in.
// Without JavaScript the forms stay hidden.

const (
	ceremonyRegister        = "register"
	ceremonyRegisterPasskey = "register_passkey"
)

func (h *Handler) webauthnCookieName() string {
	if h.secure {
		return "__Host-authgraph_account_webauthn"
	}
	return "authgraph_account_webauthn"
}

func sessionBinding(s *ent.Session) string { return "account-session:" + string(s.ID) }

// webauthnEnabled reports whether security keys and passkeys are offered.
func (h *Handler) webauthnEnabled(r *http.Request) bool {
	if h.cfg.Passkeys == nil {
		return false
	}
	ok, err := h.cfg.Passkeys.Available(r.Context())
	if err != nil {
		h.cfg.Logger.Error("account: reading the MFA settings", "err", err)
		return false
	}
	return ok
}

func jsonError(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": text})
}

// webauthnOptions begins a registration and answers its options.
func (h *Handler) webauthnOptions(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !h.csrfValid(r) {
		jsonError(w, http.StatusForbidden, "This page has expired. Reload it and try again.")
		return
	}
	s, err := h.cfg.Sessions.Current(r.Context(), r)
	if err != nil || !h.signedIn(r, s.ID) {
		jsonError(w, http.StatusUnauthorized, "You are signed out. Reload the page and sign in again.")
		return
	}
	if h.cfg.Now().Sub(s.AuthTime) > RecentAuth {
		jsonError(w, http.StatusForbidden, "For your security, sign in again before adding a security key.")
		return
	}
	if !h.webauthnEnabled(r) {
		jsonError(w, http.StatusNotFound, "Security keys are not enabled.")
		return
	}
	kind := r.PostFormValue("ceremony")
	if kind != ceremonyRegister && kind != ceremonyRegisterPasskey {
		jsonError(w, http.StatusBadRequest, "Unknown ceremony.")
		return
	}
	c, err := h.cfg.Passkeys.BeginRegistration(r.Context(), s.UserRef, sessionBinding(s), kind == ceremonyRegisterPasskey)
	if errors.Is(err, passkeys.ErrUnavailable) {
		jsonError(w, http.StatusNotFound, "Security keys are not enabled.")
		return
	}
	if err != nil {
		h.cfg.Logger.Error("account: beginning a WebAuthn registration", "err", err)
		jsonError(w, http.StatusInternalServerError, "We could not complete this request. Please try again in a moment.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: h.webauthnCookieName(), Value: c.State, Path: "/", MaxAge: 300,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(c.Options)
}

// webauthnRegister finishes a registration with the browser's credential.
func (h *Handler) webauthnRegister(w http.ResponseWriter, r *http.Request) {
	s := h.postSession(w, r)
	if s == nil || !h.recent(w, r, s) {
		return
	}
	if !h.webauthnEnabled(r) {
		h.showAccount(w, r, s, http.StatusNotFound, "Security keys are not enabled.", nil)
		return
	}
	state := ""
	if c, err := r.Cookie(h.webauthnCookieName()); err == nil {
		state = c.Value
	}
	// The state is good for one answer.
	http.SetCookie(w, &http.Cookie{Name: h.webauthnCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode})
	reg, err := h.cfg.Passkeys.FinishRegistration(r.Context(), s.UserRef, sessionBinding(s), state,
		[]byte(r.PostFormValue("credential")), h.loginContext(s))
	switch {
	case errors.Is(err, passkeys.ErrUnavailable):
		h.showAccount(w, r, s, http.StatusNotFound, "Security keys are not enabled.", nil)
		return
	case errors.Is(err, passkeys.ErrCeremony), state == "" && err != nil:
		h.showAccount(w, r, s, http.StatusBadRequest, "The security key could not be added. Try again.", nil)
		return
	case err != nil:
		h.serverError(w, r, err)
		return
	}
	done := "key"
	if reg.Passkey {
		done = "passkey"
	}
	http.Redirect(w, r, h.path("?done="+done), http.StatusSeeOther)
}
