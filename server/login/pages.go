package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/dbauth/policy"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/ticket"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/server/loginflow"
	"github.com/authgraph/authgraph/sessions"
)

const (
	msgBadRequest      = "This login request is invalid or has expired. Return to the application and try again."
	msgWrongCreds      = "Wrong email or password."
	msgTryLater        = "We cannot do this right now. Please try again in a moment."
	msgWrongUser       = "Wrong email, username or password."
	msgTooMany         = "Too many failed attempts to log in to this account from your network. Logging in is blocked for now: reset your password to unblock it, or ask an administrator."
	msgTooManyUpstream = "Too many failed attempts to log in to this account from your network. Logging in is blocked for now: ask an administrator to unblock it."
	msgInvalidSignup   = "Something went wrong, please try again later."
	msgBadTicket       = "This link is invalid, has already been used, or has expired."
)

// request loads the pending /authorize, answering 400 when it is gone.
func (h *Handler) request(w http.ResponseWriter, r *http.Request, id string) (*loginflow.Request, bool) {
	if id == "" {
		h.message(w, r, http.StatusBadRequest, "Log in", msgBadRequest, "", "")
		return nil, false
	}
	req, err := h.cfg.Handoff.Request(r.Context(), id)
	if errors.Is(err, loginflow.ErrUnknownRequest) {
		h.message(w, r, http.StatusBadRequest, "Log in", msgBadRequest, "", "")
		return nil, false
	}
	if err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	return req, true
}

// loginPage: reuse a usable SSO session, answer prompt=none, or show the
// chooser and form.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get(loginflow.ParamRequestID)
	req, ok := h.request(w, r, id)
	if !ok {
		return
	}
	if h.trySSO(w, r, req) {
		return
	}
	if req.HasPrompt("none") {
		h.cfg.Handoff.Fail(w, r, req.ID, "login_required", "the user is not logged in")
		return
	}
	name := r.URL.Query().Get("connection")
	if name == "" {
		name = req.Connection
	}
	// connection=NAME of a redirect connection (OIDC, SAML) goes straight
	// to its provider, as Auth0 does: a chooser with one button is a click
	// for nothing. Password connections (database, LDAP, custom database)
	// get their form below.
	if c, ok := enabled(req, name); ok && isRedirectStrategy(c.Strategy) && h.startFederated(w, r, req, c.Name) {
		return
	}
	h.showLogin(w, r, req, r.URL.Query().Get("connection"), req.LoginHint, "", http.StatusOK)
}

// isRedirectStrategy reports whether logging in through a connection of
// this strategy sends the browser to another provider.
func isRedirectStrategy(strategy string) bool {
	return strategy == connection.StrategyOidc.String() || strategy == connection.StrategySaml.String()
}

// trySSO completes the request with the browser's session when it is usable:
// not prompt=login, within max_age, the hinted subject, and from a
// connection enabled for the client.
func (h *Handler) trySSO(w http.ResponseWriter, r *http.Request, req *loginflow.Request) bool {
	if req.HasPrompt("login") {
		return false
	}
	s, err := h.cfg.Sessions.Current(r.Context(), r)
	if err != nil {
		if !errors.Is(err, sessions.ErrNoSession) {
			h.cfg.Logger.Error("reading the SSO session", "err", err)
		}
		return false
	}
	if req.MaxAge != nil && h.cfg.Now().Sub(s.AuthTime) > time.Duration(*req.MaxAge)*time.Second {
		return false
	}
	if req.IDTokenHintSubject != "" && (s.Edges.User == nil || s.Edges.User.UserID != req.IDTokenHintSubject) {
		return false
	}
	if !slices.ContainsFunc(req.EnabledConnections, func(c loginflow.Connection) bool { return c.Name == s.Connection }) {
		return false
	}
	// connection= asks for a login through that connection: a session
	// from another one does not answer it.
	if req.Connection != "" && req.Connection != s.Connection {
		return false
	}
	h.cfg.Handoff.Complete(w, r, req.ID, loginflow.Login{
		UserID: s.UserRef, SessionID: s.ID, AuthTime: s.AuthTime, AMR: s.Amr, Connection: s.Connection,
	})
	return true
}

