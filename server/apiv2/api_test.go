package apiv2_test

// Transport tests of the REST framework (routing, authentication, scopes,
// rate limit, body caps, the OpenAPI document), against a real server.

import (
	"bytes"
	"context"
	"crypto/sha256"
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
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/server"
	"github.com/authgraph/authgraph/server/apiv2"
)

// operation is one documented endpoint.
type operation struct {
	Method, Path string
	Scopes       []string
	Secured      bool
	// AllScopes: the route needs every one of Scopes, not any.
	AllScopes bool
}

// openapiOps fetches and checks the served OpenAPI document and lists its
// operations.
func openapiOps(t *testing.T, s *apitest.Server, base string) (map[string]any, []operation) {
	t.Helper()
	r := call(t, s, http.MethodGet, base+"api/v2/openapi.json", "", nil)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %s %.200s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	var doc map[string]any
	r.decode(t, &doc)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi version %v", doc["openapi"])
	}
	var ops []operation
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		t.Fatal("no paths")
	}
	for p, item := range paths {
		for method, raw := range item.(map[string]any) {
			op := operation{Method: strings.ToUpper(method), Path: p}
			o := raw.(map[string]any)
			if sec, ok := o["security"].([]any); ok {
				op.Secured = true
				// One requirement of several scopes: all are needed.
				op.AllScopes = len(sec) == 1 && len(sec[0].(map[string]any)["oauth2"].([]any)) > 1
				for _, req := range sec {
					for _, scopes := range req.(map[string]any) {
						for _, sc := range scopes.([]any) {
							op.Scopes = append(op.Scopes, sc.(string))
						}
					}
				}
			}
			ops = append(ops, op)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Path+ops[i].Method < ops[j].Path+ops[j].Method })
	return doc, ops
}

// concrete fills a documented path's {params} with a value that exists
// nowhere.
func concrete(p string) string {
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(p, "no-such-id")
}

func bodyFor(method string) any {
	if method == http.MethodPost || method == http.MethodPatch || method == http.MethodPut {
		return map[string]any{}
	}
	return nil
}

// TestEveryRouteChecksItsScope walks the OpenAPI document: every operation
// but the document itself takes a token and a scope, which a token lacking
// it does not pass.
func TestEveryRouteChecksItsScope(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	_, ops := openapiOps(t, s, s.Issuer)
	other := customAPIToken(t, s)
	for _, op := range ops {
		t.Run(op.Method+" "+op.Path, func(t *testing.T) {
			u := "/api/v2" + concrete(op.Path)
			if op.Path == "/openapi.json" {
				if op.Secured {
					t.Fatal("the document takes a token")
				}
				return
			}
			if !op.Secured || len(op.Scopes) == 0 {
				t.Fatalf("no scope: %+v", op)
			}
			for _, sc := range op.Scopes {
				if !authz.IsManagementScope(sc) {
					t.Fatalf("unknown scope %q", sc)
				}
			}
			before := audits(t, s)
			// No token, a malformed header, a token for another API: 401.
			for name, tok := range map[string]string{"none": "", "garbage": "not-a-jwt", "other audience": other} {
				r := call(t, s, op.Method, u, tok, bodyFor(op.Method))
				r.expectError(t, http.StatusUnauthorized, "")
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: WWW-Authenticate %q", name, r.Header.Get("WWW-Authenticate"))
				}
			}
			// Every scope but the route's: 403 insufficient_scope.
			tok := token(t, s, everyScopeBut(op.Scopes...)...)
			r := call(t, s, op.Method, u, tok, bodyFor(op.Method))
			e := r.expectError(t, http.StatusForbidden, "insufficient_scope")
			want, enough := "Insufficient scope, expected any of: ", op.Scopes[:1]
			if op.AllScopes {
				want, enough = "Insufficient scope, expected all of: ", op.Scopes
			}
			if want += strings.Join(op.Scopes, ","); e.Message != want {
				t.Errorf("message %q, want %q", e.Message, want)
			}
			if op.AllScopes {
				// One of them is not enough.
				for _, sc := range op.Scopes {
					r := call(t, s, op.Method, u, token(t, s, everyScopeBut(sc)...), bodyFor(op.Method))
					r.expectError(t, http.StatusForbidden, "insufficient_scope")
				}
			}
			if got := audits(t, s); len(got) != len(before) {
				t.Errorf("refused requests wrote audit entries: %v", got[len(before):])
			}
			// Any one of the route's scopes (all of them, where all are
			// needed) passes the check (the handler then answers for the
			// missing object or the empty body; an empty body is a whole
			// request for some routes, such as an export of every user).
			r = call(t, s, op.Method, u, token(t, s, enough...), bodyFor(op.Method))
			if r.Status == http.StatusForbidden || r.Status == http.StatusUnauthorized {
				t.Errorf("with %v: %d %s", enough, r.Status, r.Body)
			}
		})
	}
}

