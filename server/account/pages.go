package account

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/sessions"
)

// notices after a change (?done=…): fixed texts, nothing from the URL is
// shown.
var notices = map[string]string{
	"removed":  "The authenticator was removed.",
	"totp":     "Your authenticator app is set up.",
	"signed":   "The session was ended.",
	"password": "Your password was changed.",
	"key":      "Your security key was added.",
	"passkey":  "Your passkey was added.",
}

const timeFormat = "2006-01-02 15:04 MST"

func when(t time.Time) string { return t.UTC().Format(timeFormat) }

func factorName(t mfa.Factor) string {
	switch t {
	case mfa.FactorTOTP:
		return "Authenticator app"
	case mfa.FactorWebAuthn:
		return "Security key or passkey"
	case mfa.FactorRecoveryCode:
		return "Recovery codes"
	case mfa.FactorEmail:
		return "Email"
	}
	return string(t)
}

// accountPage shows the signed-in user's account.
func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request) {
	s := h.session(w, r)
	if s == nil {
		return
	}
	p := &page{Info: notices[r.URL.Query().Get("done")]}
	if err := h.fill(r, s, p); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "account", p)
}

// fill loads what the account page shows.
func (h *Handler) fill(r *http.Request, s *ent.Session, p *page) error {
	ctx := r.Context()
	p.Title, p.Wide, p.User = "Your account", true, s.Edges.User
	if s.Edges.User == nil {
		u, err := h.cfg.DB.User.Get(sys(ctx), s.UserRef)
		if err != nil {
			return err
		}
		p.User = u
	}
	if until := s.AuthTime.Add(RecentAuth); h.cfg.Now().Before(until) {
		p.RecentUntil = when(until)
	}
	if h.cfg.MFA != nil {
		st, err := h.cfg.MFA.Settings(ctx)
		if err != nil {
			return err
		}
		as, err := h.cfg.MFA.Authenticators(ctx, s.UserRef)
		if err != nil {
			return err
		}
		p.MFA = true
		p.TOTP = st.Enabled(mfa.FactorTOTP)
		for _, a := range as {
			if !a.Confirmed {
				continue // a pending enrollment is no factor yet
			}
			row := authenticatorRow{ID: a.ID, Type: factorName(a.Type), Name: a.Name, Created: when(a.CreatedAt), LastUsed: "never"}
			if a.LastUsedAt != nil {
				row.LastUsed = when(*a.LastUsedAt)
			}
			if a.Type == mfa.FactorRecoveryCode {
				p.HasRecovery = true
			}
			p.Authenticators = append(p.Authenticators, row)
		}
		p.Recovery = st.Enabled(mfa.FactorRecoveryCode) && len(p.Authenticators) > 0
		if p.HasRecovery {
			if p.RecoveryLeft, err = h.cfg.MFA.RecoveryCodesLeft(ctx, s.UserRef); err != nil {
				return err
			}
		}
	}
	p.WebAuthn = p.MFA && h.webauthnEnabled(r)
	if _, err := h.passwordIdentity(r, s); err == nil {
		p.Password = true
	}
	ss, err := h.cfg.Sessions.ListUser(ctx, s.UserRef)
	if err != nil {
		return err
	}
	for _, o := range ss {
		p.Sessions = append(p.Sessions, sessionRow{ID: string(o.ID), UserAgent: o.UserAgent, IP: o.IP,
			Created: when(o.CreatedAt), LastSeen: when(o.LastSeenAt), Connection: o.Connection, Current: o.ID == s.ID})
	}
	return nil
}

// showAccount renders the account page with an error (a refused form).
func (h *Handler) showAccount(w http.ResponseWriter, r *http.Request, s *ent.Session, status int, msg string, rules []string) {
	p := &page{Error: msg, Rules: rules}
	if err := h.fill(r, s, p); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, status, "account", p)
}

// postSession is the common start of every POST: a valid CSRF token, then
// a signed-in session.
func (h *Handler) postSession(w http.ResponseWriter, r *http.Request) *ent.Session {
	if !h.checkCSRF(w, r) {
		return nil
	}
	return h.session(w, r)
}

func (h *Handler) loginContext(s *ent.Session) mfa.LoginContext {
	return mfa.LoginContext{ClientID: h.clientID, ClientName: clients.AccountClientName, Connection: s.Connection}
}

// Second factors.

