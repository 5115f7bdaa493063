package login_test

// These tests drive the pages over real HTTP with a cookie jar, on a real
// database (SQLite and Postgres) and a real in-process SMTP server. The one
// double is fakeOP, a minimal stand-in for the OpenID Provider's side of
// loginflow.Handoff that decides each login with the real authn.Finalizer
// (every scope granted, no rules) and records Complete and Fail; the
// provider's own tests (server/oidc) drive these pages through /authorize.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authn/loginstore"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mail"
	"github.com/authgraph/authgraph/server/login"
	"github.com/authgraph/authgraph/server/loginflow"
	"github.com/authgraph/authgraph/sessions"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var sys = authz.SystemContext(context.Background())

// fakeOP records the outcome of each login request.
type fakeOP struct {
	mu        sync.Mutex
	reqs      map[string]*loginflow.Request
	completed map[string]loginflow.Login
	failed    map[string]string // id -> "code: description"
	fin       *authn.Finalizer
	sessions  *sessions.Manager
}

// opUsers and opGrants are the finalizer's users (the database's) and
// grants (every scope asked for).
type opUsers struct{ db *ent.Client }

func (u opUsers) User(ctx context.Context, id pulid.ID) (*ent.User, error) {
	user, err := u.db.User.Get(authz.SystemContext(ctx), id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return user, err
}

type opGrants struct{}

func (opGrants) RoleNames(context.Context, *ent.User) ([]string, error) { return nil, nil }
func (opGrants) Scopes(_ context.Context, req *authn.Request, _ *ent.User, _ []string) ([]string, error) {
	return req.Scopes, nil
}

func (f *fakeOP) Request(_ context.Context, id string) (*loginflow.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.reqs[id]
	if !ok {
		return nil, loginflow.ErrUnknownRequest
	}
	cp := *r
	return &cp, nil
}

func (f *fakeOP) Complete(w http.ResponseWriter, r *http.Request, id string, l loginflow.Login) {
	f.mu.Lock()
	lr := f.reqs[id]
	f.mu.Unlock()
	req := &authn.Request{Client: &ent.Application{ClientID: lr.ClientID, Name: lr.ClientName}, Connection: lr.Connection}
	for _, c := range lr.EnabledConnections {
		req.EnabledConnections = append(req.EnabledConnections, c.Name)
	}
	res, err := f.fin.Finalize(r.Context(), req, l)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if res.Session != nil {
		f.sessions.Open(r.Context(), w, r, res.Session)
	}
	l.SessionID = res.SessionID
	if res.Outcome == authn.Denied {
		f.Fail(w, r, id, res.Error, res.Description)
		return
	}
	f.mu.Lock()
	f.completed[id] = l
	delete(f.reqs, id)
	f.mu.Unlock()
	http.Redirect(w, r, "/op/resume?id="+id, http.StatusFound)
}

func (f *fakeOP) Establish(w http.ResponseWriter, r *http.Request, l loginflow.Login) (bool, error) {
	res, err := f.fin.Establish(r.Context(), l)
	if err != nil || res.Session == nil {
		return false, err
	}
	f.sessions.Open(r.Context(), w, r, res.Session)
	return true, nil
}

func (f *fakeOP) Fail(w http.ResponseWriter, r *http.Request, id, code, desc string) {
	f.mu.Lock()
	f.failed[id] = code + ": " + desc
	delete(f.reqs, id)
	f.mu.Unlock()
	http.Redirect(w, r, "https://client.example/cb?error="+url.QueryEscape(code), http.StatusFound)
}

func newFakeOP(t *testing.T, db *ent.Client) *fakeOP {
	f := &fakeOP{reqs: map[string]*loginflow.Request{}, completed: map[string]loginflow.Login{}, failed: map[string]string{},
		sessions: &sessions.Manager{DB: db}}
	var err error
	if f.fin, err = authn.New(authn.Deps{
		Users: opUsers{db: db}, Grants: opGrants{}, Store: loginstore.New(db), Sessions: f.sessions,
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeOP) add(r loginflow.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := r
	f.reqs[r.ID] = &cp
}

func (f *fakeOP) outcome(id string) (loginflow.Login, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.completed[id]
	return l, f.failed[id], ok
}

type env struct {
	t    *testing.T
	db   *ent.Client
	op   *fakeOP
	srv  *httptest.Server
	auth *dbauth.Service
	smtp *testenv.SMTPServer
	n    int
}

var backends = []struct {
	name string
	dsn  func(testing.TB) string
}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}}

func forEach(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, newEnv(t, b.dsn(t))) })
	}
}

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	smtp := testenv.StartSMTP(t)
	sender, err := mail.NewSMTP(smtp.URL)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db.Ent, smtp: smtp, op: newFakeOP(t, db.Ent)}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	issuer := e.srv.URL + "/"
	e.auth = &dbauth.Service{DB: db.Ent, Mail: sender, Issuer: issuer, Logger: slog.New(slog.DiscardHandler), ResetFloor: 20 * time.Millisecond}
	h, err := login.New(login.Config{
		Issuer: issuer, DB: db.Ent, Handoff: e.op, Sessions: e.op.sessions, Auth: e.auth,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	// What server/ does: record the client IP for the log and brute force.
	withIP := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		h.ServeHTTP(w, r.WithContext(logs.WithRequest(r.Context(), logs.Request{IP: host, UserAgent: r.UserAgent()})))
	})
	mux.Handle("/login", withIP)
	mux.Handle("/login/", withIP)
	t.Cleanup(func() { e.srv.Close(); e.auth.Wait(); db.Close() })
	return e
}