// TestOpenAPIMatchesRoutes: every documented operation is served, and each
// documented path serves no undocumented method (405 lists exactly the
// documented ones).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	doc, ops := openapiOps(t, s, s.Issuer)
	servers, _ := doc["servers"].([]any)
	if len(servers) != 1 || servers[0].(map[string]any)["url"] != s.URL+"/api/v2" {
		t.Errorf("servers %v", servers)
	}
	byPath := map[string][]string{}
	for _, op := range ops {
		byPath[op.Path] = append(byPath[op.Path], op.Method)
		// Served: not the router's 404/405 (no token: 401, or the document).
		r := call(t, s, op.Method, "/api/v2"+concrete(op.Path), "", bodyFor(op.Method))
		if r.Status == http.StatusNotFound || r.Status == http.StatusMethodNotAllowed {
			t.Errorf("%s %s documented but not served: %d %s", op.Method, op.Path, r.Status, r.Body)
		}
	}
	for p, methods := range byPath {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if slices.Contains(methods, m) || servedElsewhere(ops, m, concrete(p)) {
				continue
			}
			r := call(t, s, m, "/api/v2"+concrete(p), "", nil)
			r.expectError(t, http.StatusMethodNotAllowed, "")
			allow := strings.Split(r.Header.Get("Allow"), ", ")
			sort.Strings(allow)
			want := matchingMethods(ops, concrete(p))
			if !slices.Equal(allow, want) {
				t.Errorf("%s %s: Allow %v, documented %v", m, p, allow, want)
			}
		}
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	admin := s.AdminToken(t)
	for _, p := range []string{"/api/v2/no-such-resource", "/api/v2/rules/a/b/c", "/api/v2/"} {
		for _, tok := range []string{"", admin} {
			r := call(t, s, http.MethodGet, p, tok, nil)
			r.expectError(t, http.StatusNotFound, "")
		}
	}
	r := call(t, s, http.MethodPut, "/api/v2/rules", admin, map[string]any{})
	r.expectError(t, http.StatusMethodNotAllowed, "")
	if allow := r.Header.Get("Allow"); allow != "GET, POST" {
		t.Errorf("Allow %q", allow)
	}
	// HEAD is GET without a body.
	r = call(t, s, http.MethodHead, "/api/v2/rules", admin, nil)
	if r.Status != http.StatusOK || len(r.Body) != 0 {
		t.Errorf("HEAD: %d %q", r.Status, r.Body)
	}
}

