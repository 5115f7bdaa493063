package chaos

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/lib/pq"
)

const (
	redirectURI = "http://127.0.0.1:9/callback" // never contacted: the browser stops there
	password    = "Chaos-Passw0rd-2026"
)

func openDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	return db
}

// request is one HTTP exchange of an operation, as the client saw it.
type request struct {
	method, path string
	node         string // from the proxy's header; "" if none came back
	start, end   time.Time
	status       int // 0: no response
	err          string
	// appErr is an error the answer carried inside a non-error status:
	// the OAuth error of a redirect to the client (error=…, as the
	// authorization endpoint reports failures), or a GraphQL error code.
	appErr string
}

// op is one operation of the load: a login (several requests), a refresh,
// a user creation or update.
type op struct {
	id         int64
	worker     int
	kind       string
	start, end time.Time
	reqs       []request
	err        string // "" when it succeeded
	// Set by successful logins: whose token it is and its session.
	sub, sid string
}

func (o *op) failed() bool { return o.err != "" }

// last is the request that decided the op's outcome.
func (o *op) last() request {
	if len(o.reqs) == 0 {
		return request{}
	}
	return o.reqs[len(o.reqs)-1]
}

// write is a management write the API acknowledged, or one it did not
// (acked false: it may or may not have happened).
type write struct {
	user  string // user_id
	email string
	v     int // user_metadata.v written
	acked bool
	at    time.Time
}

// recorder collects ops and writes from every worker.
type recorder struct {
	mu     sync.Mutex
	ops    []*op
	writes []write
	nextID atomic.Int64
}

func (r *recorder) add(o *op) {
	r.mu.Lock()
	r.ops = append(r.ops, o)
	r.mu.Unlock()
}

func (r *recorder) addWrite(w write) {
	r.mu.Lock()
	r.writes = append(r.writes, w)
	r.mu.Unlock()
}

// tracingTransport records each request of the op in the request's
// context into that op.
type tracingTransport struct {
	base http.RoundTripper
	op   *op // the op in progress on this client (one per worker)
}

func (tt *tracingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rq := request{method: req.Method, path: req.URL.Path, start: time.Now()}
	resp, err := tt.base.RoundTrip(req)
	rq.end = time.Now()
	if err != nil {
		rq.err = err.Error()
	} else {
		rq.status, rq.node = resp.StatusCode, resp.Header.Get(nodeHeader)
		if e := resp.Header.Get("X-Chaos-Proxy-Error"); e != "" {
			rq.err = "proxy: " + e
		}
		if loc, err := url.Parse(resp.Header.Get("Location")); err == nil {
			rq.appErr = loc.Query().Get("error")
		}
	}
	tt.op.reqs = append(tt.op.reqs, rq)
	return resp, err
}

// worker runs operations in a loop, one at a time, each through the proxy.
type worker struct {
	id       int
	base     string // the issuer
	clientID string
	secret   string
	users    []seedUser
	rec      *recorder
	tr       *tracingTransport
	http     *http.Client

	adminToken string
	refresh    string // the refresh token of the worker's last login
	mine       []write
	n          int
}

type seedUser struct{ id, email string }

func newWorker(id int, base, clientID, secret string, users []seedUser, rec *recorder, shared http.RoundTripper) *worker {
	w := &worker{id: id, base: base, clientID: clientID, secret: secret, users: users, rec: rec}
	w.tr = &tracingTransport{base: shared}
	w.http = w.client(nil)
	return w
}

// client returns an HTTP client on the worker's tracing transport; with a
// jar it is a browser that stops at the redirect URI.
func (w *worker) client(jar http.CookieJar) *http.Client {
	return &http.Client{Transport: w.tr, Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirectURI) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
}

