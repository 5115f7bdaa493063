// Package account serves the self-service account page at {issuer}account:
// a signed-in user lists and removes their second factors, adds an
// authenticator app, regenerates recovery codes, changes their password and
// ends their sessions. Like the login pages it is server-rendered, usable
// without JavaScript, CSRF-protected, and served under a strict
// Content-Security-Policy.
//
// Who is signed in is the browser's SSO session (sessions.Manager.Current).
// Without one, the page starts an ordinary authorization request with the
// built-in account client (clients.AccountClientName) and returns to
// {issuer}account/callback: the hosted login pages, the tenant's MFA policy
// and its rules apply as for any application, and the session they create
// is the one this page reads. The authorization code is never redeemed —
// its PKCE verifier is thrown away — so it grants nothing.
//
// Changes that would let a stolen session keep an account (removing a
// factor, adding an authenticator app, new recovery codes) need a sign-in
// within RecentAuth; older sessions are sent to sign in again
// (prompt=login). A password change asks for the current password instead.
//
// Routes, relative to the issuer's path (base):
//
//	GET  {base}account                          the page (or a redirect to sign in)
//	GET  {base}account/login[?reauth=1]         starts the authorization request
//	GET  {base}account/callback?state=S&code=C  its return
//	POST {base}account/authenticators/delete    removes one factor (field id)
//	POST {base}account/totp                     starts an authenticator app enrollment
//	POST {base}account/totp/confirm             confirms it (fields authenticator_id, code)
//	POST {base}account/recovery-codes           replaces the recovery codes, shown once
//	POST {base}account/password                 changes the password (current_password, new_password)
//	POST {base}account/sessions/revoke          ends one session (field id)
//	POST {base}account/webauthn/options         a security key's or passkey's registration options (JSON, webauthn.go)
//	POST {base}account/webauthn/register        registers it (field credential)
//	GET  {base}account/assets/account.css       the stylesheet
package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authrequest"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/passkeys"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/server/formcsrf"
	"github.com/authgraph/authgraph/sessions"
)

// RecentAuth is how long after signing in a session may remove or add
// second factors.
const RecentAuth = 10 * time.Minute

// Config wires the page.
type Config struct {
	// Issuer is the issuer URL; the page lives at Issuer+"account".
	Issuer   string
	DB       *ent.Client
	Sessions *sessions.Manager
	Auth     *dbauth.Service
	// MFA lists and changes second factors; nil hides them.
	MFA *mfa.Service
	// Passkeys registers security keys and passkeys; nil (WebAuthn
	// unavailable, e.g. an IP-address issuer) offers none.
	Passkeys *passkeys.Service
	// Box seals the cookie that ties the page to a session which completed
	// a sign-in to the account client (the master key's box).
	Box    *secretbox.Box
	Logger *slog.Logger
	// Now is the clock (tests); time.Now by default.
	Now func() time.Time
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/account.css
var assetFS embed.FS

// Handler serves the account page.
type Handler struct {
	cfg      Config
	base     string // issuer path ending in "/"
	secure   bool   // https issuer
	csrf     *formcsrf.Guard
	clientID string // the built-in account client's
	pages    map[string]*template.Template
	mux      *http.ServeMux
	css      []byte
}

// New builds the handler. The account client must exist
// (clients.EnsureAccount runs at every start, in server.Prepare).
func New(ctx context.Context, cfg Config) (*Handler, error) {
	if cfg.DB == nil || cfg.Sessions == nil || cfg.Auth == nil || cfg.Box == nil {
		return nil, errors.New("account: Config needs DB, Sessions, Auth and Box")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("account: issuer %q is not an absolute URL", cfg.Issuer)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	app, err := clients.Account(ctx, cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("finding the account client: %w", err)
	}
	h := &Handler{cfg: cfg, base: u.Path, secure: u.Scheme == "https", clientID: app.ClientID, pages: map[string]*template.Template{}}
	h.csrf = formcsrf.New("authgraph_account_csrf", "authgraph-account-csrf", h.secure)
	if !strings.HasSuffix(h.base, "/") {
		h.base += "/"
	}
	for _, p := range []string{"account", "totp", "codes", "message"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, err
		}
		h.pages[p] = t
	}
	if h.css, err = fs.ReadFile(assetFS, "assets/account.css"); err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	p := h.base + "account"
	m.HandleFunc("GET "+p, h.accountPage)
	m.HandleFunc("GET "+p+"/login", h.startLogin)
	m.HandleFunc("GET "+p+"/callback", h.callback)
	m.HandleFunc("POST "+p+"/authenticators/delete", h.deleteAuthenticator)
	m.HandleFunc("POST "+p+"/totp", h.startTOTP)
	m.HandleFunc("POST "+p+"/totp/confirm", h.confirmTOTP)
	m.HandleFunc("POST "+p+"/recovery-codes", h.recoveryCodes)
	m.HandleFunc("POST "+p+"/password", h.changePassword)
	m.HandleFunc("POST "+p+"/sessions/revoke", h.revokeSession)
	m.HandleFunc("POST "+p+"/webauthn/options", h.webauthnOptions)
	m.HandleFunc("POST "+p+"/webauthn/register", h.webauthnRegister)
	m.HandleFunc("GET "+p+"/assets/account.css", h.serveCSS)
	h.mux = m
	return h, nil
}

// Register mounts the page on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle(h.base+"account", h)
	mux.Handle(h.base+"account/", h)
}