// TestEscapedIDs: SDKs escape ids segment by segment ("|" → %7C, "/" →
// %2F); the handler gets them unescaped, and an escaped "/" stays inside
// its segment. Rules are found by name, so names carry the characters.
func TestEscapedIDs(t *testing.T) {
	module := ruleFixture(t, "tpl-as-roles-claim")
	s := apitest.Start(t, testenv.SQLite(t))
	admin := s.AdminToken(t)
	names := []string{"auth0|abc", "a/b c+d;e,f?g@h:i", "100%25"}
	for _, n := range names {
		r := call(t, s, http.MethodPost, "/api/v2/rules", admin, map[string]any{"name": n, "module": b64(module)})
		if r.Status != http.StatusCreated {
			t.Fatalf("create %q: %d %s", n, r.Status, r.Body)
		}
	}
	for path, want := range map[string]string{
		"/api/v2/rules/auth0%7Cabc":                       "auth0|abc",
		"/api/v2/rules/auth0|abc":                         "auth0|abc",
		"/api/v2/rules/a%2Fb%20c+d%3Be%2Cf%3Fg@h:i":       "a/b c+d;e,f?g@h:i",
		"/api/v2/rules/100%2525":                          "100%25",
		"/api/v2/rules/auth0%7Cabc?fields=name":           "auth0|abc",
		"/api/v2/rules/a%2Fb%20c%2Bd%3Be%2Cf%3Fg%40h%3Ai": "a/b c+d;e,f?g@h:i",
	} {
		r := call(t, s, http.MethodGet, path, admin, nil)
		var got struct{ Name string }
		if r.Status != http.StatusOK {
			t.Errorf("%s: %d %s", path, r.Status, r.Body)
			continue
		}
		r.decode(t, &got)
		if got.Name != want {
			t.Errorf("%s: name %q, want %q", path, got.Name, want)
		}
	}
	// The unescaped "/" is two segments: no such route.
	call(t, s, http.MethodGet, "/api/v2/rules/a/b", admin, nil).expectError(t, http.StatusNotFound, "")
	// go-auth0 escapes the same way.
	m := sdk(t, s, "", "", false)
	for _, n := range names {
		rl, err := m.Rule.Read(context.Background(), n)
		if err != nil || rl.GetName() != n {
			t.Errorf("SDK read %q: %+v %v", n, rl, err)
		}
	}
	// User ids: "auth0|abc" arrives as auth0%7Cabc, an id holding "/" as
	// %2F.
	for i, local := range []string{"abc", "x/y+z"} {
		r := call(t, s, http.MethodPost, "/api/v2/users", admin, map[string]any{"connection": "Username-Password-Authentication",
			"email": fmt.Sprintf("esc%d@example.com", i), "password": "Escaped-Ids-2026!", "user_id": local})
		if r.Status != http.StatusCreated {
			t.Fatalf("create user %q: %d %s", local, r.Status, r.Body)
		}
	}
	for path, want := range map[string]string{
		"/api/v2/users/auth0%7Cabc":     "auth0|abc",
		"/api/v2/users/auth0%7Cx%2Fy+z": "auth0|x/y+z",
	} {
		r := call(t, s, http.MethodGet, path, admin, nil)
		var got struct {
			UserID string `json:"user_id"`
		}
		if r.Status != http.StatusOK {
			t.Errorf("%s: %d %s", path, r.Status, r.Body)
			continue
		}
		if r.decode(t, &got); got.UserID != want {
			t.Errorf("%s: user_id %q, want %q", path, got.UserID, want)
		}
		u, err := m.User.Read(context.Background(), want)
		if err != nil || u.GetID() != want {
			t.Errorf("SDK read %q: %v", want, err)
		}
	}
	call(t, s, http.MethodGet, "/api/v2/users/auth0%7Cx/y+z", admin, nil).expectError(t, http.StatusNotFound, "")
}

func TestRateLimit(t *testing.T) {
	s := apitest.StartWith(t, testenv.SQLite(t), func(c *server.Config) {
		// Slow enough that the next token takes 2 s: the assertions below
		// run well within that on a loaded machine.
		c.APIRateLimit = apiv2.RateLimit{PerSecond: 0.5, Burst: 2}
	})
	id, secret := client(t, s, "read:rules")
	tok := s.ClientCredentials(t, id, secret, nil)
	for i := range 2 {
		r := call(t, s, http.MethodGet, "/api/v2/rules", tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
		}
		if r.Header.Get("X-RateLimit-Limit") != "2" || r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(1-i) {
			t.Errorf("request %d: limit %q remaining %q", i, r.Header.Get("X-RateLimit-Limit"), r.Header.Get("X-RateLimit-Remaining"))
		}
	}
	r := call(t, s, http.MethodGet, "/api/v2/rules", tok, nil)
	e := r.expectError(t, http.StatusTooManyRequests, "too_many_requests")
	if e.Message == "" {
		t.Error("no message")
	}
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 2 {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	reset, err := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
	if now := time.Now().Unix(); err != nil || reset < now || reset > now+5 {
		t.Errorf("X-RateLimit-Reset %q (now %d)", r.Header.Get("X-RateLimit-Reset"), now)
	}
	if r.Header.Get("X-RateLimit-Limit") != "2" || r.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("429 limit %q remaining %q", r.Header.Get("X-RateLimit-Limit"), r.Header.Get("X-RateLimit-Remaining"))
	}
	// Another client has its own bucket.
	if r := call(t, s, http.MethodGet, "/api/v2/rules", s.AdminToken(t), nil); r.Status != http.StatusOK {
		t.Errorf("another client: %d %s", r.Status, r.Body)
	}

	// go-auth0: without retries the 429 is a management.Error; with its
	// default retries it waits (Retry-After) and succeeds.
	ctx := context.Background()
	var merr management.Error
	_, err = sdk(t, s, id, secret, false).Rule.List(ctx)
	if !errors.As(err, &merr) || merr.Status() != http.StatusTooManyRequests {
		t.Fatalf("SDK without retries: %v", err)
	}
	m := sdk(t, s, id, secret, true)
	start := time.Now()
	var lastErr error
	for range 2 { // the bucket is empty: the SDK must wait
		_, lastErr = m.Rule.List(ctx)
	}
	if lastErr != nil {
		t.Fatalf("SDK with retries: %v", lastErr)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("SDK did not wait: %v", waited)
	}
}