// enabled returns the request's connection called name, if enabled.
func enabled(req *loginflow.Request, name string) (loginflow.Connection, bool) {
	for _, c := range req.EnabledConnections {
		if c.Name == name {
			return c, true
		}
	}
	return loginflow.Connection{}, false
}

// pickDatabase returns the database connection a page is for: the named
// one, else the request's connection parameter, else the client's only
// database connection. "" when ambiguous or none.
func pickDatabase(req *loginflow.Request, name string) string {
	if name == "" {
		name = req.Connection
	}
	if name != "" {
		if c, ok := enabled(req, name); ok && c.Strategy == connection.StrategyDatabase.String() {
			return name
		}
		return ""
	}
	var found []string
	for _, c := range req.EnabledConnections {
		if c.Strategy == connection.StrategyDatabase.String() {
			found = append(found, c.Name)
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return ""
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request, req *loginflow.Request, connName, username, errText string, status int) {
	p := &page{Title: "Log in", Client: req.ClientName, ReqID: req.ID, Error: errText,
		Action: h.path("", vals(loginflow.ParamRequestID, req.ID))}
	chosen := connName
	if chosen == "" {
		chosen = req.Connection
	}
	if chosen != "" {
		c, ok := enabled(req, chosen)
		if !ok {
			h.message(w, r, http.StatusBadRequest, "Log in", fmt.Sprintf("The connection %q is not enabled for this application.", chosen), "", "")
			return
		}
		if c.Strategy != connection.StrategyDatabase.String() {
			// Upstream password connections (LDAP) get the same form
			// (upstream.go).
			if h.passwordForm(w, r, req, p, c, username, status) {
				return
			}
			p.Others = []choice{{Name: c.Name}}
		}
	}
	var dbNames []string
	for _, c := range req.EnabledConnections {
		if c.Strategy == connection.StrategyDatabase.String() {
			dbNames = append(dbNames, c.Name)
		} else if chosen == "" {
			p.Others = append(p.Others, choice{Name: c.Name})
		}
	}
	formConn := pickDatabase(req, chosen)
	if chosen == "" && formConn == "" && len(dbNames) > 1 {
		for _, n := range dbNames {
			p.Choices = append(p.Choices, choice{Name: n, URL: h.path("", vals(loginflow.ParamRequestID, req.ID, "connection", n))})
		}
	}
	if formConn != "" {
		conn, err := h.cfg.Auth.Connection(r.Context(), formConn)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		f := &formData{Connection: conn.Name, Username: username, UsernameLabel: "Email", RequiresUsername: dbauth.RequiresUsername(conn)}
		if f.RequiresUsername {
			f.UsernameLabel = "Email or username"
		}
		p.Form = f
		p.ForgotURL = h.path("/forgot", vals(loginflow.ParamRequestID, req.ID, "connection", conn.Name))
		if dbauth.SignupAllowed(conn) {
			p.SignupURL = h.path("/signup", vals(loginflow.ParamRequestID, req.ID, "connection", conn.Name))
		}
	}
	h.offerPasskey(r, req, p) // webauthn.go
	h.render(w, r, status, "login", p)
}

// loginSubmit checks a password and hands the login to the provider.
func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		return
	}
	req, ok := h.request(w, r, r.FormValue(loginflow.ParamRequestID))
	if !ok {
		return
	}
	if fed := r.PostFormValue("federated"); fed != "" {
		if h.startFederated(w, r, req, fed) { // upstream.go
			return
		}
		h.showLogin(w, r, req, "", "", fmt.Sprintf("Logging in with %s is not available yet.", fed), http.StatusNotImplemented)
		return
	}
	// LDAP connections and home-realm discovery (upstream.go).
	if h.upstreamSubmit(w, r, req) {
		return
	}
	connName := pickDatabase(req, r.PostFormValue("connection"))
	if connName == "" {
		h.showLogin(w, r, req, "", "", "Choose how to log in.", http.StatusBadRequest)
		return
	}
	username := r.PostFormValue("username")
	res, err := h.cfg.Auth.Login(r.Context(), dbauth.LoginInput{
		Connection: connName, Identifier: username, Password: r.PostFormValue("password"),
		ClientID: req.ClientID, ClientName: req.ClientName,
	})
	if err != nil {
		h.loginFailed(w, r, req, connName, username, err)
		return
	}
	h.finish(w, r, req, res)
}

