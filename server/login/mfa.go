package login

// The second-factor pages. The provider sends the browser here when a
// login must pass a second factor (authn.Finalize answered NeedMFA): the request is
// bound to the session that authenticated, and only that browser may
// answer. A passed factor is added to the session's AMR ("otp", "mfa"),
// then the request completes through the provider's normal path: the rules
// run again and the code is issued.
//
//	GET  {base}login/mfa?req=ID           challenge, or the offer to set up a factor for a user without one
//	POST {base}login/mfa                  action=verify (code, or recovery_code), send_email, start_totp, enroll
//	GET  {base}login/mfa/enroll?ticket=T  TOTP enrollment through an administrator's ticket (no login)
//	POST {base}login/mfa/enroll           action=start_totp shows the key, enroll confirms it
//
// Setting up a factor is only for a user who has none (recovery codes
// count): a password alone must never add one to an enrolled account. A
// GET changes nothing: the key is made by the POST of start_totp.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/server/loginflow"
	"github.com/authgraph/authgraph/sessions"
)

const (
	msgWrongCode   = "This code is not valid. Check it and try again."
	msgMFAMismatch = "This verification step belongs to another sign-in. Return to the application and log in again."
	msgNoFactor    = "Your account has no second factor you can use here. Ask an administrator for help."
	msgEnrolled    = "Two-step verification is already set up for this account."
)

// mfaPage is what the second-factor templates show.
type mfaPage struct {
	// Codes: the form for a TOTP or email code (field code; Method says
	// which).
	Codes  bool
	Method string
	// Email offers to send a code by email; EmailSent after it was.
	Email, EmailSent bool
	// Recovery offers the recovery-code form (field recovery_code).
	Recovery bool
	// RememberDays > 0 shows the remember-this-browser checkbox.
	RememberDays int
	// SecurityKey offers "Use your security key" (webauthn.go);
	// EnrollKey offers registering one, or a passkey, at enrollment.
	SecurityKey, EnrollKey bool
	// OptionsURL is the WebAuthn options endpoint.
	OptionsURL string

	// Enrollment. OfferTOTP, without a Secret yet, offers to set up an
	// authenticator app (the key is made by that POST, not by a GET).
	OfferTOTP       bool
	Secret          string
	QR              template.URL
	AuthenticatorID string
	Ticket          string

	// After enrollment.
	RecoveryCodes []string
	ContinueURL   string
}

// Second-factor methods on the challenge form.
const (
	methodTOTP  = "totp"
	methodEmail = "email"
)

// mfaStep is a request waiting for a second factor, with the browser's
// session that must answer it.
type mfaStep struct {
	req      *loginflow.Request
	session  *ent.Session
	user     *ent.User
	settings mfa.Settings
}

// emailAvailable reports whether a code may be sent to the user's email
// address: the factor is enabled and the address verified.
func (st *mfaStep) emailAvailable() bool {
	u := st.user
	return slices.Contains(st.settings.Factors, mfa.FactorEmail) && u.EmailVerified && u.Email != nil && *u.Email != ""
}

func (st *mfaStep) loginContext() mfa.LoginContext {
	return mfa.LoginContext{ClientID: st.req.ClientID, ClientName: st.req.ClientName, Connection: st.session.Connection}
}