func TestBodyCaps(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	admin := s.AdminToken(t)
	before := audits(t, s)
	for name, c := range map[string]struct {
		path string
		size int
	}{
		"users (1 MiB)":  {"/api/v2/users", 1<<20 + 1},
		"rules (12 MiB)": {"/api/v2/rules", 12<<20 + 1},
	} {
		t.Run(name, func(t *testing.T) {
			body := `{"name":"x","module":"` + strings.Repeat("A", c.size) + `"}`
			r := call(t, s, http.MethodPost, c.path, admin, body)
			e := r.expectError(t, http.StatusRequestEntityTooLarge, "payload_too_large")
			if !strings.Contains(e.Message, "exceeds") {
				t.Errorf("message %q", e.Message)
			}
			// Chunked (no Content-Length): the same answer.
			req, _ := http.NewRequest(http.MethodPost, s.URL+c.path, struct{ *strings.Reader }{strings.NewReader(body)})
			req.Header.Set("Authorization", "Bearer "+admin)
			req.Header.Set("Content-Type", "application/json")
			res, err := s.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("chunked: %d", res.StatusCode)
			}
		})
	}
	if n, _ := s.Deps.DB.Ent.Rule.Query().Count(authz.SystemContext(context.Background())); n != 0 {
		t.Errorf("%d rules stored", n)
	}
	if got := audits(t, s); len(got) != len(before) {
		t.Errorf("audit entries written: %v", got[len(before):])
	}
}