func (e *env) conn(name, strategy string, opts map[string]any) {
	e.t.Helper()
	e.db.Connection.Create().SetName(name).SetStrategy(connection.Strategy(strategy)).SetOptions(opts).ExecX(sys)
}

func (e *env) user(conn, email, pw string) *ent.User {
	e.t.Helper()
	u, err := identity.Create(sys, e.db, nil, identity.CreateInput{Connection: conn, Email: &email, Password: &pw})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// request registers a pending /authorize with the database connection "db"
// enabled, changed by mod.
func (e *env) request(mod func(*loginflow.Request)) string {
	e.n++
	r := loginflow.Request{ID: fmt.Sprintf("ar_%d", e.n), ClientID: "cli_app", ClientName: "Demo App",
		EnabledConnections: []loginflow.Connection{{Name: "db", Strategy: "database"}}}
	if mod != nil {
		mod(&r)
	}
	e.op.add(r)
	return r.ID
}

// browser is an HTTP client with its own cookie jar that does not follow
// redirects.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type resp struct {
	status int
	body   string
	header http.Header
}

func (e *env) get(c *http.Client, path string) resp {
	e.t.Helper()
	r, err := c.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, string(b), r.Header}
}

func (e *env) post(c *http.Client, path string, form url.Values) resp {
	e.t.Helper()
	r, err := c.PostForm(e.srv.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, string(b), r.Header}
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// submit fills the page's first form with fields and posts it.
func (e *env) submit(c *http.Client, page resp, fields url.Values) resp {
	e.t.Helper()
	m, a := csrfRE.FindStringSubmatch(page.body), actionRE.FindStringSubmatch(page.body)
	if m == nil || a == nil {
		e.t.Fatalf("no form on the page:\n%s", page.body)
	}
	form := url.Values{"csrf_token": {m[1]}}
	for _, hidden := range regexp.MustCompile(`<input type="hidden" name="(req|connection|ticket)" value="([^"]*)"`).FindAllStringSubmatch(page.body, -1) {
		form.Set(hidden[1], unescape(hidden[2]))
	}
	for k, v := range fields {
		form[k] = v
	}
	return e.post(c, unescape(a[1]), form)
}

func unescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#39;", "'", "&quot;", `"`, "&lt;", "<", "&gt;", ">").Replace(s)
}