// loadMFA checks that request id awaits a second factor from this browser's
// session, answering the browser otherwise. A session that already passed
// one completes the request at once.
func (h *Handler) loadMFA(w http.ResponseWriter, r *http.Request, id string) (*mfaStep, bool) {
	req, ok := h.request(w, r, id)
	if !ok {
		return nil, false
	}
	if req.MFA == nil || h.cfg.MFA == nil {
		h.message(w, r, http.StatusBadRequest, "Verify it's you", msgBadRequest, "", "")
		return nil, false
	}
	s, err := h.cfg.Sessions.Current(r.Context(), r)
	if err != nil && !errors.Is(err, sessions.ErrNoSession) {
		h.serverError(w, r, err)
		return nil, false
	}
	if s == nil || s.ID != req.MFA.SessionID || s.UserRef != req.MFA.UserID || s.Edges.User == nil {
		h.message(w, r, http.StatusBadRequest, "Verify it's you", msgMFAMismatch, "", "")
		return nil, false
	}
	if slices.Contains(s.Amr, loginflow.AMRMFA) {
		h.completeMFA(w, r, req, s, s.Amr)
		return nil, false
	}
	set, err := h.cfg.MFA.Settings(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	return &mfaStep{req: req, session: s, user: s.Edges.User, settings: set}, true
}

// completeMFA hands the login, with the session's methods, back to the
// provider.
func (h *Handler) completeMFA(w http.ResponseWriter, r *http.Request, req *loginflow.Request, s *ent.Session, amr []string) {
	h.cfg.Handoff.Complete(w, r, req.ID, loginflow.Login{
		UserID: s.UserRef, SessionID: s.ID, AuthTime: s.AuthTime, AMR: amr, Connection: s.Connection,
	})
}

func (h *Handler) mfaPage(w http.ResponseWriter, r *http.Request) {
	st, ok := h.loadMFA(w, r, r.URL.Query().Get(loginflow.ParamRequestID))
	if !ok {
		return
	}
	h.showMFA(w, r, st, "", "", false, http.StatusOK)
}

// showMFA renders the challenge with the factors the user can answer with.
// A user without any confirmed factor is offered to set one up instead; a
// user whose factors cannot answer here (an address no longer verified, a
// factor switched off, only recovery codes that are switched off) is told
// to ask an administrator — never offered a new factor.
func (h *Handler) showMFA(w http.ResponseWriter, r *http.Request, st *mfaStep, method, errText string, emailSent bool, status int) {
	ctx := r.Context()
	// The types of the user's confirmed factors: one column of one query.
	factors, err := h.cfg.MFA.ConfirmedFactors(ctx, st.user.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	has := func(f mfa.Factor) bool { return slices.Contains(factors, f) }
	enabled := func(f mfa.Factor) bool { return slices.Contains(st.settings.Factors, f) }
	enrolled := len(factors) > 0
	hasTOTP := has(mfa.FactorTOTP) && enabled(mfa.FactorTOTP)
	// A security key answers too (webauthn.go).
	hasKey := enabled(mfa.FactorWebAuthn) && has(mfa.FactorWebAuthn) && h.cfg.Passkeys != nil
	email := st.emailAvailable()
	recovery := enabled(mfa.FactorRecoveryCode) && has(mfa.FactorRecoveryCode)
	switch {
	case !enrolled && !(email && (method == methodEmail || emailSent)):
		// No factor yet: set up an app or a security key, or (when
		// enabled) take a code by email instead.
		if enabled(mfa.FactorTOTP) || h.keyEnrollment(r) {
			h.showEnrollment(w, r, st.req, &mfaPage{OfferTOTP: enabled(mfa.FactorTOTP), Email: email}, errText, status)
			return
		}
		if !email {
			h.message(w, r, http.StatusForbidden, "Verify it's you", msgNoFactor, "", "")
			return
		}
	case enrolled && !hasTOTP && !hasKey && !email && !recovery:
		h.message(w, r, http.StatusForbidden, "Verify it's you", msgNoFactor, "", "")
		return
	}
	// Only a method the user can answer with: a failed code never leads
	// anywhere else.
	if (method == methodTOTP && !hasTOTP) || (method == methodEmail && !email) {
		method = ""
	}
	if method == "" {
		switch {
		case hasTOTP:
			method = methodTOTP
		case email && !hasKey:
			method = methodEmail
		}
	}
	mp := &mfaPage{
		SecurityKey:  hasKey,
		OptionsURL:   h.path("/webauthn/options", nil),
		Codes:        method != "",
		Method:       method,
		Email:        email,
		EmailSent:    emailSent,
		Recovery:     recovery,
		RememberDays: st.settings.RememberBrowserDays,
	}
	p := &page{Title: "Verify it's you", Client: st.req.ClientName, ReqID: st.req.ID, Error: errText,
		Action: h.path("/mfa", vals(loginflow.ParamRequestID, st.req.ID)), MFA: mp}
	if emailSent {
		// A send within mfa.EmailResendAfter of the last one sends
		// nothing: the code already sent still works.
		p.Info = fmt.Sprintf("We have sent a code to your email address. It is valid for %d minutes. If it does not arrive, you can ask for another one after %d seconds.",
			int(mfa.EmailCodeTTL/time.Minute), int(mfa.EmailResendAfter/time.Second))
	}
	p.Scripts = hasKey
	h.render(w, r, status, "mfa", p)
}

// startEnrollment creates a pending TOTP authenticator for user and shows
// its key and QR code: for request req's login, or for an enrollment ticket.
// Only a POST comes here (the pending key replaces any earlier one).
func (h *Handler) startEnrollment(w http.ResponseWriter, r *http.Request, req *loginflow.Request, user *ent.User, ticket string, email bool, errText string, status int) {
	en, err := h.cfg.MFA.StartFirstTOTP(r.Context(), user.ID, accountName(user))
	if errors.Is(err, mfa.ErrFactorDisabled) && req != nil && h.keyEnrollment(r) {
		// Security keys only.
		h.showEnrollment(w, r, req, &mfaPage{Email: email}, errText, status)
		return
	}
	if errors.Is(err, mfa.ErrFactorDisabled) {
		h.message(w, r, http.StatusForbidden, "Set up two-step verification", msgNoFactor, "", "")
		return
	}
	if errors.Is(err, mfa.ErrAlreadyEnrolled) {
		h.alreadyEnrolled(w, r, req)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.showEnrollment(w, r, req, &mfaPage{
		Secret: en.Secret, QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(en.QRCodePNG)),
		AuthenticatorID: en.AuthenticatorID, Ticket: ticket, Email: email,
	}, errText, status)
}

// alreadyEnrolled answers an enrollment of a user who has a factor (found
// by the service, after the page's own check): the login goes back to the
// challenge; a ticket no longer works.
func (h *Handler) alreadyEnrolled(w http.ResponseWriter, r *http.Request, req *loginflow.Request) {
	if req == nil {
		h.message(w, r, http.StatusBadRequest, "Set up two-step verification", msgBadTicket, "", "")
		return
	}
	h.message(w, r, http.StatusBadRequest, "Verify it's you", msgEnrolled, "", h.path("/mfa", vals(loginflow.ParamRequestID, req.ID)))
}

// showEnrollment shows the key of a pending enrollment, or (mp.Secret
// empty) the offer to set one up.
func (h *Handler) showEnrollment(w http.ResponseWriter, r *http.Request, req *loginflow.Request, mp *mfaPage, errText string, status int) {
	p := &page{Title: "Set up two-step verification", Error: errText, MFA: mp}
	if req != nil {
		p.Client, p.ReqID = req.ClientName, req.ID
		p.Action = h.path("/mfa", vals(loginflow.ParamRequestID, req.ID))
	} else {
		p.Action = h.path("/mfa/enroll", nil)
	}
	// The QR code is a data: image of this page: nothing else may be one.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
	if req != nil && h.keyEnrollment(r) {
		// A security key or passkey instead (webauthn.go).
		mp.EnrollKey, mp.OptionsURL, p.Scripts = true, h.path("/webauthn/options", nil), true
	}
	h.render(w, r, status, "mfa_enroll", p)
}

// postedEnrollment is the enrollment page as it was shown, from the form:
// a wrong first code shows the same key again rather than a new one the
// user would have to scan again. Only the key's display comes from the
// form; the pending authenticator is the server's.
func postedEnrollment(r *http.Request, ticket string) *mfaPage {
	mp := &mfaPage{AuthenticatorID: r.PostFormValue("authenticator_id"), Ticket: ticket}
	if s := r.PostFormValue("secret"); len(s) <= 128 && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=") == "" {
		mp.Secret = s
	}
	const prefix = "data:image/png;base64,"
	if q := r.PostFormValue("qr"); strings.HasPrefix(q, prefix) {
		if _, err := base64.StdEncoding.DecodeString(q[len(prefix):]); err == nil {
			mp.QR = template.URL(q)
		}
	}
	return mp
}

func (h *Handler) mfaSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		return
	}
	st, ok := h.loadMFA(w, r, r.FormValue(loginflow.ParamRequestID))
	if !ok {
		return
	}
	ctx := r.Context()
	action := r.PostFormValue("action")
	if action == "start_totp" || action == "enroll" || action == "webauthn_enroll" {
		// Only for a user without a factor (the service refuses too).
		enrolled, err := h.cfg.MFA.HasFactor(ctx, st.user.ID)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		if enrolled {
			h.showMFA(w, r, st, "", msgEnrolled, false, http.StatusBadRequest)
			return
		}
	}
	switch action {
	case "webauthn": // webauthn.go
		h.webauthnVerify(w, r, st)
	case "webauthn_enroll":
		h.webauthnEnroll(w, r, st)
	case "send_email":
		if !st.emailAvailable() {
			h.showMFA(w, r, st, "", "Codes by email are not available for this account.", false, http.StatusBadRequest)
			return
		}
		if err := h.cfg.MFA.SendEmailCode(ctx, st.user.ID, st.loginContext()); err != nil {
			if msg, status, ok := mfaErrorText(err); ok {
				h.showMFA(w, r, st, methodEmail, msg, false, status)
				return
			}
			h.serverError(w, r, err)
			return
		}
		h.showMFA(w, r, st, methodEmail, "", true, http.StatusOK)
	case "start_totp":
		h.startEnrollment(w, r, st.req, st.user, "", st.emailAvailable(), "", http.StatusOK)
	case "enroll":
		codes, err := h.cfg.MFA.ConfirmFirstTOTP(ctx, st.user.ID, r.PostFormValue("authenticator_id"), strings.TrimSpace(r.PostFormValue("code")), st.loginContext())
		if err != nil {
			shown := postedEnrollment(r, "")
			shown.Email = st.emailAvailable()
			h.enrollFailed(w, r, st.req, shown, err)
			return
		}
		amr, err := h.cfg.Sessions.AddAMR(ctx, st.session.ID, loginflow.AMROTP, loginflow.AMRMFA)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		if len(codes) == 0 {
			h.completeMFA(w, r, st.req, st.session, amr)
			return
		}
		// The codes are shown once; Continue comes back to the challenge
		// page, which the session now passes.
		h.render(w, r, http.StatusOK, "mfa_recovery", &page{Title: "Save your recovery codes", Client: st.req.ClientName,
			MFA: &mfaPage{RecoveryCodes: codes, ContinueURL: h.path("/mfa", vals(loginflow.ParamRequestID, st.req.ID))}})
	default:
		method := r.PostFormValue("method")
		var err error
		switch recovery := strings.TrimSpace(r.PostFormValue("recovery_code")); {
		case recovery != "":
			err = h.cfg.MFA.VerifyRecoveryCode(ctx, st.user.ID, recovery, st.loginContext())
		case method == methodEmail:
			err = h.cfg.MFA.VerifyEmailCode(ctx, st.user.ID, strings.TrimSpace(r.PostFormValue("code")), st.loginContext())
		default:
			method = methodTOTP
			err = h.cfg.MFA.VerifyTOTP(ctx, st.user.ID, strings.TrimSpace(r.PostFormValue("code")), st.loginContext())
		}
		if err != nil {
			if msg, status, ok := mfaErrorText(err); ok {
				h.showMFA(w, r, st, method, msg, false, status)
				return
			}
			h.serverError(w, r, err)
			return
		}
		if r.PostFormValue("remember_browser") != "" && st.settings.RememberBrowserDays > 0 {
			h.rememberBrowser(w, r, st.user.ID, st.settings.RememberBrowserDays)
		}
		amr, err := h.cfg.Sessions.AddAMR(ctx, st.session.ID, loginflow.AMROTP, loginflow.AMRMFA)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		h.completeMFA(w, r, st.req, st.session, amr)
	}
}