func (h *Handler) deleteAuthenticator(w http.ResponseWriter, r *http.Request) {
	s := h.postSession(w, r)
	if s == nil || !h.needMFA(w, r) || !h.recent(w, r, s) {
		return
	}
	// Delete finds the authenticator among the user's own: another user's
	// id is not found.
	err := h.cfg.MFA.Delete(r.Context(), s.UserRef, r.PostFormValue("id"))
	if errors.Is(err, mfa.ErrNotFound) {
		h.showAccount(w, r, s, http.StatusNotFound, "That authenticator was not found.", nil)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, h.path("?done=removed"), http.StatusSeeOther)
}

func (h *Handler) needMFA(w http.ResponseWriter, r *http.Request) bool {
	if h.cfg.MFA == nil {
		h.message(w, r, http.StatusNotFound, "Not available", "Second factors are not available here.", h.path(""), "Back to your account")
		return false
	}
	return true
}

func (h *Handler) startTOTP(w http.ResponseWriter, r *http.Request) {
	s := h.postSession(w, r)
	if s == nil || !h.needMFA(w, r) || !h.recent(w, r, s) {
		return
	}
	u := s.Edges.User
	name := u.UserID
	if u.Email != nil && *u.Email != "" {
		name = *u.Email
	}
	en, err := h.cfg.MFA.StartTOTP(r.Context(), s.UserRef, name)
	if errors.Is(err, mfa.ErrFactorDisabled) {
		h.showAccount(w, r, s, http.StatusForbidden, "Authenticator apps are not enabled.", nil)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.showTOTP(w, r, http.StatusOK, "", &enrollment{AuthenticatorID: en.AuthenticatorID, Secret: en.Secret,
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(en.QRCodePNG))})
}

func (h *Handler) showTOTP(w http.ResponseWriter, r *http.Request, status int, msg string, en *enrollment) {
	// The QR code is a data: image of this page: nothing else may be one.
	w.Header().Set("Content-Security-Policy", cspTOTP)
	h.render(w, r, status, "totp", &page{Title: "Add an authenticator app", Error: msg, Enroll: en})
}

// postedEnrollment is the enrollment as it was shown (a wrong code shows
// the same key again); only its display comes from the form, the pending
// authenticator is the server's.
func postedEnrollment(r *http.Request) *enrollment {
	en := &enrollment{AuthenticatorID: r.PostFormValue("authenticator_id")}
	if s := r.PostFormValue("secret"); len(s) <= 128 && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=") == "" {
		en.Secret = s
	}
	const prefix = "data:image/png;base64,"
	if q := r.PostFormValue("qr"); strings.HasPrefix(q, prefix) && len(q) < 32<<10 {
		if _, err := base64.StdEncoding.DecodeString(q[len(prefix):]); err == nil {
			en.QR = template.URL(q)
		}
	}
	return en
}

func (h *Handler) confirmTOTP(w http.ResponseWriter, r *http.Request) {
	s := h.postSession(w, r)
	if s == nil || !h.needMFA(w, r) || !h.recent(w, r, s) {
		return
	}
	en := postedEnrollment(r)
	codes, err := h.cfg.MFA.ConfirmTOTP(r.Context(), s.UserRef, en.AuthenticatorID, r.PostFormValue("code"), h.loginContext(s))
	switch {
	case errors.Is(err, mfa.ErrInvalidCode):
		h.showTOTP(w, r, http.StatusBadRequest, "That code is not right. Enter the code your app shows now.", en)
		return
	case errors.Is(err, mfa.ErrLocked):
		h.showAccount(w, r, s, http.StatusTooManyRequests, "Too many wrong codes. Try again later.", nil)
		return
	case errors.Is(err, mfa.ErrNotFound):
		h.showAccount(w, r, s, http.StatusBadRequest, "This setup has expired or was replaced. Start again.", nil)
		return
	case errors.Is(err, mfa.ErrFactorDisabled):
		h.showAccount(w, r, s, http.StatusForbidden, "Authenticator apps are not enabled.", nil)
		return
	case err != nil:
		h.serverError(w, r, err)
		return
	}
	if len(codes) > 0 {
		h.render(w, r, http.StatusOK, "codes", &page{Title: "Your recovery codes", Info: notices["totp"], Codes: codes})
		return
	}
	http.Redirect(w, r, h.path("?done=totp"), http.StatusSeeOther)
}

func (h *Handler) recoveryCodes(w http.ResponseWriter, r *http.Request) {
	s := h.postSession(w, r)
	if s == nil || !h.needMFA(w, r) || !h.recent(w, r, s) {
		return
	}
	codes, err := h.cfg.MFA.RegenerateRecoveryCodes(r.Context(), s.UserRef)
	if errors.Is(err, mfa.ErrFactorDisabled) {
		h.showAccount(w, r, s, http.StatusForbidden, "Recovery codes are not enabled.", nil)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "codes", &page{Title: "Your new recovery codes",
		Info: "Your earlier recovery codes no longer work.", Codes: codes})
}