// normalize drops the parts of a page that differ per request.
func normalize(body string) string {
	return csrfRE.ReplaceAllString(body, `name="csrf_token" value="X"`)
}

func TestLoginPageEndToEnd(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", "database", map[string]any{"passwordPolicy": "good"})
		u := e.user("db", "alice@example.com", "Alice-pass-1")
		b := browser()

		id := e.request(func(r *loginflow.Request) { r.LoginHint = "alice@example.com" })
		page := e.get(b, "/login?req="+id)
		if page.status != 200 {
			t.Fatalf("GET /login: %d\n%s", page.status, page.body)
		}
		for _, want := range []string{`<form method="post"`, `name="username"`, `name="password"`, `<label for="username">Email</label>`,
			`<label for="password">Password</label>`, `value="alice@example.com"`, `autocomplete="current-password"`, `Demo App`,
			`Forgot your password?`, `Sign up`, `lang="en"`} {
			if !strings.Contains(page.body, want) {
				t.Errorf("login page lacks %s", want)
			}
		}
		csp := page.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(page.body, "<script") {
			t.Errorf("CSP %q", csp)
		}
		css := e.get(b, "/login/assets/login.css")
		if css.status != 200 || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
			t.Fatalf("stylesheet: %d", css.status)
		}

		// Wrong password and unknown user: the same page, the same status.
		wrong := e.submit(b, page, url.Values{"username": {"alice@example.com"}, "password": {"nope"}})
		unknown := e.submit(b, page, url.Values{"username": {"zed@example.com"}, "password": {"nope"}})
		if wrong.status != 401 || unknown.status != 401 || !strings.Contains(wrong.body, "Wrong email or password.") {
			t.Fatalf("wrong %d, unknown %d\n%s", wrong.status, unknown.status, wrong.body)
		}
		if strings.Replace(normalize(wrong.body), "alice@example.com", "U", -1) != strings.Replace(normalize(unknown.body), "zed@example.com", "U", -1) {
			t.Fatalf("wrong-password and unknown-user pages differ:\n%s\n----\n%s", wrong.body, unknown.body)
		}

		ok := e.submit(b, page, url.Values{"username": {"alice@example.com"}, "password": {"Alice-pass-1"}})
		if ok.status != http.StatusFound || ok.header.Get("Location") != "/op/resume?id="+id {
			t.Fatalf("login: %d %s\n%s", ok.status, ok.header.Get("Location"), ok.body)
		}
		l, _, done := e.op.outcome(id)
		if !done || l.UserID != u.ID || len(l.AMR) != 1 || l.AMR[0] != "pwd" || l.Connection != "db" || l.SessionID == "" || time.Since(l.AuthTime) > time.Minute {
			t.Fatalf("Complete: %+v", l)
		}
		if got := e.db.User.GetX(sys, u.ID); got.LoginsCount != 1 || got.LastIP == nil || *got.LastIP != "127.0.0.1" {
			t.Fatalf("bookkeeping: %+v", got)
		}

		// SSO: the next request completes without a form.
		id2 := e.request(nil)
		if r := e.get(b, "/login?req="+id2); r.status != http.StatusFound {
			t.Fatalf("SSO: %d\n%s", r.status, r.body)
		}
		if l2, _, ok := e.op.outcome(id2); !ok || l2.SessionID != l.SessionID || !l2.AuthTime.Equal(l.AuthTime) {
			t.Fatalf("SSO Complete: %+v", l2)
		}
		// prompt=none with the session: completes too.
		id3 := e.request(func(r *loginflow.Request) { r.Prompt = []string{"none"} })
		if r := e.get(b, "/login?req="+id3); r.status != http.StatusFound {
			t.Fatalf("prompt=none with session: %d", r.status)
		}
		if _, _, ok := e.op.outcome(id3); !ok {
			t.Fatal("prompt=none with a session did not complete")
		}
		// prompt=login and max_age=0 show the form again.
		for _, mod := range []func(*loginflow.Request){
			func(r *loginflow.Request) { r.Prompt = []string{"login"} },
			func(r *loginflow.Request) { zero := 0; r.MaxAge = &zero },
		} {
			idn := e.request(mod)
			if r := e.get(b, "/login?req="+idn); r.status != 200 || !strings.Contains(r.body, `name="password"`) {
				t.Fatalf("re-authentication: %d", r.status)
			}
		}
		// max_age large enough: SSO.
		idm := e.request(func(r *loginflow.Request) { big := 3600; r.MaxAge = &big })
		if r := e.get(b, "/login?req="+idm); r.status != http.StatusFound {
			t.Fatalf("max_age=3600: %d", r.status)
		}
		// prompt=none in a browser without a session: login_required.
		id4 := e.request(func(r *loginflow.Request) { r.Prompt = []string{"none"} })
		if r := e.get(browser(), "/login?req="+id4); r.status != http.StatusFound {
			t.Fatalf("prompt=none without session: %d", r.status)
		}
		if _, failed, _ := e.op.outcome(id4); !strings.HasPrefix(failed, "login_required") {
			t.Fatalf("prompt=none without session: %q", failed)
		}
		// Unknown request.
		if r := e.get(b, "/login?req=ar_missing"); r.status != 400 || !strings.Contains(r.body, "invalid or has expired") {
			t.Fatalf("unknown request: %d", r.status)
		}
	})
}

