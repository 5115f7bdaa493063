package server_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/internal/apitest"
)

const headersRedirectURI = "http://127.0.0.1:9/callback" // never contacted

var (
	hdrCSRF   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	hdrReq    = regexp.MustCompile(`name="req" value="([^"]*)"`)
	hdrAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hdrHref   = regexp.MustCompile(`href="([^"]*/login/(?:signup|forgot)[^"]*)"`)
)

// visit is one response a route gave, as a browser received it.
type visit struct {
	name   string
	status int
	header http.Header
	body   string
	url    *url.URL
}

type headerBrowser struct {
	t    *testing.T
	c    *http.Client
	seen []visit
}

func newHeaderBrowser(t *testing.T) *headerBrowser {
	jar, _ := cookiejar.New(nil)
	b := &headerBrowser{t: t}
	b.c = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), headersRedirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

func (b *headerBrowser) do(name string, req *http.Request) visit {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s: %v", name, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	v := visit{name: name, status: resp.StatusCode, header: resp.Header, body: string(raw), url: resp.Request.URL}
	b.seen = append(b.seen, v)
	return v
}

func (b *headerBrowser) get(name, u string) visit {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(name, req)
}

// submit posts the page's form with fields (plus its csrf_token and req).
func (b *headerBrowser) submit(name string, p visit, fields url.Values) visit {
	b.t.Helper()
	act := hdrAction.FindStringSubmatch(p.body)
	if act == nil {
		b.t.Fatalf("%s: no form on %s: %.400s", name, p.url, p.body)
	}
	if m := hdrCSRF.FindStringSubmatch(p.body); m != nil {
		fields.Set("csrf_token", html.UnescapeString(m[1]))
	}
	if m := hdrReq.FindStringSubmatch(p.body); m != nil {
		fields.Set("req", html.UnescapeString(m[1]))
	}
	action, _ := p.url.Parse(html.UnescapeString(act[1]))
	req, _ := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(name, req)
}

func isHTML(h http.Header) bool { return strings.HasPrefix(h.Get("Content-Type"), "text/html") }