// Password.

// passwordIdentity returns the user's identity in the session's
// connection when that connection is a database connection.
func (h *Handler) passwordIdentity(r *http.Request, s *ent.Session) (*ent.Identity, error) {
	ctx := r.Context()
	conn, err := h.cfg.Auth.Connection(ctx, s.Connection)
	if err != nil {
		return nil, err
	}
	return h.cfg.DB.Identity.Query().Where(entidentity.OwnerID(s.UserRef), entidentity.ConnectionID(conn.ID)).Only(sys(ctx))
}

// changePassword checks the current password as a login would (a wrong one
// is a failed login: logged fp and counted by brute-force protection),
// then sets the new one through dbauth (the connection's policy and
// history; scp or fcp logged). A password change ends every session of the
// user, this one too.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	s := h.postSession(w, r)
	if s == nil {
		return
	}
	ctx := r.Context()
	idn, err := h.passwordIdentity(r, s)
	if err != nil {
		h.showAccount(w, r, s, http.StatusBadRequest, "Your password is not kept here: change it where you sign in.", nil)
		return
	}
	ident := ""
	switch {
	case idn.EmailLower != nil && *idn.EmailLower != "":
		ident = *idn.EmailLower
	case idn.Username != nil:
		ident = *idn.Username
	}
	current, next := r.PostFormValue("current_password"), r.PostFormValue("new_password")
	if next == "" {
		h.showAccount(w, r, s, http.StatusBadRequest, "Enter a new password.", nil)
		return
	}
	u, err := h.cfg.Auth.CheckPassword(ctx, dbauth.LoginInput{Connection: s.Connection, Identifier: ident, Password: current,
		ClientID: h.clientID, ClientName: clients.AccountClientName})
	switch {
	case errors.Is(err, dbauth.ErrTooManyAttempts):
		h.showAccount(w, r, s, http.StatusTooManyRequests, "Too many wrong passwords. Try again later.", nil)
		return
	case errors.Is(err, dbauth.ErrInvalidCredentials), errors.Is(err, dbauth.ErrBlocked):
		h.showAccount(w, r, s, http.StatusBadRequest, "Your current password is not right.", nil)
		return
	case err != nil:
		h.serverError(w, r, err)
		return
	}
	if u.ID != s.UserRef {
		h.showAccount(w, r, s, http.StatusBadRequest, "Your current password is not right.", nil)
		return
	}
	if err := h.cfg.Auth.ChangePassword(ctx, h.cfg.DB, u, next); err != nil {
		if pe, ok := dbauth.IsPolicyError(err); ok {
			var unmet []string
			for _, rule := range pe.Rules {
				if !rule.Verified {
					unmet = append(unmet, rule.String())
				}
			}
			h.showAccount(w, r, s, http.StatusBadRequest, pe.Message, unmet)
			return
		}
		h.serverError(w, r, err)
		return
	}
	h.message(w, r, http.StatusOK, "Password changed",
		"Your password was changed and you were signed out everywhere, here too. Sign in with your new password.",
		h.path("/login"), "Sign in")
}

// Sessions.

func (h *Handler) revokeSession(w http.ResponseWriter, r *http.Request) {
	s := h.postSession(w, r)
	if s == nil {
		return
	}
	ctx := r.Context()
	id := pulid.ID(r.PostFormValue("id"))
	err := h.cfg.Sessions.RevokeOwn(ctx, s.UserRef, id)
	if errors.Is(err, sessions.ErrNoSession) {
		h.showAccount(w, r, s, http.StatusNotFound, "That session was not found.", nil)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	u := s.Edges.User
	ev := logs.Event{Type: logs.TypeSuccessLogout, Description: "Session ended from the account page",
		ClientID: h.clientID, ClientName: clients.AccountClientName, Connection: s.Connection, UserID: u.UserID,
		Details: map[string]any{"session_id": string(id), "current": id == s.ID}}
	if u.Email != nil {
		ev.UserName = *u.Email
	}
	if err := logs.Write(ctx, h.cfg.DB, ev); err != nil {
		h.cfg.Logger.Warn("account: logging a session's end", "err", err)
	}
	if id == s.ID {
		h.cfg.Sessions.ClearCookie(w)
		h.message(w, r, http.StatusOK, "Signed out", "This session was ended.", h.path("/login"), "Sign in")
		return
	}
	http.Redirect(w, r, h.path("?done=signed"), http.StatusSeeOther)
}