func TestCSRFIsRequired(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	e.conn("db", "database", nil)
	e.user("db", "csrf@example.com", "Csrf-pass-1")
	id := e.request(nil)
	victim, attacker := browser(), browser()
	e.get(victim, "/login?req="+id) // the victim has a CSRF cookie
	attackerPage := e.get(attacker, "/login?req="+id)
	creds := url.Values{"req": {id}, "connection": {"db"}, "username": {"csrf@example.com"}, "password": {"Csrf-pass-1"}}

	if r := e.post(victim, "/login?req="+id, creds); r.status != http.StatusForbidden {
		t.Fatalf("no token: %d", r.status)
	}
	// The attacker's own valid token does not work with the victim's cookie.
	stolen := url.Values{}
	for k, v := range creds {
		stolen[k] = v
	}
	stolen.Set("csrf_token", csrfRE.FindStringSubmatch(attackerPage.body)[1])
	if r := e.post(victim, "/login?req="+id, stolen); r.status != http.StatusForbidden {
		t.Fatalf("foreign token: %d", r.status)
	}
	stolen.Set("csrf_token", "AAAA")
	if r := e.post(victim, "/login?req="+id, stolen); r.status != http.StatusForbidden {
		t.Fatalf("garbage token: %d", r.status)
	}
	if _, _, done := e.op.outcome(id); done {
		t.Fatal("a forged POST logged in")
	}
	for _, c := range victim.Jar.Cookies(mustURL(e.srv.URL)) {
		if c.Name == "authgraph_csrf" {
			return
		}
	}
	t.Fatal("no CSRF cookie")
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestCSRFCookieAttributes(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	e.conn("db", "database", nil)
	r, err := http.Get(e.srv.URL + "/login?req=" + e.request(nil))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	sc := r.Header.Get("Set-Cookie")
	if !strings.Contains(sc, "authgraph_csrf=") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") {
		t.Fatalf("Set-Cookie %q", sc)
	}
}

