package login

// Logins through non-database connections (connectors/upstream): LDAP
// connections use the same username/password form as database ones;
// home-realm discovery sends an email whose domain is in a SAML or LDAP
// connection's domain_aliases to that connection. Kept apart from pages.go,
// which only calls passwordForm, startFederated and upstreamSubmit.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/upstream"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/server/loginflow"
)

const (
	msgWrongUpstream = "Wrong username or password."
	msgUnavailable   = "We cannot reach your organization's directory right now (connection unavailable). Please try again in a moment."
)

// passwordForm fills p with the username/password form of upstream password
// connection c (LDAP), rendering it; false when c is not one.
func (h *Handler) passwordForm(w http.ResponseWriter, r *http.Request, req *loginflow.Request, p *page, c loginflow.Connection, username string, status int) bool {
	if h.cfg.Upstream == nil || !upstream.IsPasswordStrategy(c.Strategy) {
		return false
	}
	p.Form = &formData{Connection: c.Name, Username: username, UsernameLabel: "Username", RequiresUsername: true}
	if c.Strategy == connection.StrategyCustomdb.String() {
		// A custom database's users log in with their email and have the
		// database connection's signup and forgot-password pages.
		p.Form.UsernameLabel, p.Form.RequiresUsername = "Email", false
		conn, err := h.cfg.Auth.PasswordConnection(r.Context(), c.Name)
		if err != nil {
			h.serverError(w, r, err)
			return true
		}
		p.ForgotURL = h.path("/forgot", vals(loginflow.ParamRequestID, req.ID, "connection", conn.Name))
		if dbauth.SignupAllowed(conn) {
			p.SignupURL = h.path("/signup", vals(loginflow.ParamRequestID, req.ID, "connection", conn.Name))
		}
	}
	h.render(w, r, status, "login", p)
	return true
}

// startFederated handles a click on a connection's button: LDAP shows its
// form; redirect strategies start their flow. False when nothing handles it.
func (h *Handler) startFederated(w http.ResponseWriter, r *http.Request, req *loginflow.Request, name string) bool {
	if h.cfg.Upstream == nil {
		return false
	}
	c, ok := enabled(req, name)
	if !ok {
		return false
	}
	if upstream.IsPasswordStrategy(c.Strategy) {
		http.Redirect(w, r, h.path("", vals(loginflow.ParamRequestID, req.ID, "connection", name)), http.StatusSeeOther)
		return true
	}
	return h.startRedirect(w, r, req, c)
}

// stateCookie binds a redirect login to the browser that started it, so a
// callback URL with someone else's state and code (login CSRF) fails. Lax:
// the provider's redirect back is a top-level GET.
const stateCookie = "ag_upstream_state"

// startRedirect starts an OIDC/OAuth2 login; false for strategies without
// a redirect flow here.
func (h *Handler) startRedirect(w http.ResponseWriter, r *http.Request, req *loginflow.Request, c loginflow.Connection) bool {
	if c.Strategy == connection.StrategySaml.String() {
		red, err := h.cfg.Upstream.StartSAML(r.Context(), c.Name, req.ID)
		if errors.Is(err, connectors.ErrUnavailable) {
			h.showLogin(w, r, req, "", "", msgUnavailableIdP, http.StatusServiceUnavailable)
			return true
		}
		if err != nil {
			h.serverError(w, r, err)
			return true
		}
		name, value := samlBinding(red.State)
		http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: h.base + "saml/",
			MaxAge: int(upstream.StateTTL / time.Second), HttpOnly: true, Secure: true, SameSite: http.SameSiteNoneMode})
		http.Redirect(w, r, red.URL, http.StatusSeeOther)
		return true
	}
	if c.Strategy != connection.StrategyOidc.String() {
		return false
	}
	red, err := h.cfg.Upstream.StartRedirect(r.Context(), c.Name, req.ID, h.callbackURL())
	if errors.Is(err, connectors.ErrUnavailable) {
		h.showLogin(w, r, req, "", "", msgUnavailableIdP, http.StatusServiceUnavailable)
		return true
	}
	if err != nil {
		h.serverError(w, r, err)
		return true
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: red.State, Path: h.base + "login/callback",
		MaxAge: int(upstream.StateTTL / time.Second), HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, red.URL, http.StatusSeeOther)
	return true
}

// callbackURL is {issuer}login/callback, as registered at the providers.
func (h *Handler) callbackURL() string {
	return strings.TrimSuffix(h.cfg.Issuer, "/") + "/login/callback"
}