// mfaErrorText translates the mfa package's refusals for the pages.
func mfaErrorText(err error) (string, int, bool) {
	var locked *mfa.LockedError
	switch {
	case errors.As(err, &locked):
		return "Too many wrong codes. You can try again after " + locked.Until.UTC().Format("15:04") + " UTC (" +
			locked.Until.UTC().Format(time.DateOnly) + ").", http.StatusTooManyRequests, true
	case errors.Is(err, mfa.ErrLocked):
		return "Too many wrong codes. Try again later.", http.StatusTooManyRequests, true
	case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrNotFound):
		return msgWrongCode, http.StatusUnauthorized, true
	case errors.Is(err, mfa.ErrFactorDisabled):
		return "This kind of code is not enabled.", http.StatusBadRequest, true
	case errors.Is(err, mfa.ErrTooManyEmails):
		return "Too many codes were emailed to you in the last hour. Use a code already sent, or try again later.", http.StatusTooManyRequests, true
	}
	return "", 0, false
}

func (h *Handler) enrollFailed(w http.ResponseWriter, r *http.Request, req *loginflow.Request, shown *mfaPage, err error) {
	if errors.Is(err, mfa.ErrAlreadyEnrolled) {
		h.alreadyEnrolled(w, r, req)
		return
	}
	msg, status, ok := mfaErrorText(err)
	if !ok {
		h.serverError(w, r, err)
		return
	}
	if shown.Secret == "" || shown.QR == "" || errors.Is(err, mfa.ErrNotFound) {
		// Nothing to show again (or the pending key is gone): a new key.
		user, uerr := h.cfg.DB.User.Get(systemCtx(r.Context()), h.enrollUser(r, req))
		if uerr != nil {
			h.serverError(w, r, uerr)
			return
		}
		h.startEnrollment(w, r, req, user, shown.Ticket, shown.Email, msg, status)
		return
	}
	h.showEnrollment(w, r, req, shown, msg, status)
}