func TestBlockedUserAndTooManyAttempts(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	e.conn("db", "database", nil)
	u := e.user("db", "blocked@example.com", "Blocked-pass-1")
	e.db.User.UpdateOne(u).SetBlocked(true).ExecX(sys)
	b := browser()
	id := e.request(nil)
	page := e.get(b, "/login?req="+id)
	if r := e.submit(b, page, url.Values{"username": {"blocked@example.com"}, "password": {"wrong"}}); r.status != 401 || strings.Contains(r.body, "is blocked") {
		t.Fatalf("wrong password of a blocked user: %d\n%s", r.status, r.body)
	}
	if r := e.submit(b, page, url.Values{"username": {"blocked@example.com"}, "password": {"Blocked-pass-1"}}); r.status != http.StatusFound {
		t.Fatalf("blocked: %d", r.status)
	}
	if _, failed, _ := e.op.outcome(id); failed != "unauthorized: user is blocked" {
		t.Fatalf("blocked outcome %q", failed)
	}

	id2 := e.request(nil)
	page = e.get(b, "/login?req="+id2)
	for i := 0; i < 10; i++ {
		if r := e.submit(b, page, url.Values{"username": {"nobody@example.com"}, "password": {"x"}}); r.status != 401 {
			t.Fatalf("attempt %d: %d", i+1, r.status)
		}
	}
	r := e.submit(b, page, url.Values{"username": {"nobody@example.com"}, "password": {"x"}})
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "too_many_attempts") {
		t.Fatalf("11th attempt: %d\n%s", r.status, r.body)
	}
}

func TestConnectionChooser(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	e.conn("db", "database", nil)
	e.conn("staff", "database", map[string]any{"disable_signup": true, "requires_username": true})
	e.conn("google", "oidc", nil)
	all := func(r *loginflow.Request) {
		r.EnabledConnections = []loginflow.Connection{{Name: "db", Strategy: "database"}, {Name: "staff", Strategy: "database"}, {Name: "google", Strategy: "oidc"}}
	}
	b := browser()
	id := e.request(all)
	page := e.get(b, "/login?req="+id)
	if page.status != 200 || strings.Contains(page.body, `name="password"`) ||
		!strings.Contains(page.body, `href="/login?connection=staff&amp;req=`+id+`"`) || !strings.Contains(page.body, `name="federated" value="google"`) {
		t.Fatalf("chooser:\n%s", page.body)
	}
	staff := e.get(b, "/login?connection=staff&req="+id)
	if !strings.Contains(staff.body, `name="connection" value="staff"`) || !strings.Contains(staff.body, "Email or username") ||
		strings.Contains(staff.body, "Sign up") || !strings.Contains(staff.body, "Forgot your password?") {
		t.Fatalf("staff form:\n%s", staff.body)
	}
	// connection=NAME on /authorize skips the chooser.
	id2 := e.request(func(r *loginflow.Request) { all(r); r.Connection = "db" })
	if p := e.get(b, "/login?req="+id2); !strings.Contains(p.body, `name="connection" value="db"`) || !strings.Contains(p.body, "Sign up") {
		t.Fatalf("connection hint:\n%s", p.body)
	}
	if p := e.get(b, "/login?connection=other&req="+id); p.status != 400 {
		t.Fatalf("not enabled connection: %d", p.status)
	}
	if r := e.submit(b, page, url.Values{"federated": {"google"}}); r.status != http.StatusNotImplemented || !strings.Contains(r.body, "not available yet") {
		t.Fatalf("federated: %d", r.status)
	}
	// A POST naming a connection that is not enabled for the client.
	r := e.submit(b, staff, url.Values{"connection": {"elsewhere"}, "username": {"a"}, "password": {"b"}})
	if r.status != 400 {
		t.Fatalf("foreign connection: %d", r.status)
	}
}