// TestSecurityHeadersOnEveryPage walks every HTML page Authgraph serves
// (hosted login, signup, forgot, reset, verify, messages, OAuth error pages,
// form_post, logout confirmation and signed-out pages, dashboard,
// playground) and checks that each one refuses framing (X-Frame-Options and
// CSP frame-ancestors), and that every response, HTML or not, carries
// X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer. The
// logout pages and the OAuth error pages had no framing protection.
func TestSecurityHeadersOnEveryPage(t *testing.T) {
	s := apitest.Start(t, apitestSQLite(t))
	ctx := authz.SystemContext(context.Background())
	app, err := clients.Create(ctx, s.Deps.DB.Ent, clients.Params{Name: "Headers", Type: clients.TypeRegularWeb,
		RedirectURIs: []string{headersRedirectURI}, LogoutURLs: []string{headersRedirectURI}})
	if err != nil {
		t.Fatal(err)
	}
	cid := app.Client.ClientID
	s.MustGraphQL(t, s.AdminToken(t), `mutation { createUser(input: {connection: "Username-Password-Authentication",
		email: "frames@example.com", password: "Frames-Are-Not-Allowed-1"}) { id } }`, nil, &map[string]any{})
	authorize := func(mode string) string {
		q := url.Values{"client_id": {cid}, "redirect_uri": {headersRedirectURI}, "response_type": {"code"},
			"scope": {"openid"}, "state": {"st"}}
		if mode != "" {
			q.Set("response_mode", mode)
		}
		return s.URL + "/authorize?" + q.Encode()
	}

	b := newHeaderBrowser(t)
	login := b.get("login page", authorize("form_post"))
	if login.status != 200 || !strings.Contains(login.url.Path, "/login") {
		t.Fatalf("expected the login page, got %d %s", login.status, login.url)
	}
	reqID := login.url.Query().Get("req")
	links := map[string]string{"signup": s.URL + "/login/signup?req=" + url.QueryEscape(reqID), "forgot": s.URL + "/login/forgot?req=" + url.QueryEscape(reqID)}
	for _, m := range hdrHref.FindAllStringSubmatch(login.body, -1) {
		u, _ := login.url.Parse(html.UnescapeString(m[1]))
		if strings.Contains(u.Path, "signup") {
			links["signup"] = u.String()
		} else {
			links["forgot"] = u.String()
		}
	}
	b.get("signup page", links["signup"])
	forgot := b.get("forgot page", links["forgot"])
	b.submit("forgot submitted", forgot, url.Values{"email": {"frames@example.com"}})
	b.get("reset page, bad ticket", s.URL+"/login/reset?ticket=bogus")
	b.get("verify page, bad ticket", s.URL+"/login/verify?ticket=bogus")
	b.get("login page, unknown request", s.URL+"/login?req=bogus")
	b.get("upstream callback without state", s.URL+"/login/callback")
	post, _ := http.NewRequest(http.MethodPost, s.URL+"/login", strings.NewReader("req="+url.QueryEscape(reqID)))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	b.do("login post without CSRF", post)
	wrong := b.submit("login, wrong password", login, url.Values{"username": {"frames@example.com"}, "password": {"wrong"}})
	formPost := b.submit("form_post response", wrong, url.Values{"username": {"frames@example.com"}, "password": {"Frames-Are-Not-Allowed-1"}})
	if !strings.Contains(formPost.body, `name="code"`) {
		t.Fatalf("expected the form_post page: %d %.400s", formPost.status, formPost.body)
	}
	b.get("logout confirmation", s.URL+"/oidc/logout?client_id="+cid)
	out := newHeaderBrowser(t)
	out.get("signed-out page", s.URL+"/oidc/logout")
	b.seen = append(b.seen, out.seen...)
	b.get("authorize error: unknown client", s.URL+"/authorize?client_id=nope&response_type=code&redirect_uri="+url.QueryEscape(headersRedirectURI))
	b.get("authorize error: unregistered redirect_uri", s.URL+"/authorize?client_id="+cid+"&response_type=code&redirect_uri=https://evil.example/cb")
	b.get("logout error: unknown client", s.URL+"/oidc/logout?client_id=nope")
	b.get("dashboard", s.URL+"/dashboard/")
	b.get("playground", s.URL+"/playground")
	// Non-HTML responses still get nosniff and the referrer policy.
	b.get("discovery", s.URL+"/.well-known/openid-configuration")
	b.get("login stylesheet", s.URL+"/login/assets/login.css")
	b.get("not found", s.URL+"/no-such-page")
	b.get("health", s.URL+"/healthz")

	htmlPages := 0
	for _, v := range b.seen {
		if v.name == "" {
			continue
		}
		h := v.header
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s (%s): X-Content-Type-Options %q", v.name, v.url.Path, h.Get("X-Content-Type-Options"))
		}
		if rp := h.Get("Referrer-Policy"); rp != "no-referrer" {
			t.Errorf("%s (%s): Referrer-Policy %q", v.name, v.url.Path, rp)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS on an http issuer", v.name)
		}
		if !isHTML(h) {
			continue
		}
		htmlPages++
		if h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s (%d %s): X-Frame-Options %q", v.name, v.status, v.url.Path, h.Get("X-Frame-Options"))
		}
		if !frameAncestorsNone(h.Values("Content-Security-Policy")) {
			t.Errorf("%s (%d %s): no frame-ancestors 'none' in %q", v.name, v.status, v.url.Path, h.Values("Content-Security-Policy"))
		}
	}
	if htmlPages < 18 {
		t.Errorf("only %d HTML pages seen", htmlPages)
	}
}

// frameAncestorsNone reports whether the policies forbid every framer.
func frameAncestorsNone(policies []string) bool {
	for _, p := range policies {
		for _, d := range strings.Split(p, ";") {
			if f := strings.Fields(d); len(f) == 2 && f[0] == "frame-ancestors" && f[1] == "'none'" {
				return true
			}
		}
	}
	return false
}

func apitestSQLite(t *testing.T) string { return apitest.Backends()[0].DSN(t) }
