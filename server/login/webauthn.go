package login

// Security keys and passkeys (package passkeys) on the hosted pages.
//
//	POST {base}login/webauthn/options   fields csrf_token, req, ceremony → JSON options
//	POST {base}login/mfa                action=webauthn (credential): a security key answers the challenge
//	                                    action=webauthn_enroll (credential, ceremony): registers a key or passkey
//	POST {base}login/passkey            fields csrf_token, req, credential: signs in with a passkey
//
// The options endpoint answers {"publicKey": {...}} (binary values
// base64url-encoded) for ceremony "mfa" (the request's user's
// credentials), "register" (a security key), "register_passkey" (a
// discoverable credential, user verification required) or "login" (any
// passkey), and keeps the ceremony's sealed state in a cookie for 5
// minutes, bound to the request (and, but for "login", to the session
// waiting for a second factor). webauthn.js calls navigator.credentials
// with the options and posts the credential's JSON (base64url binary
// values, as PublicKeyCredential.toJSON()) in the field "credential" of
// the page's form; without JavaScript nothing is offered but the forms
// keep working.

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/passkeys"
	"github.com/authgraph/authgraph/server/loginflow"
	"github.com/authgraph/authgraph/sessions"
)

// Ceremonies of the options endpoint.
const (
	ceremonyMFA             = "mfa"
	ceremonyRegister        = "register"
	ceremonyRegisterPasskey = "register_passkey"
	ceremonyLogin           = "login"
)

const (
	msgKeyRefused   = "Your security key's answer could not be verified. Try again."
	msgKeyCloned    = "This security key was refused. Use another way to verify, or contact an administrator."
	msgNoPasskey    = "Signing in with a passkey did not work. Try again, or use your password."
	maxCredential   = 16 << 10
	webauthnCookie  = "authgraph_webauthn_"
	webauthnCookieT = passkeys.CeremonyTTL
)

func (h *Handler) webauthnRoutes(m *http.ServeMux, p string) {
	m.HandleFunc("GET "+p+"/assets/webauthn.js", h.serveJS)
	m.HandleFunc("POST "+p+"/webauthn/options", h.webauthnOptions)
	m.HandleFunc("POST "+p+"/passkey", h.passkeySubmit)
}

func (h *Handler) serveJS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(h.js)
}

// webauthnEnabled reports whether security keys and passkeys are offered.
func (h *Handler) webauthnEnabled(r *http.Request) bool {
	if h.cfg.Passkeys == nil {
		return false
	}
	ok, err := h.cfg.Passkeys.Available(r.Context())
	if err != nil {
		h.cfg.Logger.Error("reading the MFA settings", "err", err)
		return false
	}
	return ok
}

// ceremonyCookie is the cookie of one kind of ceremony: a second-factor
// ceremony and a registration on the same page do not overwrite each
// other.
func ceremonyCookie(kind string) string {
	if kind == ceremonyRegisterPasskey {
		kind = ceremonyRegister
	}
	return webauthnCookie + kind
}