func TestSignupPage(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", "database", map[string]any{"passwordPolicy": "excellent"})
		b := browser()
		id := e.request(nil)
		page := e.get(b, "/login/signup?connection=db&req="+id)
		if page.status != 200 || !strings.Contains(page.body, `autocomplete="new-password"`) || !strings.Contains(page.body, "At least 10 characters in length") {
			t.Fatalf("signup page %d:\n%s", page.status, page.body)
		}
		weak := e.submit(b, page, url.Values{"email": {"sam@example.com"}, "password": {"Sammmmy12"}})
		if weak.status != 400 || !strings.Contains(weak.body, "Password is too weak.") || !strings.Contains(weak.body, "identical characters") {
			t.Fatalf("weak: %d\n%s", weak.status, weak.body)
		}
		ok := e.submit(b, page, url.Values{"email": {"Sam@Example.com"}, "password": {"Sam-is-great-9"}})
		if ok.status != http.StatusFound {
			t.Fatalf("signup: %d\n%s", ok.status, ok.body)
		}
		l, _, done := e.op.outcome(id)
		if !done || l.AMR[0] != "pwd" {
			t.Fatalf("signup outcome %+v", l)
		}
		if u := e.db.User.GetX(sys, l.UserID); *u.Email != "sam@example.com" || u.LoginsCount != 1 {
			t.Fatalf("user %+v", u)
		}
		msgs := e.smtp.WaitForMessages(t, 1, 10*time.Second)
		if msgs[0].To[0] != "sam@example.com" {
			t.Fatalf("verification mail to %v", msgs[0].To)
		}
		// Signing up again with the address: a generic refusal, as Auth0's
		// invalid_signup, that says nothing about an existing account; the
		// owner gets a notice instead (no ticket, a forgot-password link).
		id2 := e.request(nil)
		b2 := browser()
		again := e.submit(b2, e.get(b2, "/login/signup?req="+id2), url.Values{"email": {"SAM@example.com"}, "password": {"Other-pass-word-7"}})
		box := regexp.MustCompile(`(?s)id="form-error".*?</div>`).FindString(again.body)
		text := strings.ToLower(box)
		if again.status != 400 || !strings.Contains(again.body, "Something went wrong, please try again later.") ||
			!strings.Contains(again.body, "invalid_signup") || strings.Contains(text, "already") || strings.Contains(text, "exist") {
			t.Fatalf("duplicate signup: %d\n%s", again.status, again.body)
		}
		msgs = e.smtp.WaitForMessages(t, 2, 10*time.Second)
		notice := string(msgs[1].Data)
		if msgs[1].To[0] != "sam@example.com" || !strings.Contains(notice, "Someone tried to sign up with your email address") ||
			!strings.Contains(notice, "/login/forgot?connection=3Ddb") || strings.Contains(notice, "ticket=") {
			t.Fatalf("notice to the owner: %v\n%s", msgs[1].To, notice)
		}
		if n := e.db.Ticket.Query().CountX(sys); n != 1 {
			t.Fatalf("tickets after the duplicate signup: %d, want the first signup's only", n)
		}
	})
}

func TestSignupDisabled(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	e.conn("db", "database", map[string]any{"disable_signup": true})
	b := browser()
	id := e.request(nil)
	if p := e.get(b, "/login?req="+id); strings.Contains(p.body, "Sign up") {
		t.Fatal("signup link shown with disable_signup")
	}
	if p := e.get(b, "/login/signup?req="+id); p.status != http.StatusForbidden {
		t.Fatalf("signup page with disable_signup: %d", p.status)
	}
}