// samlBinding is the cookie binding a SAML login's RelayState to the
// browser that started it, so that a response posted from another browser
// (login CSRF: an attacker's own assertion, to sign the victim in as the
// attacker) is refused. The IdP's POST back is a cross-site request, which
// carries only SameSite=None cookies, and those must be Secure: browsers,
// and Go's cookie jar, keep Secure cookies on http only for localhost and
// loopback addresses, which is where an http issuer is allowed to run. One
// cookie per RelayState (named after its hash, holding another hash of it)
// lets logins started in several tabs all complete; each lives as long as
// the pending request, and only under {issuer}saml/.
func samlBinding(relay string) (name, value string) {
	sum := sha256.Sum256([]byte("saml-relay-binding:" + relay))
	return "ag_saml_" + hex.EncodeToString(sum[:8]), base64.RawURLEncoding.EncodeToString(sum[8:])
}

// samlBound reports whether r's browser holds the binding of the RelayState
// it posts, and clears that cookie (single use).
func (h *Handler) samlBound(w http.ResponseWriter, r *http.Request) bool {
	relay := r.PostForm.Get("RelayState")
	if relay == "" {
		return false
	}
	name, value := samlBinding(relay)
	c, err := r.Cookie(name)
	if err != nil {
		return false
	}
	http.SetCookie(w, &http.Cookie{Name: name, Path: h.base + "saml/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteNoneMode})
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(value)) == 1
}

const msgUnavailableIdP = "We cannot reach this identity provider right now (connection unavailable). Please try again in a moment."

// upstreamCallback finishes a redirect login.
func (h *Handler) upstreamCallback(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Upstream == nil {
		http.NotFound(w, r)
		return
	}
	c, err := r.Cookie(stateCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.URL.Query().Get("state"))) != 1 {
		h.message(w, r, http.StatusBadRequest, "Log in", msgBadRequest, "", "")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Path: h.base + "login/callback", MaxAge: -1, HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	res, reqID, err := h.cfg.Upstream.Callback(r.Context(), r, h.callbackURL())
	if errors.Is(err, upstream.ErrUnknownState) {
		h.message(w, r, http.StatusBadRequest, "Log in", msgBadRequest, "", "")
		return
	}
	req, ok := h.request(w, r, reqID)
	if !ok {
		return
	}
	switch {
	case err == nil:
		h.finishUpstream(w, r, req, res)
	case errors.Is(err, connectors.ErrUnavailable):
		h.showLogin(w, r, req, "", "", msgUnavailableIdP, http.StatusServiceUnavailable)
	case errors.Is(err, connectors.ErrInvalidResponse):
		h.showLogin(w, r, req, "", "", "We could not log you in with this identity provider. Please try again.", http.StatusBadRequest)
	default:
		h.serverError(w, r, err)
	}
}

// upstreamSubmit handles a password POST meant for an upstream: the posted
// connection is an enabled LDAP connection, or (home-realm discovery) the
// identifier is an email in the domain_aliases of an enabled SAML or LDAP
// connection. False leaves the POST to the database login.
func (h *Handler) upstreamSubmit(w http.ResponseWriter, r *http.Request, req *loginflow.Request) bool {
	if h.cfg.Upstream == nil {
		return false
	}
	name, username := r.PostFormValue("connection"), r.PostFormValue("username")
	if c, ok := enabled(req, name); ok && upstream.IsPasswordStrategy(c.Strategy) {
		h.upstreamPasswordLogin(w, r, req, c.Name, username, r.PostFormValue("password"))
		return true
	}
	if name != "" {
		if c, ok := enabled(req, name); ok && c.Strategy != connection.StrategyDatabase.String() {
			return false
		}
	}
	if !strings.Contains(username, "@") {
		return false
	}
	var candidates []string
	for _, c := range req.EnabledConnections {
		if c.Strategy == connection.StrategySaml.String() || c.Strategy == connection.StrategyLdap.String() {
			candidates = append(candidates, c.Name)
		}
	}
	conn, err := h.cfg.Upstream.DiscoverRealm(r.Context(), candidates, strings.TrimSpace(username))
	if err != nil {
		h.serverError(w, r, err)
		return true
	}
	if conn == nil {
		return false
	}
	if upstream.IsPasswordStrategy(conn.Strategy.String()) {
		h.upstreamPasswordLogin(w, r, req, conn.Name, username, r.PostFormValue("password"))
		return true
	}
	return h.startFederated(w, r, req, conn.Name)
}

func (h *Handler) upstreamPasswordLogin(w http.ResponseWriter, r *http.Request, req *loginflow.Request, connName, username, password string) {
	res, err := h.cfg.Upstream.Login(r.Context(), upstream.PasswordLogin{
		Connection: connName, Username: username, Password: password,
		ClientID: req.ClientID, ClientName: req.ClientName,
	})
	switch {
	case err == nil:
		h.finishUpstream(w, r, req, res)
	case errors.Is(err, connectors.ErrInvalidCredentials):
		h.showLogin(w, r, req, connName, username, msgWrongUpstream, http.StatusUnauthorized)
	case errors.Is(err, connectors.ErrUnavailable):
		h.showLogin(w, r, req, connName, username, msgUnavailable, http.StatusServiceUnavailable)
	case errors.Is(err, dbauth.ErrTooManyAttempts):
		h.tooManyAttempts(w, r, req, connName)
	case errors.Is(err, dbauth.ErrBusy):
		h.showLogin(w, r, req, connName, username, msgBusy, retryLater(w))
	default:
		h.serverError(w, r, err)
	}
}

// finishUpstream hands an upstream login to the provider, which decides
// it and records it with its session (authn.Finalize), as finish does for
// database logins.
func (h *Handler) finishUpstream(w http.ResponseWriter, r *http.Request, req *loginflow.Request, res *upstream.Result) {
	h.cfg.Handoff.Complete(w, r, req.ID, loginflow.Login{
		UserID: res.User.ID, User: res.User, AuthTime: h.cfg.Now().Truncate(time.Second), AMR: res.AMR,
		Connection: res.Connection.Name, Pending: res.Pending,
	})
}

// samlMetadata serves a SAML connection's SP metadata.
func (h *Handler) samlMetadata(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Upstream == nil {
		http.NotFound(w, r)
		return
	}
	md, err := h.cfg.Upstream.SAMLMetadata(r.Context(), r.PathValue("connection"))
	if errors.Is(err, upstream.ErrUnknownConnection) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(md)
}

// samlACS consumes a SAML response. Errors never show crewjam's PrivateErr
// (it goes to the logs): users see one generic message.
func (h *Handler) samlACS(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Upstream == nil {
		http.NotFound(w, r)
		return
	}
	// crewjam reads r.PostForm: parse it first.
	if err := r.ParseForm(); err != nil {
		h.message(w, r, http.StatusBadRequest, "Log in", msgBadRequest, "", "")
		return
	}
	res, reqID, err := h.cfg.Upstream.ACS(r.Context(), r.PathValue("connection"), r, h.samlBound(w, r))
	if errors.Is(err, upstream.ErrUnknownConnection) {
		http.NotFound(w, r)
		return
	}
	var req *loginflow.Request
	if reqID != "" {
		var ok bool
		if req, ok = h.request(w, r, reqID); !ok {
			return
		}
	}
	switch {
	case err == nil && req != nil:
		h.finishUpstream(w, r, req, res)
	case err == nil:
		// IdP-initiated: no application asked. The login is recorded with
		// its SSO session, which lets the next /authorize through without
		// a prompt (and is decided then, rules and second factor included).
		ok, err := h.cfg.Handoff.Establish(w, r, loginflow.Login{
			UserID: res.User.ID, User: res.User, AuthTime: h.cfg.Now().Truncate(time.Second), AMR: res.AMR,
			Connection: res.Connection.Name, Pending: res.Pending,
		})
		switch {
		case err != nil:
			h.serverError(w, r, err)
		case !ok:
			h.message(w, r, http.StatusBadRequest, "Log in", "We could not log you in with your organization's identity provider. Please try again.", "", "")
		default:
			h.message(w, r, http.StatusOK, "Logged in", "", "You are logged in. You can now open your application.", "")
		}
	case errors.Is(err, connectors.ErrUnavailable):
		h.message(w, r, http.StatusServiceUnavailable, "Log in", msgUnavailableIdP, "", "")
	case errors.Is(err, connectors.ErrInvalidResponse), errors.Is(err, upstream.ErrOtherBrowser):
		h.message(w, r, http.StatusBadRequest, "Log in", "We could not log you in with your organization's identity provider. Please try again.", "", "")
	default:
		h.serverError(w, r, err)
	}
}