// enrollUser is the user of an enrollment page: the request's, or the
// ticket's (checked by the caller).
func (h *Handler) enrollUser(r *http.Request, req *loginflow.Request) pulid.ID {
	if req != nil && req.MFA != nil {
		return req.MFA.UserID
	}
	id, _ := h.cfg.MFA.EnrollmentTicketUser(r.Context(), r.PostFormValue("ticket"))
	return id
}

// rememberBrowser sets the cookie that lets this user skip the second factor
// in this browser for days (never a request that asks for one with
// acr_values).
func (h *Handler) rememberBrowser(w http.ResponseWriter, r *http.Request, userID pulid.ID, days int) {
	value, err := h.cfg.MFA.RememberBrowser(r.Context(), userID, days)
	if err != nil {
		// The login goes on; the browser is simply not remembered.
		h.cfg.Logger.Error("remembering a browser", "err", err)
		return
	}
	c := &http.Cookie{Name: loginflow.RememberBrowserCookie, Value: value, Path: h.base, MaxAge: days * 24 * 3600,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode}
	if h.secure {
		// Sent with a silent prompt=none request from the client's site,
		// as the session cookie is.
		c.SameSite = http.SameSiteNoneMode
	}
	http.SetCookie(w, c)
}

// accountName names the user in the authenticator app.
func accountName(u *ent.User) string {
	switch {
	case u.Email != nil && *u.Email != "":
		return *u.Email
	case u.Username != nil && *u.Username != "":
		return *u.Username
	}
	return u.UserID
}