func (h *Handler) loginFailed(w http.ResponseWriter, r *http.Request, req *loginflow.Request, connName, username string, err error) {
	switch {
	case errors.Is(err, dbauth.ErrInvalidCredentials):
		msg := msgWrongCreds
		if conn, cerr := h.cfg.Auth.Connection(r.Context(), connName); cerr == nil && dbauth.RequiresUsername(conn) {
			msg = msgWrongUser
		}
		h.showLogin(w, r, req, connName, username, msg, http.StatusUnauthorized)
	case errors.Is(err, dbauth.ErrTooManyAttempts):
		h.tooManyAttempts(w, r, req, connName)
	case errors.Is(err, dbauth.ErrBusy):
		h.showLogin(w, r, req, connName, username, msgBusy, retryLater(w)) // busy.go
	default:
		h.serverError(w, r, err)
	}
}

// tooManyAttempts answers 429 too_many_attempts (brute-force protection),
// with a link to reset the password when the connection's passwords are
// Authgraph's (database and custom database; an LDAP directory's are not).
func (h *Handler) tooManyAttempts(w http.ResponseWriter, r *http.Request, req *loginflow.Request, connName string) {
	p := &page{Title: "Too many attempts", Client: req.ClientName, Error: msgTooManyUpstream, Code: "too_many_attempts"}
	if c, ok := enabled(req, connName); !ok || c.Strategy == connection.StrategyDatabase.String() || c.Strategy == connection.StrategyCustomdb.String() {
		p.Error = msgTooMany
		p.ForgotURL = h.path("/forgot", vals(loginflow.ParamRequestID, req.ID, "connection", connName))
	}
	h.render(w, r, http.StatusTooManyRequests, "message", p)
}

// finish hands a correct password to the provider, which decides the login
// and records it with its session (authn.Finalize).
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, req *loginflow.Request, res *dbauth.LoginResult) {
	// auth_time is whole seconds in tokens; storing it so keeps the value
	// handed over now equal to the one a later SSO reads back (Postgres
	// keeps microseconds only). res.User is the user as the login read it:
	// the provider need not read it again.
	h.cfg.Handoff.Complete(w, r, req.ID, loginflow.Login{
		UserID: res.User.ID, User: res.User, AuthTime: h.cfg.Now().Truncate(time.Second), AMR: []string{"pwd"},
		Connection: res.Connection.Name, Pending: res.Pending,
	})
}

// policyRules lists conn's password requirements for the forms.
func policyRules(conn *ent.Connection) []string {
	opts := policy.FromConnection(conn.Options)
	var out []string
	for _, r := range policy.Describe(opts.Level) {
		out = append(out, r.String())
	}
	if opts.Dictionary {
		out = append(out, "Not a commonly used password")
	}
	if opts.NoPersonalInfo {
		out = append(out, "Not based on your name, username or email address")
	}
	if opts.History > 0 {
		out = append(out, fmt.Sprintf("Different from your last %d passwords", opts.History))
	}
	return out
}

// policyError renders a refused password for the error box.
func policyError(err error) (string, []string, bool) {
	pe, ok := dbauth.IsPolicyError(err)
	if !ok {
		return "", nil, false
	}
	var rules []string
	for _, r := range pe.Rules {
		if !r.Verified {
			rules = append(rules, r.String())
		}
	}
	return pe.Message + ".", rules, true
}

// pickPassword is pickDatabase that also accepts a named custom-database
// connection: signup and forgot-password serve both.
func pickPassword(req *loginflow.Request, name string) string {
	if name != "" {
		if c, ok := enabled(req, name); ok && c.Strategy == connection.StrategyCustomdb.String() {
			return name
		}
	}
	return pickDatabase(req, name)
}