// maxForm bounds a form body.
const maxForm = 64 << 10

// csp is the pages' policy (scripts: only the login pages' webauthn.js,
// same origin); the enrollment page adds data: images (its QR code).
const (
	csp     = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	cspTOTP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) serveCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(h.css)
}

func (h *Handler) path(p string) string { return h.base + "account" + p }

// Signing in.

func (h *Handler) stateCookieName() string {
	if h.secure {
		return "__Host-authgraph_account_state"
	}
	return "authgraph_account_state"
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// startLogin sends the browser to /authorize with the account client. The
// state is bound to this browser by a cookie (a callback opened elsewhere
// is refused); reauth=1 asks for a fresh sign-in (prompt=login), which
// replaces the session with one whose auth_time is now.
func (h *Handler) startLogin(w http.ResponseWriter, r *http.Request) {
	state := randomString(32)
	sum := sha256.Sum256([]byte(randomString(32))) // a verifier nobody keeps
	http.SetCookie(w, &http.Cookie{
		Name: h.stateCookieName(), Value: state, Path: "/", MaxAge: 600,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {h.clientID},
		"redirect_uri":          {h.cfg.Issuer + clients.AccountCallbackPath},
		"scope":                 {"openid"},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	if r.URL.Query().Get("reauth") == "1" {
		q.Set("prompt", "login")
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.base+"authorize?"+q.Encode(), http.StatusFound)
}

// signedInCookieName is the cookie that ties the page to the session that
// completed a sign-in to the account client.
func (h *Handler) signedInCookieName() string {
	if h.secure {
		return "__Host-authgraph_account"
	}
	return "authgraph_account"
}

// signedInAD binds the sealed cookie to its purpose.
const signedInAD = "authgraph account sign-in"

// callback ends the sign-in. A browser session alone does not open the
// page: a login that still awaits its second factor has one too (the
// factor's page is bound to it). The page opens for a session only once an
// authorization code was issued to the account client in it, which the
// provider does after deciding the whole login (authn.Finalize: second
// factor, rules, blocked user); the callback checks that code against the
// session and seals the session's id into a cookie the page then requires.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(h.stateCookieName())
	state := r.URL.Query().Get("state")
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		h.message(w, r, http.StatusBadRequest, "Sign-in not completed",
			"This sign-in was not started in this browser, or it took too long.", h.path("/login"), "Sign in")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: h.stateCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	if e := r.URL.Query().Get("error"); e != "" {
		// The description comes from the provider or a rule; shown as text.
		desc := r.URL.Query().Get("error_description")
		if len(desc) > 300 {
			desc = desc[:300]
		}
		if desc == "" {
			desc = "The sign-in did not complete."
		}
		h.message(w, r, http.StatusForbidden, "Sign-in not completed", desc, h.path("/login"), "Try again")
		return
	}
	s, err := h.cfg.Sessions.Current(r.Context(), r)
	if err == nil {
		var issued bool
		issued, err = h.issuedIn(r.Context(), s.ID, r.URL.Query().Get("code"))
		if err == nil && !issued {
			err = sessions.ErrNoSession
		}
	}
	if errors.Is(err, sessions.ErrNoSession) {
		h.message(w, r, http.StatusBadRequest, "Sign-in not completed",
			"This sign-in did not complete in this browser.", h.path("/login"), "Sign in")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: h.signedInCookieName(), Value: base64.RawURLEncoding.EncodeToString(h.cfg.Box.Seal([]byte(s.ID), signedInAD)),
		Path: "/", HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, h.path(""), http.StatusSeeOther)
}

// issuedIn reports whether code is an authorization code the provider
// issued to the account client in session id.
func (h *Handler) issuedIn(ctx context.Context, id pulid.ID, code string) (bool, error) {
	if code == "" || len(code) > 256 {
		return false, nil
	}
	sum := sha256.Sum256([]byte(code))
	return h.cfg.DB.AuthRequest.Query().Where(
		authrequest.CodeHash(hex.EncodeToString(sum[:])), authrequest.ClientID(h.clientID), authrequest.SessionRef(id),
	).Exist(authz.SystemContext(ctx))
}

// session returns the request's session with its user, or sends the
// browser to sign in and returns nil. Only the session a sign-in to the
// account client completed in counts (callback).
func (h *Handler) session(w http.ResponseWriter, r *http.Request) *ent.Session {
	s, err := h.cfg.Sessions.Current(r.Context(), r)
	if err == nil && !h.signedIn(r, s.ID) {
		err = sessions.ErrNoSession
	}
	if errors.Is(err, sessions.ErrNoSession) {
		http.Redirect(w, r, h.path("/login"), http.StatusSeeOther)
		return nil
	}
	if err != nil {
		h.serverError(w, r, err)
		return nil
	}
	return s
}

// signedIn reports whether the request's account cookie names session id.
func (h *Handler) signedIn(r *http.Request, id pulid.ID) bool {
	c, err := r.Cookie(h.signedInCookieName())
	if err != nil || len(c.Value) > 256 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return false
	}
	got, err := h.cfg.Box.Open(raw, signedInAD)
	return err == nil && subtle.ConstantTimeCompare(got, []byte(id)) == 1
}

// recent reports whether s signed in within RecentAuth; otherwise it sends
// the browser to sign in again.
func (h *Handler) recent(w http.ResponseWriter, r *http.Request, s *ent.Session) bool {
	if h.cfg.Now().Sub(s.AuthTime) <= RecentAuth {
		return true
	}
	http.Redirect(w, r, h.path("/login?reauth=1"), http.StatusSeeOther)
	return false
}

// Rendering.

type page struct {
	Title  string
	Assets string
	Error  string
	Rules  []string
	Info   string
	CSRF   string
	Base   string // {base}account
	Wide   bool

	User           *ent.User
	Authenticators []authenticatorRow
	MFA            bool // factors can be listed
	TOTP           bool // an authenticator app can be added
	Recovery       bool // recovery codes can be regenerated
	RecoveryLeft   int
	HasRecovery    bool
	Password       bool   // the session's connection keeps a password here
	WebAuthn       bool   // security keys and passkeys can be added
	Login          string // {base}login (the login pages' assets)
	Sessions       []sessionRow
	RecentUntil    string

	// The TOTP enrollment page.
	Enroll *enrollment
	// The codes page.
	Codes []string
	// The message page.
	Text, Link, LinkText string
}

type authenticatorRow struct {
	ID, Type, Name, Created, LastUsed string
}

type sessionRow struct {
	ID, UserAgent, IP, Created, LastSeen, Connection string
	Current                                          bool
}

type enrollment struct {
	AuthenticatorID string
	Secret          string
	QR              template.URL
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	p.Assets = h.path("/assets/")
	p.Login = h.base + "login"
	p.Base = h.path("")
	p.CSRF = h.csrfToken(w, r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Pages show recovery codes, keys and sessions: never cached.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := h.pages[name].ExecuteTemplate(w, "layout", p); err != nil {
		h.cfg.Logger.Error("account: rendering", "page", name, "err", err)
	}
}

func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, title, text, link, linkText string) {
	h.render(w, r, status, "message", &page{Title: title, Text: text, Link: link, LinkText: linkText})
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.cfg.Logger.Error("account page", "path", r.URL.Path, "err", err)
	h.message(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again later.", h.path(""), "Back to your account")
}

func sys(ctx context.Context) context.Context { return authz.SystemContext(ctx) }
