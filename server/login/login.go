// Package login serves the hosted login pages: server-rendered, usable
// without JavaScript, CSRF-protected, with no external assets and a strict
// Content-Security-Policy.
//
// Routes, relative to the issuer's path (base, e.g. "/" for
// http://127.0.0.1:8080/):
//
//	GET  {base}login?req=ID[&connection=NAME]  login page: SSO session reuse, prompt/max_age, chooser, form
//	POST {base}login?req=ID                    password login (fields username, password, connection, csrf_token)
//	GET  {base}login/signup?req=ID&connection=NAME   signup form
//	POST {base}login/signup                    signup, then logged in and handed back to the provider
//	GET  {base}login/forgot?[req=ID&]connection=NAME forgot-password form
//	POST {base}login/forgot                    sends a reset link (same answer for unknown addresses)
//	GET  {base}login/reset?ticket=T            new-password form (password-change ticket)
//	POST {base}login/reset                     sets the password
//	GET  {base}login/verify?ticket=T           email verification confirmation
//	POST {base}login/verify                    marks the email verified
//	GET  {base}login/mfa?req=ID                second factor: challenge, or TOTP enrollment (mfa.go)
//	POST {base}login/mfa                       verifies a code (fields code or recovery_code), sends an email code, confirms an enrollment
//	GET  {base}login/mfa/enroll?ticket=T       TOTP enrollment through an administrator's ticket
//	POST {base}login/mfa/enroll                confirms it
//	GET  {base}login/assets/login.css          the stylesheet
//	GET  {base}login/assets/webauthn.js        security keys and passkeys in the browser (webauthn.go)
//	POST {base}login/webauthn/options          a WebAuthn ceremony's options (JSON; webauthn.go)
//	POST {base}login/passkey                   sign in with a passkey
//	GET  {base}login/callback?state=S&code=C   return from an upstream OIDC/OAuth2 provider
//	GET  {base}saml/NAME/metadata              SAML SP metadata of connection NAME
//	POST {base}saml/NAME/acs                   SAML assertion consumer service (HTTP-POST)
//
// Mount the handler on "{base}login", "{base}login/" and "{base}saml/".
package login

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authgraph/authgraph/connectors/upstream"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/passkeys"
	"github.com/authgraph/authgraph/server/formcsrf"
	"github.com/authgraph/authgraph/server/loginflow"
	"github.com/authgraph/authgraph/sessions"
	"github.com/authgraph/authgraph/store"
)

// Config wires the pages.
type Config struct {
	// Issuer is the issuer URL; the pages live under its path.
	Issuer   string
	DB       *ent.Client
	Handoff  loginflow.Handoff
	Sessions *sessions.Manager
	Auth     *dbauth.Service
	// Upstream runs logins through LDAP, OIDC and SAML connections; nil
	// offers database connections only.
	Upstream *upstream.Service
	// MFA serves the second-factor pages; nil leaves them answering 400
	// (the provider then never sends a browser there but for acr_values or
	// a rule, which cannot be satisfied).
	MFA *mfa.Service
	// Passkeys offers security keys on the second-factor pages and
	// passkeys on the login page (webauthn.go); nil offers neither.
	Passkeys *passkeys.Service
	Logger   *slog.Logger
	// Now is the clock (tests); time.Now by default.
	Now func() time.Time
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/login.css assets/webauthn.js
var assetFS embed.FS

// Handler serves the login pages.
type Handler struct {
	cfg    Config
	base   string // issuer path ending in "/"
	secure bool   // https issuer
	csrf   *formcsrf.Guard
	pages  map[string]*template.Template
	mux    *http.ServeMux
	css    []byte
	js     []byte
}

// New builds the login handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Handoff == nil || cfg.Sessions == nil || cfg.Auth == nil || cfg.DB == nil {
		return nil, errors.New("login: Config needs DB, Handoff, Sessions and Auth")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("login: issuer %q is not an absolute URL", cfg.Issuer)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, base: u.Path, secure: u.Scheme == "https", pages: map[string]*template.Template{}}
	h.csrf = formcsrf.New("authgraph_csrf", "authgraph-login-csrf", h.secure)
	if !strings.HasSuffix(h.base, "/") {
		h.base += "/"
	}
	for _, page := range []string{"login", "signup", "forgot", "reset", "verify", "message", "mfa", "mfa_enroll", "mfa_recovery"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/rules.html", "templates/"+page+".html")
		if err != nil {
			return nil, err
		}
		h.pages[page] = t
	}
	h.css, err = fs.ReadFile(assetFS, "assets/login.css")
	if err != nil {
		return nil, err
	}
	if h.js, err = fs.ReadFile(assetFS, "assets/webauthn.js"); err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	p := h.base + "login"
	m.HandleFunc("GET "+p, h.loginPage)
	m.HandleFunc("POST "+p, h.loginSubmit)
	m.HandleFunc("GET "+p+"/signup", h.signupPage)
	m.HandleFunc("POST "+p+"/signup", h.signupSubmit)
	m.HandleFunc("GET "+p+"/forgot", h.forgotPage)
	m.HandleFunc("POST "+p+"/forgot", h.forgotSubmit)
	m.HandleFunc("GET "+p+"/reset", h.resetPage)
	m.HandleFunc("POST "+p+"/reset", h.resetSubmit)
	m.HandleFunc("GET "+p+"/verify", h.verifyPage)
	m.HandleFunc("POST "+p+"/verify", h.verifySubmit)
	m.HandleFunc("GET "+p+"/mfa", h.mfaPage)
	m.HandleFunc("POST "+p+"/mfa", h.mfaSubmit)
	m.HandleFunc("GET "+p+"/mfa/enroll", h.mfaEnrollPage)
	m.HandleFunc("POST "+p+"/mfa/enroll", h.mfaEnrollSubmit)
	m.HandleFunc("GET "+p+"/assets/login.css", h.serveCSS)
	h.webauthnRoutes(m, p) // webauthn.go
	// Upstream OIDC/OAuth2 providers return here; SAML IdPs post to the
	// ACS (upstream.go). server/ mounts {base}saml/ on this handler too.
	m.HandleFunc("GET "+p+"/callback", h.upstreamCallback)
	m.HandleFunc("GET "+h.base+"saml/{connection}/metadata", h.samlMetadata)
	m.HandleFunc("POST "+h.base+"saml/{connection}/acs", h.samlACS)
	h.mux = m
	return h, nil
}