// signupConn resolves the connection of a signup for req: enabled, database
// or custom database, signups allowed.
func (h *Handler) signupConn(w http.ResponseWriter, r *http.Request, req *loginflow.Request, name string) (*ent.Connection, bool) {
	n := pickPassword(req, name)
	if n == "" {
		h.message(w, r, http.StatusBadRequest, "Sign up", "Choose a connection that is enabled for this application.", "", h.path("", vals(loginflow.ParamRequestID, req.ID)))
		return nil, false
	}
	conn, err := h.cfg.Auth.PasswordConnection(r.Context(), n)
	if err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	if !dbauth.SignupAllowed(conn) {
		h.message(w, r, http.StatusForbidden, "Sign up", "Signing up is not available for this application.", "", h.path("", vals(loginflow.ParamRequestID, req.ID)))
		return nil, false
	}
	return conn, true
}

func (h *Handler) signupForm(req *loginflow.Request, conn *ent.Connection, email, username string) *page {
	return &page{
		Title: "Sign up", Client: req.ClientName, ReqID: req.ID,
		Action:      h.path("/signup", vals(loginflow.ParamRequestID, req.ID)),
		Form:        &formData{Connection: conn.Name, Email: email, Username: username, RequiresUsername: dbauth.RequiresUsername(conn)},
		PolicyRules: policyRules(conn),
		LoginURL:    h.path("", vals(loginflow.ParamRequestID, req.ID, "connection", conn.Name)),
	}
}

func (h *Handler) signupPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req, ok := h.request(w, r, q.Get(loginflow.ParamRequestID))
	if !ok {
		return
	}
	conn, ok := h.signupConn(w, r, req, q.Get("connection"))
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "signup", h.signupForm(req, conn, req.LoginHint, ""))
}

func (h *Handler) signupSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		return
	}
	req, ok := h.request(w, r, r.FormValue(loginflow.ParamRequestID))
	if !ok {
		return
	}
	conn, ok := h.signupConn(w, r, req, r.PostFormValue("connection"))
	if !ok {
		return
	}
	email, username, password := r.PostFormValue("email"), r.PostFormValue("username"), r.PostFormValue("password")
	_, err := h.cfg.Auth.Signup(r.Context(), dbauth.SignupInput{
		Connection: conn.Name, Email: email, Username: username, Password: password,
		ClientID: req.ClientID, ClientName: req.ClientName,
	})
	if err != nil {
		p := h.signupForm(req, conn, email, username)
		var ve *identity.ValidationError
		switch msg, rules, isPolicy := policyError(err); {
		case isPolicy:
			p.Error, p.Rules = msg, rules
		case errors.As(err, &ve):
			p.Error = fieldLabel(ve.Field) + " " + ve.Message + "."
		case errors.Is(err, dbauth.ErrUserExists):
			// As Auth0 answers (invalid_signup): nothing says the account
			// exists; its owner is emailed instead (dbauth.Signup).
			p.Error, p.Code = msgInvalidSignup, "invalid_signup"
		case errors.Is(err, connectors.ErrUnavailable):
			p.Error = msgTryLater
			h.render(w, r, http.StatusServiceUnavailable, "signup", p)
			return
		case errors.Is(err, dbauth.ErrBusy):
			p.Error = msgBusy
			h.render(w, r, retryLater(w), "signup", p)
			return
		default:
			h.serverError(w, r, err)
			return
		}
		h.render(w, r, http.StatusBadRequest, "signup", p)
		return
	}
	// The new user logs in at once, through the ordinary login (s event,
	// logins_count, session): a custom database's through its connector.
	if dbauth.IsCustomDB(conn) && h.cfg.Upstream != nil {
		h.upstreamPasswordLogin(w, r, req, conn.Name, email, password)
		return
	}
	res, err := h.cfg.Auth.Login(r.Context(), dbauth.LoginInput{
		Connection: conn.Name, Identifier: email, Password: password, ClientID: req.ClientID, ClientName: req.ClientName,
	})
	if err != nil {
		h.loginFailed(w, r, req, conn.Name, email, err)
		return
	}
	h.finish(w, r, req, res)
}