// ticketUser resolves an enrollment ticket, answering the browser when it
// is not valid or its user has enrolled since.
func (h *Handler) ticketUser(w http.ResponseWriter, r *http.Request, token string) (*ent.User, bool) {
	ctx := r.Context()
	if h.cfg.MFA == nil || token == "" {
		h.message(w, r, http.StatusBadRequest, "Set up two-step verification", msgBadTicket, "", "")
		return nil, false
	}
	id, err := h.cfg.MFA.EnrollmentTicketUser(ctx, token)
	if errors.Is(err, mfa.ErrNotFound) {
		h.message(w, r, http.StatusBadRequest, "Set up two-step verification", msgBadTicket, "", "")
		return nil, false
	}
	if err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	u, err := h.cfg.DB.User.Get(systemCtx(ctx), id)
	if ent.IsNotFound(err) {
		h.message(w, r, http.StatusBadRequest, "Set up two-step verification", msgBadTicket, "", "")
		return nil, false
	}
	if err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	enrolled, err := h.cfg.MFA.HasFactor(ctx, u.ID)
	if err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	if enrolled {
		h.alreadyEnrolled(w, r, nil)
		return nil, false
	}
	return u, true
}

func (h *Handler) mfaEnrollPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("ticket")
	if _, ok := h.ticketUser(w, r, token); !ok {
		return
	}
	h.showEnrollment(w, r, nil, &mfaPage{OfferTOTP: true, Ticket: token}, "", http.StatusOK)
}

func (h *Handler) mfaEnrollSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		return
	}
	ctx := r.Context()
	token := r.PostFormValue("ticket")
	u, ok := h.ticketUser(w, r, token)
	if !ok {
		return
	}
	if r.PostFormValue("action") == "start_totp" {
		h.startEnrollment(w, r, nil, u, token, false, "", http.StatusOK)
		return
	}
	codes, err := h.cfg.MFA.ConfirmFirstTOTP(ctx, u.ID, r.PostFormValue("authenticator_id"), strings.TrimSpace(r.PostFormValue("code")), mfa.LoginContext{})
	if err != nil {
		h.enrollFailed(w, r, nil, postedEnrollment(r, token), err)
		return
	}
	if err := h.cfg.MFA.ConsumeEnrollmentTicket(ctx, token); err != nil && !errors.Is(err, mfa.ErrNotFound) {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "mfa_recovery", &page{Title: "Two-step verification is set up",
		Info: "Your authenticator app is set up. You will be asked for a code from it when you log in. You can close this page.",
		MFA:  &mfaPage{RecoveryCodes: codes}})
}