func TestForgotResetAndVerifyPages(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", "database", map[string]any{"passwordPolicy": "fair"})
		u := e.user("db", "rita@example.com", "Rita-pass-1")
		b := browser()
		id := e.request(nil)
		// Log in first, so there is a session for the reset to end.
		if r := e.submit(b, e.get(b, "/login?req="+id), url.Values{"username": {"rita@example.com"}, "password": {"Rita-pass-1"}}); r.status != http.StatusFound {
			t.Fatalf("login %d", r.status)
		}
		forgot := e.get(b, "/login/forgot?connection=db&req="+e.request(nil))
		if forgot.status != 200 || !strings.Contains(forgot.body, `<label for="email">Email</label>`) {
			t.Fatalf("forgot page %d", forgot.status)
		}
		known := e.submit(b, forgot, url.Values{"email": {"rita@example.com"}})
		unknown := e.submit(b, forgot, url.Values{"email": {"rita@example.com.invalid"}})
		if known.status != 200 || unknown.status != 200 ||
			strings.Replace(normalize(known.body), "rita@example.com", "E", -1) != strings.Replace(normalize(unknown.body), "rita@example.com.invalid", "E", -1) {
			t.Fatalf("forgot answers differ: %d %d\n%s\n---\n%s", known.status, unknown.status, known.body, unknown.body)
		}
		// Without a login request too.
		if p := e.get(browser(), "/login/forgot"); p.status != 200 {
			t.Fatalf("forgot without req: %d", p.status)
		}
		msgs := e.smtp.WaitForMessages(t, 1, 10*time.Second)
		e.auth.Wait()
		if len(e.smtp.Messages()) != 1 {
			t.Fatalf("%d messages, want 1 (unknown address gets none)", len(e.smtp.Messages()))
		}
		link := regexp.MustCompile(`http://127\.0\.0\.1:\d+/login/reset\?ticket=[A-Za-z0-9_=-]+`).FindString(strings.ReplaceAll(string(msgs[0].Data), "=\r\n", ""))
		if link == "" {
			t.Fatalf("no link:\n%s", msgs[0].Data)
		}
		path := strings.TrimPrefix(strings.ReplaceAll(link, "=3D", "="), e.srv.URL)

		other := browser()
		reset := e.get(other, path)
		if reset.status != 200 || !strings.Contains(reset.body, `name="password_confirm"`) || reset.header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("reset page %d:\n%s", reset.status, reset.body)
		}
		if r := e.submit(other, reset, url.Values{"password": {"Rita-new-pass-2"}, "password_confirm": {"Rita-new-pass-3"}}); r.status != 400 || !strings.Contains(r.body, "do not match") {
			t.Fatalf("mismatch: %d", r.status)
		}
		if r := e.submit(other, reset, url.Values{"password": {"ritanew"}, "password_confirm": {"ritanew"}}); r.status != 400 || !strings.Contains(r.body, "At least 8 characters in length") {
			t.Fatalf("weak: %d\n%s", r.status, r.body)
		}
		if r := e.submit(other, reset, url.Values{"password": {"Rita-new-pass-2"}, "password_confirm": {"Rita-new-pass-2"}}); r.status != 200 || !strings.Contains(r.body, "Your password has been changed") {
			t.Fatalf("reset: %d\n%s", r.status, r.body)
		}
		if r := e.get(other, path); r.status != 400 {
			t.Fatalf("used link: %d", r.status)
		}
		// The reset ended the session of the first browser: no more SSO.
		idp := e.request(nil)
		if r := e.get(b, "/login?req="+idp); r.status != 200 {
			t.Fatalf("SSO after reset: %d", r.status)
		}

		// Email verification page: GET shows a button, POST verifies.
		vlink, _, err := e.auth.CreateEmailVerificationTicket(sys, u.UserID, dbauth.TicketOptions{})
		if err != nil {
			t.Fatal(err)
		}
		vpage := e.get(other, strings.TrimPrefix(vlink, e.srv.URL))
		if vpage.status != 200 || e.db.User.GetX(sys, u.ID).EmailVerified {
			t.Fatalf("verify page %d (or GET verified already)", vpage.status)
		}
		if r := e.submit(other, vpage, nil); r.status != 200 || !strings.Contains(r.body, "has been verified") {
			t.Fatalf("verify: %d", r.status)
		}
		if !e.db.User.GetX(sys, u.ID).EmailVerified {
			t.Fatal("not verified")
		}
		if r := e.get(other, "/login/verify?ticket=bogus"); r.status != 400 {
			t.Fatalf("bogus ticket: %d", r.status)
		}
	})
}

func TestNewValidatesConfig(t *testing.T) {
	if _, err := login.New(login.Config{Issuer: "http://x/"}); err == nil {
		t.Fatal("missing dependencies accepted")
	}
	if _, err := login.New(login.Config{}); !errors.Is(err, err) || err == nil {
		t.Fatal("empty config accepted")
	}
}