// run performs operations until stop is closed.
func (w *worker) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		kinds := []string{"login", "refresh", "create", "update", "graphql"}
		kind := kinds[w.n%len(kinds)]
		w.n++
		if kind == "refresh" && w.refresh == "" {
			kind = "login"
		}
		if (kind == "create" || kind == "update" || kind == "graphql") && w.adminToken == "" {
			kind = "admin_token"
		}
		if kind == "update" && len(w.mine) == 0 {
			kind = "create"
		}
		o := &op{id: w.rec.nextID.Add(1), worker: w.id, kind: kind, start: time.Now()}
		w.tr.op = o
		var err error
		switch kind {
		case "login":
			err = w.login(o)
		case "refresh":
			err = w.doRefresh()
		case "admin_token":
			err = w.getAdminToken()
		case "create":
			err = w.createUser()
		case "update":
			err = w.updateUser()
		case "graphql":
			err = w.graphQLRead(o)
		}
		o.end = time.Now()
		if err != nil {
			o.err = err.Error()
		}
		w.rec.add(o)
		time.Sleep(10 * time.Millisecond) // leave the busy machine some air
	}
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	reqRE    = regexp.MustCompile(`name="req" value="([^"]*)"`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

// randString returns 43 random URL-safe characters: a valid PKCE verifier.
func randString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// login is an interactive login: /authorize, the hosted login form, the
// code at the redirect URI, its exchange with PKCE.
func (w *worker) login(o *op) error {
	jar, _ := cookiejar.New(nil)
	b := w.client(jar)
	u := w.users[(w.id+w.n)%len(w.users)]
	verifier := randString()
	sum := sha256.Sum256([]byte(verifier))
	state := randString()
	q := url.Values{"response_type": {"code"}, "client_id": {w.clientID}, "redirect_uri": {redirectURI},
		"scope": {"openid offline_access"}, "state": {state}, "nonce": {randString()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	resp, err := b.Get(w.base + "authorize?" + q.Encode())
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf, act, req := csrfRE.FindSubmatch(page), actionRE.FindSubmatch(page), reqRE.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || csrf == nil || act == nil || req == nil {
		return fmt.Errorf("authorize: not the login form: %d %.200s", resp.StatusCode, page)
	}
	action, _ := resp.Request.URL.Parse(html.UnescapeString(string(act[1])))
	form := url.Values{"csrf_token": {html.UnescapeString(string(csrf[1]))}, "req": {html.UnescapeString(string(req[1]))},
		"username": {u.email}, "password": {password}}
	resp, err = b.PostForm(action.String(), form)
	if err != nil {
		return err
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), redirectURI) ||
		loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		return fmt.Errorf("login form: no code: %d %s %.200s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if err := w.token(url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}, &tok); err != nil {
		return fmt.Errorf("code exchange: %w", err)
	}
	var claims struct{ Sub, Sid string }
	if parts := strings.Split(tok.IDToken, "."); len(parts) == 3 {
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		json.Unmarshal(raw, &claims)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || claims.Sub != u.id || claims.Sid == "" {
		return fmt.Errorf("code exchange: incomplete tokens (sub %q, sid %q)", claims.Sub, claims.Sid)
	}
	o.sub, o.sid = claims.Sub, claims.Sid
	w.refresh = tok.RefreshToken
	return nil
}

// token posts form to /oauth/token as the worker's client.
func (w *worker) token(form url.Values, v any) error {
	req, _ := http.NewRequest(http.MethodPost, w.base+"oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(w.clientID), url.QueryEscape(w.secret))
	return w.do(req, http.StatusOK, v)
}

func (w *worker) doRefresh() error {
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	rt := w.refresh
	// A failed refresh may have rotated the token on the server: the next
	// refresh starts from a new login rather than look like a replay.
	w.refresh = ""
	if err := w.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &tok); err != nil {
		return err
	}
	if tok.AccessToken == "" {
		return errors.New("refresh: no access token")
	}
	w.refresh = tok.RefreshToken
	if w.refresh == "" {
		w.refresh = rt
	}
	return nil
}

func (w *worker) getAdminToken() error {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, w.base+"oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(adminID, adminSecret)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := w.do(req, http.StatusOK, &tok); err != nil {
		return err
	}
	w.adminToken = tok.AccessToken
	return nil
}

func (w *worker) createUser() error {
	email := fmt.Sprintf("w%d-%d-%s@example.com", w.id, w.n, strings.ToLower(randString()[:6]))
	var out struct {
		UserID string `json:"user_id"`
	}
	err := w.api(http.MethodPost, "users", map[string]any{"connection": "Username-Password-Authentication",
		"email": email, "password": password, "user_metadata": map[string]any{"v": 0}}, http.StatusCreated, &out)
	if err != nil {
		// Not acknowledged: it may exist or not; nothing to check.
		return err
	}
	wr := write{user: out.UserID, email: email, v: 0, acked: true, at: time.Now()}
	w.mine = append(w.mine, wr)
	w.rec.addWrite(wr)
	return nil
}

func (w *worker) updateUser() error {
	target := w.mine[w.n%len(w.mine)]
	v := w.n
	err := w.api(http.MethodPatch, "users/"+url.PathEscape(target.user), map[string]any{
		"user_metadata": map[string]any{"v": v}}, http.StatusOK, nil)
	w.rec.addWrite(write{user: target.user, email: target.email, v: v, acked: err == nil, at: time.Now()})
	return err
}

// graphQLRead reads a user through GraphQL. Its errors come back with
// status 200; the deciding request records the first one's code.
func (w *worker) graphQLRead(o *op) error {
	raw, _ := json.Marshal(map[string]any{"query": `query($q: String!) { users(first: 1, query: $q) { totalCount } }`,
		"variables": map[string]any{"q": "email:" + w.users[w.n%len(w.users)].email}})
	req, _ := http.NewRequest(http.MethodPost, w.base+"graphql", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+w.adminToken)
	var out struct {
		Data *struct {
			Users struct{ TotalCount int }
		}
		Errors []struct {
			Message    string
			Extensions struct{ Code string }
		}
	}
	err := w.do(req, http.StatusOK, &out)
	if err != nil {
		return err
	}
	if len(out.Errors) > 0 {
		o.reqs[len(o.reqs)-1].appErr = out.Errors[0].Extensions.Code
		return fmt.Errorf("graphql: %s (%s)", out.Errors[0].Message, out.Errors[0].Extensions.Code)
	}
	if out.Data == nil || out.Data.Users.TotalCount != 1 {
		return fmt.Errorf("graphql: the seed user is not found: %+v", out.Data)
	}
	return nil
}

// api calls the management API with the worker's admin token.
func (w *worker) api(method, path string, body any, want int, v any) error {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, w.base+"api/v2/"+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+w.adminToken)
	return w.do(req, want, v)
}

// do sends req and decodes a want answer into v.
func (w *worker) do(req *http.Request, want int, v any) error {
	resp, err := w.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %.200s", req.Method, req.URL.Path, resp.StatusCode, raw)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
		}
	}
	return nil
}