// maxForm bounds a form body; maxSAMLForm a POST to a SAML ACS.
const (
	maxForm     = 64 << 10
	maxSAMLForm = 1 << 20
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// No inline script or style, nothing from elsewhere. form-action is left
	// out on purpose: a login POST ends in redirects to the client's
	// redirect_uri, which browsers would check against form-action.
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	// Ticket tokens are in these pages' URLs: never leak them as Referer.
	hd.Set("Referrer-Policy", "no-referrer")
	if r.Method == http.MethodPost {
		limit := int64(maxForm)
		if strings.HasPrefix(r.URL.Path, h.base+"saml/") {
			limit = maxSAMLForm // a SAMLResponse with many attributes
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) serveCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(h.css)
}

// page is what every template sees.
type page struct {
	Title, Client string
	Assets        string
	Error, Code   string
	Rules         []string
	Info          string
	CSRF          string
	ReqID         string
	Action        string
	Form          *formData
	Choices       []choice
	Others        []choice
	PolicyRules   []string
	ForgotURL     string
	SignupURL     string
	LoginURL      string
	MFA           *mfaPage
	// Scripts loads webauthn.js (and allows scripts from 'self' on this
	// page only).
	Scripts bool
	// PasskeyAction is where the login page's passkey sign-in posts,
	// PasskeyOptions its options endpoint.
	PasskeyAction, PasskeyOptions string
}

type formData struct {
	Connection       string
	Username         string
	UsernameLabel    string
	RequiresUsername bool
	Email            string
	Ticket           string
}

type choice struct{ Name, URL string }

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	p.Assets = h.base + "login/assets/"
	if p.CSRF == "" {
		p.CSRF = h.csrfToken(w, r)
	}
	if p.Scripts {
		// webauthn.js, and the JSON options it fetches.
		w.Header().Set("Content-Security-Policy", w.Header().Get("Content-Security-Policy")+"; script-src 'self'; connect-src 'self'")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := h.pages[name].ExecuteTemplate(w, "layout", p); err != nil {
		h.cfg.Logger.Error("rendering login page", "page", name, "err", err)
	}
}

// message renders a page with only a title and a text.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, title, errText, info, loginURL string) {
	h.render(w, r, status, "message", &page{Title: title, Error: errText, Info: info, LoginURL: loginURL})
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if store.IsUnavailable(err) {
		// The database is down or restarting: 503, so that the browser's
		// user and any proxy retry rather than report a fault.
		h.cfg.Logger.Warn("login page: database unavailable", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		h.message(w, r, http.StatusServiceUnavailable, "Something went wrong", "We could not complete this request. Please try again in a moment.", "", "")
		return
	}
	h.cfg.Logger.Error("login page", "path", r.URL.Path, "err", err)
	h.message(w, r, http.StatusInternalServerError, "Something went wrong", "We could not complete this request. Please try again in a moment.", "", "")
}

// path builds {base}login{suffix}?query.
func (h *Handler) path(suffix string, q url.Values) string {
	p := h.base + "login" + suffix
	if enc := q.Encode(); enc != "" {
		p += "?" + enc
	}
	return p
}

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}