func fieldLabel(f string) string {
	switch f {
	case "email":
		return "The email address"
	case "username":
		return "The username"
	case "password":
		return "The password"
	}
	return "The " + f
}

// forgotConn resolves the connection of a forgot-password request: from the
// login request when there is one, else the named one, else the only
// database connection.
func (h *Handler) forgotConn(ctx context.Context, req *loginflow.Request, name string) (*ent.Connection, error) {
	if req != nil {
		n := pickPassword(req, name)
		if n == "" {
			return nil, dbauth.ErrUnknownConnection
		}
		return h.cfg.Auth.PasswordConnection(ctx, n)
	}
	if name != "" {
		return h.cfg.Auth.PasswordConnection(ctx, name)
	}
	conns, err := h.cfg.DB.Connection.Query().Where(connection.StrategyEQ(connection.StrategyDatabase)).Limit(2).All(systemCtx(ctx))
	if err != nil {
		return nil, err
	}
	if len(conns) != 1 {
		return nil, dbauth.ErrUnknownConnection
	}
	return conns[0], nil
}

func (h *Handler) forgotRequest(w http.ResponseWriter, r *http.Request, id string) (*loginflow.Request, bool) {
	if id == "" {
		return nil, true // forgot-password works without a pending login
	}
	return h.request(w, r, id)
}

func (h *Handler) forgotPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req, ok := h.forgotRequest(w, r, q.Get(loginflow.ParamRequestID))
	if !ok {
		return
	}
	conn, err := h.forgotConn(r.Context(), req, q.Get("connection"))
	if errors.Is(err, dbauth.ErrUnknownConnection) {
		h.message(w, r, http.StatusBadRequest, "Reset your password", "Password reset is not available here.", "", "")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "forgot", h.forgotForm(req, conn, q.Get("email")))
}

func (h *Handler) forgotForm(req *loginflow.Request, conn *ent.Connection, email string) *page {
	p := &page{Title: "Reset your password", Form: &formData{Connection: conn.Name, Email: email}}
	q := vals("connection", conn.Name)
	if req != nil {
		p.Client, p.ReqID = req.ClientName, req.ID
		q.Set(loginflow.ParamRequestID, req.ID)
		p.LoginURL = h.path("", vals(loginflow.ParamRequestID, req.ID, "connection", conn.Name))
	}
	p.Action = h.path("/forgot", q)
	return p
}

func (h *Handler) forgotSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		return
	}
	req, ok := h.forgotRequest(w, r, r.FormValue(loginflow.ParamRequestID))
	if !ok {
		return
	}
	conn, err := h.forgotConn(r.Context(), req, r.FormValue("connection"))
	if errors.Is(err, dbauth.ErrUnknownConnection) {
		h.message(w, r, http.StatusBadRequest, "Reset your password", "Password reset is not available here.", "", "")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	p := h.forgotForm(req, conn, email)
	if email == "" {
		p.Error = "Enter your email address."
		h.render(w, r, http.StatusBadRequest, "forgot", p)
		return
	}
	clientID := ""
	if req != nil {
		clientID = req.ClientID
	}
	if err := h.cfg.Auth.RequestPasswordReset(r.Context(), conn.Name, email, clientID); err != nil {
		if errors.Is(err, connectors.ErrUnavailable) {
			// get_user failed: not an answer about the address either.
			p.Error = msgTryLater
			h.render(w, r, http.StatusServiceUnavailable, "forgot", p)
			return
		}
		h.serverError(w, r, err)
		return
	}
	// The same answer whether or not the address has an account.
	p.Info = "If an account exists for this email address, we have sent it a link to reset the password. Check your inbox."
	h.render(w, r, http.StatusOK, "forgot", p)
}