// TestSSOSessionAnswersOnlyItsConnection: a session from connection "db"
// does not answer a request that names another enabled connection with
// connection=, nor one for a client not enabled for "db".
func TestSSOSessionAnswersOnlyItsConnection(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", "database", nil)
		e.conn("staff", "database", nil)
		e.user("db", "alice@example.com", "Alice-pass-1")
		both := func(r *loginflow.Request) {
			r.EnabledConnections = []loginflow.Connection{{Name: "db", Strategy: "database"}, {Name: "staff", Strategy: "database"}}
		}
		b := browser()
		id := e.request(both)
		if ok := e.submit(b, e.get(b, "/login?connection=db&req="+id), url.Values{"username": {"alice@example.com"}, "password": {"Alice-pass-1"}}); ok.status != http.StatusFound {
			t.Fatalf("login: %d\n%s", ok.status, ok.body)
		}
		id2 := e.request(func(r *loginflow.Request) { both(r); r.Connection = "staff" })
		if p := e.get(b, "/login?req="+id2); p.status != http.StatusOK || !strings.Contains(p.body, `name="connection" value="staff"`) {
			t.Fatalf("connection=staff answered by the db session: %d\n%s", p.status, p.body)
		}
		if _, _, done := e.op.outcome(id2); done {
			t.Fatal("completed")
		}
		id3 := e.request(func(r *loginflow.Request) {
			r.EnabledConnections = []loginflow.Connection{{Name: "staff", Strategy: "database"}}
		})
		if p := e.get(b, "/login?req="+id3); p.status != http.StatusOK {
			t.Fatalf("client without db answered by the db session: %d", p.status)
		}
		id4 := e.request(func(r *loginflow.Request) { both(r); r.Connection = "db" })
		if p := e.get(b, "/login?req="+id4); p.status != http.StatusFound {
			t.Fatalf("connection=db with a db session: %d", p.status)
		}
	})
}

// TestForgotPasswordThrottleAndLifetime: a forgot-password link lives one
// hour (management tickets keep five days); past 5 requests for one
// address, or 20 from one IP, within the hour nothing more is sent, with
// the very same answer (whether the address exists or not), and an fcpr
// event says why.
func TestForgotPasswordThrottleAndLifetime(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", "database", nil)
		e.user("db", "tom@example.com", "Tom-pass-12")
		b := browser()
		forgot := e.get(b, "/login/forgot?connection=db")
		var first string
		ask := func(email string) {
			t.Helper()
			r := e.submit(b, forgot, url.Values{"email": {email}})
			body := strings.ReplaceAll(normalize(r.body), email, "E")
			if first == "" {
				first = body
			}
			if r.status != 200 || body != first {
				t.Fatalf("forgot for %s: %d, answer differs:\n%s\n---\n%s", email, r.status, body, first)
			}
		}
		start := time.Now()
		for range 7 {
			ask("tom@example.com")
		}
		e.auth.Wait()
		if n := len(e.smtp.WaitForMessages(t, dbauth.DefaultResetPerAddress, 10*time.Second)); n != dbauth.DefaultResetPerAddress {
			t.Fatalf("%d reset emails to one address, want %d", n, dbauth.DefaultResetPerAddress)
		}
		tk := e.db.Ticket.Query().OnlyX(sys)
		if life := tk.ExpiresAt.Sub(start); life < 59*time.Minute || life > 61*time.Minute {
			t.Fatalf("forgot-password link lives %s, want 1h", life)
		}
		// Other addresses from the same IP: 20 requests in all per hour.
		for i := range 15 {
			ask(fmt.Sprintf("someone%d@example.com", i))
		}
		e.auth.Wait()
		throttled := e.db.LogEvent.Query().Where(logevent.Type("fcpr"), logevent.DescriptionContains("Too many")).CountX(sys)
		if throttled != 2+2 { // tom's 6th and 7th, then the 21st and 22nd requests from the IP
			t.Fatalf("throttled fcpr events: %d, want 4", throttled)
		}
		if n := len(e.smtp.Messages()); n != dbauth.DefaultResetPerAddress {
			t.Fatalf("%d emails, want %d (unknown addresses get none)", n, dbauth.DefaultResetPerAddress)
		}
	})
}