// TestIssuerWithPath: the API is served at {issuer}api/v2/ and, because
// Auth0's SDKs drop the domain's path, at /api/v2/ too; go-auth0 given the
// domain with the path works unchanged.
func TestIssuerWithPath(t *testing.T) {
	s := apitest.StartWith(t, testenv.SQLite(t), func(c *server.Config) {
		c.Issuer = "http://" + c.Listen + "/tenant/"
	})
	doc, _ := openapiOps(t, s, s.Issuer)
	servers, _ := doc["servers"].([]any)
	if len(servers) != 1 || servers[0].(map[string]any)["url"] != s.URL+"/tenant/api/v2" {
		t.Errorf("servers %v", servers)
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, s.Issuer+"oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.AdminID, s.AdminSecret)
	res, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if tok.AccessToken == "" {
		t.Fatalf("token: %d", res.StatusCode)
	}
	for _, u := range []string{s.Issuer + "api/v2/rules", s.URL + "/api/v2/rules"} {
		if r := call(t, s, http.MethodGet, u, tok.AccessToken, nil); r.Status != http.StatusOK || string(r.Body) != "[]\n" {
			t.Errorf("%s: %d %s", u, r.Status, r.Body)
		}
	}
	// The domain without its trailing slash: go-auth0 appends "/api/v2/"
	// to it for the audience.
	m, err := management.New(strings.TrimSuffix(strings.TrimPrefix(s.Issuer, "http://"), "/"), management.WithInsecure(),
		management.WithClientCredentials(context.Background(), s.AdminID, s.AdminSecret), management.WithNoRetries())
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Rule.List(context.Background())
	if err != nil || l.Total != 0 || len(l.Rules) != 0 {
		t.Fatalf("SDK list: %+v %v", l, err)
	}
}

// TestSDKClientAuthentication: go-auth0 sends its credentials with HTTP
// Basic, each part URL-escaped (golang.org/x/oauth2); a secret holding
// characters that escaping changes works on the first attempt.
func TestSDKClientAuthentication(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	secret := "p+s/w=%25 x&y:z~" + strings.Repeat("k", 32)
	c, err := clients.Create(authz.SystemContext(context.Background()), s.Deps.DB.Ent, clients.Params{
		Name: "escaped secret", Type: clients.TypeM2M, Scopes: []string{"read:rules"}, Secret: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Basic alone, escaped as the SDK escapes: accepted.
	res := s.ClientPost(t, "/oauth/token", c.Client.ClientID, secret, url.Values{"grant_type": {"client_credentials"}})
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("escaped Basic credentials: %d", res.StatusCode)
	}
	// Form credentials: accepted too.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.Client.ClientID}, "client_secret": {secret}}
	res, err = s.HTTP.PostForm(s.URL+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("form credentials: %d", res.StatusCode)
	}
	// go-auth0: one token request, with Basic credentials only (it would
	// retry with form credentials after a refusal).
	var tokenRequests []*http.Request
	counting := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/oauth/token") {
			clone := r.Clone(r.Context())
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			clone.Form, _ = url.ParseQuery(string(body))
			tokenRequests = append(tokenRequests, clone)
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, counting)
	m, err := management.New(strings.TrimPrefix(s.URL, "http://"), management.WithInsecure(),
		management.WithClientCredentials(ctx, c.Client.ClientID, secret), management.WithNoRetries())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rule.List(context.Background()); err != nil {
		t.Fatalf("SDK: %v", err)
	}
	if len(tokenRequests) != 1 {
		t.Fatalf("%d token requests", len(tokenRequests))
	}
	id, sec, ok := tokenRequests[0].BasicAuth()
	if !ok || id != url.QueryEscape(c.Client.ClientID) || sec != url.QueryEscape(secret) || sec == secret ||
		tokenRequests[0].Form.Has("client_secret") {
		t.Fatalf("the SDK's token request: basic %v %q %q, form %v", ok, id, sec, tokenRequests[0].Form)
	}
	// A wrong secret: the SDK's error, not a management.Error.
	_, err = sdk(t, s, c.Client.ClientID, secret+"x", false).Rule.List(context.Background())
	var merr management.Error
	if err == nil || errors.As(err, &merr) {
		t.Fatalf("wrong secret: %v", err)
	}
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	reqRE    = regexp.MustCompile(`name="req" value="([^"]*)"`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

// customAPIToken returns a user's access token for a custom API (created
// with the GraphQL API), through the authorization code flow: a valid
// token of this issuer for another audience.
func customAPIToken(t *testing.T, s *apitest.Server) string {
	t.Helper()
	admin := s.AdminToken(t)
	const audience = "https://things.example.com/"
	s.MustGraphQL(t, admin, `mutation { createResourceServer(input: {identifier: "`+audience+`", name: "Things",
		scopes: [{value: "read:things"}]}) { id } }`, nil, nil)
	s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
		email: "ada@example.com", password: "Analytical-Engine-1843!"}) { id } }`, nil, nil)
	const redirect = "http://127.0.0.1:9/callback"
	app, err := clients.Create(authz.SystemContext(context.Background()), s.Deps.DB.Ent, clients.Params{
		Name: "SPA", Type: clients.TypeSPA, RedirectURIs: []string{redirect}, WebOrigins: []string{"http://127.0.0.1:9"},
	})
	if err != nil {
		t.Fatal(err)
	}
	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {app.Client.ClientID}, "redirect_uri": {redirect},
		"scope": {"openid read:things"}, "audience": {audience}, "state": {"st"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := b.Get(s.Issuer + "authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(res)
	csrf, act, reqID := csrfRE.FindStringSubmatch(page), actionRE.FindStringSubmatch(page), reqRE.FindStringSubmatch(page)
	if csrf == nil || act == nil || reqID == nil {
		t.Fatalf("not the login form (%d): %.400s", res.StatusCode, page)
	}
	action, _ := res.Request.URL.Parse(html.UnescapeString(act[1]))
	res, err = b.PostForm(action.String(), url.Values{"csrf_token": {html.UnescapeString(csrf[1])},
		"req": {html.UnescapeString(reqID[1])}, "username": {"ada@example.com"}, "password": {"Analytical-Engine-1843!"}})
	if err != nil {
		t.Fatal(err)
	}
	readAll(res)
	loc, _ := url.Parse(res.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, err = s.HTTP.PostForm(s.URL+"/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirect}, "client_id": {app.Client.ClientID}, "code_verifier": {verifier}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal([]byte(readAll(res)), &tok)
	if tok.AccessToken == "" {
		t.Fatalf("code exchange: %d", res.StatusCode)
	}
	// It is a valid token, for the custom API.
	parts := strings.Split(tok.AccessToken, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if !strings.Contains(string(claims), audience) {
		t.Fatalf("token claims %s", claims)
	}
	return tok.AccessToken
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func readAll(res *http.Response) string {
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// servedElsewhere reports whether another documented operation with method
// m matches path: GET /jobs/{id} serves GET /jobs/verification-email, whose
// documented method is POST only.
func servedElsewhere(ops []operation, m, path string) bool {
	return slices.Contains(matchingMethods(ops, path), m)
}

// matchingMethods are the documented methods of every operation whose path
// pattern matches path, sorted: what a 405 there lists in Allow.
func matchingMethods(ops []operation, path string) []string {
	var out []string
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, op := range ops {
		pat := strings.Split(strings.Trim(op.Path, "/"), "/")
		if len(pat) != len(segs) {
			continue
		}
		match := true
		for i := range pat {
			if !strings.HasPrefix(pat[i], "{") && pat[i] != segs[i] {
				match = false
				break
			}
		}
		if match && !slices.Contains(out, op.Method) {
			out = append(out, op.Method)
		}
	}
	sort.Strings(out)
	return out
}