func (h *Handler) resetForm(info *dbauth.TicketInfo, token string) *page {
	email := ""
	if info.User.Email != nil {
		email = *info.User.Email
	}
	return &page{
		Title: "Change your password", Action: h.path("/reset", nil),
		Form:        &formData{Email: email, Ticket: token},
		PolicyRules: policyRules(info.Connection),
	}
}

func (h *Handler) resetPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("ticket")
	info, err := h.cfg.Auth.LookupTicket(r.Context(), ticket.KindPasswordChange, token)
	if errors.Is(err, dbauth.ErrTicketInvalid) {
		h.render(w, r, http.StatusBadRequest, "message", &page{Title: "Change your password", Error: msgBadTicket, ForgotURL: h.path("/forgot", nil)})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "reset", h.resetForm(info, token))
}

func (h *Handler) resetSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		return
	}
	token := r.PostFormValue("ticket")
	info, err := h.cfg.Auth.LookupTicket(r.Context(), ticket.KindPasswordChange, token)
	if errors.Is(err, dbauth.ErrTicketInvalid) {
		h.render(w, r, http.StatusBadRequest, "message", &page{Title: "Change your password", Error: msgBadTicket, ForgotURL: h.path("/forgot", nil)})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password_confirm") {
		p := h.resetForm(info, token)
		p.Error = "The two passwords do not match."
		h.render(w, r, http.StatusBadRequest, "reset", p)
		return
	}
	result, err := h.cfg.Auth.ResetPassword(r.Context(), token, pw)
	if msg, rules, isPolicy := policyError(err); isPolicy {
		p := h.resetForm(info, token)
		p.Error, p.Rules = msg, rules
		h.render(w, r, http.StatusBadRequest, "reset", p)
		return
	}
	if errors.Is(err, dbauth.ErrTicketInvalid) {
		h.render(w, r, http.StatusBadRequest, "message", &page{Title: "Change your password", Error: msgBadTicket, ForgotURL: h.path("/forgot", nil)})
		return
	}
	if errors.Is(err, dbauth.ErrBusy) { // the ticket is still valid
		p := h.resetForm(info, token)
		p.Error = msgBusy
		h.render(w, r, retryLater(w), "reset", p)
		return
	}
	if errors.Is(err, connectors.ErrUnavailable) {
		// A custom database's script failed; the ticket is still valid.
		p := h.resetForm(info, token)
		p.Error = msgTryLater
		h.render(w, r, http.StatusServiceUnavailable, "reset", p)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	if result != "" {
		http.Redirect(w, r, result, http.StatusSeeOther)
		return
	}
	h.message(w, r, http.StatusOK, "Password changed", "", "Your password has been changed. You can now log in with the new password.", "")
}

func (h *Handler) verifyPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("ticket")
	info, err := h.cfg.Auth.LookupTicket(r.Context(), ticket.KindEmailVerification, token)
	if errors.Is(err, dbauth.ErrTicketInvalid) {
		h.message(w, r, http.StatusBadRequest, "Verify your email", msgBadTicket, "", "")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	email := ""
	if info.User.Email != nil {
		email = *info.User.Email
	}
	// A GET only shows a button: mail scanners that open links must not use
	// the ticket.
	h.render(w, r, http.StatusOK, "verify", &page{Title: "Verify your email", Action: h.path("/verify", nil),
		Form: &formData{Email: email, Ticket: token}})
}

func (h *Handler) verifySubmit(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		return
	}
	result, err := h.cfg.Auth.VerifyEmail(r.Context(), r.PostFormValue("ticket"))
	if errors.Is(err, dbauth.ErrTicketInvalid) {
		h.message(w, r, http.StatusBadRequest, "Verify your email", msgBadTicket, "", "")
		return
	}
	if errors.Is(err, connectors.ErrUnavailable) {
		h.message(w, r, http.StatusServiceUnavailable, "Verify your email", msgTryLater, "", "")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	if result != "" {
		http.Redirect(w, r, result, http.StatusSeeOther)
		return
	}
	h.message(w, r, http.StatusOK, "Email verified", "", "Your email address has been verified. You can close this page.", "")
}