func (h *Handler) setCeremony(w http.ResponseWriter, kind, state string) {
	http.SetCookie(w, &http.Cookie{Name: ceremonyCookie(kind), Value: state, Path: h.base + "login",
		MaxAge: int(webauthnCookieT / time.Second), HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
}

// takeCeremony returns the ceremony state of kind and clears its cookie
// (the state is good for one answer).
func (h *Handler) takeCeremony(w http.ResponseWriter, r *http.Request, kind string) string {
	c, err := r.Cookie(ceremonyCookie(kind))
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: ceremonyCookie(kind), Value: "", Path: h.base + "login", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	return c.Value
}

// mfaBinding binds a ceremony to a request waiting for a second factor
// and to the session that must pass it.
func mfaBinding(st *mfaStep) string {
	return "req:" + st.req.ID + ":session:" + string(st.session.ID)
}

func loginBinding(req *loginflow.Request) string { return "req:" + req.ID }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// jsonError answers the options endpoint's refusals: {"error": text}.
func jsonError(w http.ResponseWriter, status int, text string) {
	writeJSON(w, status, map[string]string{"error": text})
}

// webauthnOptions begins a ceremony and answers its options.
func (h *Handler) webauthnOptions(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !h.csrfValid(r) {
		jsonError(w, http.StatusForbidden, "This page has expired. Reload it and try again.")
		return
	}
	if !h.webauthnEnabled(r) {
		jsonError(w, http.StatusNotFound, "Security keys are not enabled.")
		return
	}
	ctx := r.Context()
	kind := r.PostFormValue("ceremony")
	var (
		c   *passkeys.Ceremony
		err error
	)
	switch kind {
	case ceremonyLogin:
		req, err2 := h.cfg.Handoff.Request(ctx, r.PostFormValue(loginflow.ParamRequestID))
		if err2 != nil || req.MFA != nil || h.passkeyConnections(req) == nil {
			jsonError(w, http.StatusBadRequest, msgBadRequest)
			return
		}
		c, err = h.cfg.Passkeys.BeginLogin(ctx, loginBinding(req))
	case ceremonyMFA, ceremonyRegister, ceremonyRegisterPasskey:
		st, ok := h.webauthnStep(w, r)
		if !ok {
			return
		}
		if kind == ceremonyMFA {
			c, err = h.cfg.Passkeys.BeginMFA(ctx, st.user.ID, mfaBinding(st))
		} else {
			// The enrollment step: only a user without a factor may add one.
			c, err = h.cfg.Passkeys.BeginFirstRegistration(ctx, st.user.ID, mfaBinding(st), kind == ceremonyRegisterPasskey)
		}
	default:
		jsonError(w, http.StatusBadRequest, "Unknown ceremony.")
		return
	}
	switch {
	case errors.Is(err, passkeys.ErrUnknownCredential):
		jsonError(w, http.StatusBadRequest, "You have no security key here.")
		return
	case errors.Is(err, mfa.ErrAlreadyEnrolled):
		jsonError(w, http.StatusBadRequest, msgEnrolled)
		return
	case errors.Is(err, passkeys.ErrUnavailable):
		jsonError(w, http.StatusNotFound, "Security keys are not enabled.")
		return
	case err != nil:
		h.cfg.Logger.Error("beginning a WebAuthn ceremony", "err", err)
		jsonError(w, http.StatusInternalServerError, "We could not complete this request. Please try again in a moment.")
		return
	}
	h.setCeremony(w, kind, c.State)
	writeJSON(w, http.StatusOK, c.Options)
}

// webauthnStep is loadMFA for the JSON endpoint: the request must await a
// second factor from this browser's session.
func (h *Handler) webauthnStep(w http.ResponseWriter, r *http.Request) (*mfaStep, bool) {
	ctx := r.Context()
	req, err := h.cfg.Handoff.Request(ctx, r.PostFormValue(loginflow.ParamRequestID))
	if err != nil || req.MFA == nil {
		jsonError(w, http.StatusBadRequest, msgBadRequest)
		return nil, false
	}
	s, err := h.cfg.Sessions.Current(ctx, r)
	if err != nil && !errors.Is(err, sessions.ErrNoSession) {
		h.cfg.Logger.Error("reading the session", "err", err)
		jsonError(w, http.StatusInternalServerError, "We could not complete this request. Please try again in a moment.")
		return nil, false
	}
	if s == nil || s.ID != req.MFA.SessionID || s.UserRef != req.MFA.UserID || s.Edges.User == nil {
		jsonError(w, http.StatusBadRequest, msgMFAMismatch)
		return nil, false
	}
	return &mfaStep{req: req, session: s, user: s.Edges.User}, true
}

// credentialField reads the posted credential JSON.
func credentialField(r *http.Request) []byte {
	v := r.PostFormValue("credential")
	if len(v) > maxCredential {
		return nil
	}
	return []byte(v)
}

// webauthnVerify answers the challenge with a security key.
func (h *Handler) webauthnVerify(w http.ResponseWriter, r *http.Request, st *mfaStep) {
	ctx := r.Context()
	if h.cfg.Passkeys == nil {
		h.showMFA(w, r, st, "", msgKeyRefused, false, http.StatusBadRequest)
		return
	}
	res, err := h.cfg.Passkeys.FinishMFA(ctx, st.user.ID, mfaBinding(st), h.takeCeremony(w, r, ceremonyMFA),
		credentialField(r), st.loginContext())
	if err != nil {
		if msg, status, ok := webauthnErrorText(err); ok {
			h.showMFA(w, r, st, "", msg, false, status)
			return
		}
		h.serverError(w, r, err)
		return
	}
	if r.PostFormValue("remember_browser") != "" && st.settings.RememberBrowserDays > 0 {
		h.rememberBrowser(w, r, st.user.ID, st.settings.RememberBrowserDays)
	}
	amr, err := h.cfg.Sessions.AddAMR(ctx, st.session.ID, append(res.AMR, loginflow.AMRMFA)...)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.completeMFA(w, r, st.req, st.session, amr)
}

// webauthnEnroll registers a security key or passkey as the user's second
// factor at the enrollment step; it passes the step, as a confirmed TOTP
// app does.
func (h *Handler) webauthnEnroll(w http.ResponseWriter, r *http.Request, st *mfaStep) {
	ctx := r.Context()
	if h.cfg.Passkeys == nil {
		h.showMFA(w, r, st, "", msgKeyRefused, false, http.StatusBadRequest)
		return
	}
	reg, err := h.cfg.Passkeys.FinishFirstRegistration(ctx, st.user.ID, mfaBinding(st), h.takeCeremony(w, r, ceremonyRegister),
		credentialField(r), st.loginContext())
	if errors.Is(err, mfa.ErrAlreadyEnrolled) {
		h.showMFA(w, r, st, "", msgEnrolled, false, http.StatusBadRequest)
		return
	}
	if err != nil {
		if msg, status, ok := webauthnErrorText(err); ok {
			h.showMFA(w, r, st, "", msg, false, status)
			return
		}
		h.serverError(w, r, err)
		return
	}
	codes, err := h.cfg.MFA.FirstRecoveryCodes(ctx, st.user.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	// Registering proved possession of the key (the user's presence, and
	// for a passkey their verification).
	amr, err := h.cfg.Sessions.AddAMR(ctx, st.session.ID, append(reg.AMR, loginflow.AMRMFA)...)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	if len(codes) == 0 {
		h.completeMFA(w, r, st.req, st.session, amr)
		return
	}
	h.render(w, r, http.StatusOK, "mfa_recovery", &page{Title: "Save your recovery codes", Client: st.req.ClientName,
		Info: reg.Name + " added.",
		MFA:  &mfaPage{RecoveryCodes: codes, ContinueURL: h.path("/mfa", vals(loginflow.ParamRequestID, st.req.ID))}})
}

// webauthnErrorText translates package passkeys' refusals for the pages.
func webauthnErrorText(err error) (string, int, bool) {
	switch {
	case errors.Is(err, passkeys.ErrCloned):
		return msgKeyCloned, http.StatusUnauthorized, true
	case errors.Is(err, passkeys.ErrCeremony), errors.Is(err, passkeys.ErrUnknownCredential):
		return msgKeyRefused, http.StatusUnauthorized, true
	case errors.Is(err, passkeys.ErrUnavailable):
		return "Security keys are not enabled.", http.StatusBadRequest, true
	}
	return "", 0, false
}

// passkeyConnections are the request's enabled database connections, nil
// when a passkey cannot sign in here.
func (h *Handler) passkeyConnections(req *loginflow.Request) []string {
	var out []string
	for _, c := range req.EnabledConnections {
		if c.Strategy == connection.StrategyDatabase.String() && (req.Connection == "" || req.Connection == c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// offerPasskey adds "Sign in with a passkey" to a login page when
// WEBAUTHN is enabled and the client has a database connection.
func (h *Handler) offerPasskey(r *http.Request, req *loginflow.Request, p *page) {
	if p.Form == nil || h.passkeyConnections(req) == nil || !h.webauthnEnabled(r) {
		return
	}
	p.Scripts = true
	p.PasskeyAction, p.PasskeyOptions = h.path("/passkey", nil), h.path("/webauthn/options", nil)
}

// passkeySubmit signs in with a passkey: the login is then completed as
// a password login, through the user's database connection enabled for
// the client, with amr [hwk|swk, user, mfa] (a passkey with user
// verification is two factors: the key and the PIN or biometrics).
func (h *Handler) passkeySubmit(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		return
	}
	req, ok := h.request(w, r, r.FormValue(loginflow.ParamRequestID))
	if !ok {
		return
	}
	ctx := r.Context()
	allowed := h.passkeyConnections(req)
	if h.cfg.Passkeys == nil || allowed == nil || req.MFA != nil {
		// (A request waiting for a second factor belongs to its login.)
		h.showLogin(w, r, req, "", "", msgNoPasskey, http.StatusBadRequest)
		return
	}
	lc := mfa.LoginContext{ClientID: req.ClientID, ClientName: req.ClientName}
	res, err := h.cfg.Passkeys.FinishLogin(ctx, loginBinding(req), h.takeCeremony(w, r, ceremonyLogin), credentialField(r), lc)
	if _, _, known := webauthnErrorText(err); known {
		h.showLogin(w, r, req, "", "", msgNoPasskey, http.StatusUnauthorized)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	conns, err := h.cfg.Passkeys.LoginConnections(ctx, res.UserID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	i := slices.IndexFunc(conns, func(c string) bool { return slices.Contains(allowed, c) })
	if i < 0 {
		// The user's account is not in a connection of this client.
		h.showLogin(w, r, req, "", "", msgNoPasskey, http.StatusUnauthorized)
		return
	}
	conn := conns[i]
	amr := append(slices.Clone(res.AMR), loginflow.AMRMFA)
	if !res.UserVerified {
		amr = res.AMR
	}
	// The provider decides the login (a blocked user is refused there) and
	// records it with its session: the login counters and the s event.
	h.cfg.Handoff.Complete(w, r, req.ID, loginflow.Login{
		UserID: res.UserID, User: res.User, AuthTime: h.cfg.Now().Truncate(time.Second), AMR: amr, Connection: conn,
		Pending: &authn.Pending{CountLogin: true, Event: passkeys.LoginEvent(res, conn, lc)},
	})
}

// keyEnrollment reports whether the enrollment step offers security keys
// and passkeys.
func (h *Handler) keyEnrollment(r *http.Request) bool { return h.webauthnEnabled(r) }
