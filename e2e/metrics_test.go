package e2e

// The Prometheus metrics as an operator's scraper sees them: a server with
// --metrics-listen, real logins, tokens, rules and management requests,
// then GET /metrics over HTTP on the metrics listener and the counters
// read back with their labels.

import (
	"bufio"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/server"
)

// sample is one line of the text exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)`)
	labelRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// scrape GETs url (a /metrics endpoint) and parses its samples.
func scrape(t *testing.T, url string) ([]sample, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out []sample
	var raw strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		raw.WriteString(line + "\n")
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample: %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("value of %q: %v", line, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, l := range labelRE.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out, raw.String()
}

// value sums the samples named name whose labels include want; found
// reports whether any matched.
func value(samples []sample, name string, want map[string]string) (sum float64, found bool) {
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		sum += s.value
		found = true
	}
	return sum, found
}

func TestMetricsEndpoint(t *testing.T) {
	module := wasm(t, "tpl-as-roles-claim")
	for _, b := range apitest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := apitest.StartWith(t, b.DSN(t), func(c *server.Config) { c.MetricsListen = "127.0.0.1:0" })
			if s.MetricsURL == "" {
				t.Fatal("no metrics listener with MetricsListen set")
			}
			testMetrics(t, s, module)
		})
	}
}

func testMetrics(t *testing.T, s *apitest.Server, module string) {
	const conn = "Username-Password-Authentication"
	ctx := oidc.ClientContext(context.Background(), s.HTTP)
	admin := s.AdminToken(t) // a client_credentials token
	var ada, bob struct{ CreateUser struct{ ID, UserID string } }
	s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
		email: "ada@example.com", emailVerified: true, password: "Analytical-Engine-1843", appMetadata: {roles: ["admin"]}}) { id userId } }`, nil, &ada)
	s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
		email: "bob@example.com", password: "Difference-Engine-1822"}) { id userId } }`, nil, &bob)
	s.MustGraphQL(t, admin, `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": ada.CreateUser.ID}, nil)
	addRule(t, s, "roles-claim", module)
	created, err := clients.Create(authz.SystemContext(context.Background()), s.Deps.DB.Ent, clients.Params{
		Name: "Notebook", Type: clients.TypeRegularWeb, RedirectURIs: []string{redirectURI},
	})
	if err != nil {
		t.Fatal(err)
	}
	relying := newRP(t, s, created.Client.ClientID, created.Secret, oidc.ScopeOpenID, "email")

	// A login with its code exchanged: one success, the rules ran once.
	done, verifier := signIn(t, relying, "ada@example.com", "Analytical-Engine-1843")
	if done.location == nil || done.location.Query().Get("code") == "" {
		t.Fatalf("login failed: %d %.300s", done.status, done.body)
	}
	if _, err := relying.conf.Exchange(ctx, done.location.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	// Bob's wrong passwords: ten failures, then brute-force protection
	// refuses the eleventh attempt before any check.
	br := newBrowser(t)
	form := br.get(relying.conf.AuthCodeURL("bf", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	for i := 1; i <= 10; i++ {
		if r := br.submitLogin(form, "bob@example.com", "not-the-password"); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %.300s", i, r.status, r.body)
		}
	}
	if r := br.submitLogin(form, "bob@example.com", "Difference-Engine-1822"); r.status != http.StatusTooManyRequests {
		t.Fatalf("11th attempt: %d %.300s", r.status, r.body)
	}
	// A REST read names the user in its path, never in a label.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v2/users/"+url.PathEscape(ada.CreateUser.UserID), nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := s.HTTP.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("REST user read: %v %v", resp, err)
	}
	resp.Body.Close()
	// A refused client_credentials request.
	rr := s.ClientPost(t, "/oauth/token", s.AdminID, "wrong-secret", url.Values{"grant_type": {"client_credentials"}})
	rr.Body.Close()

	samples, raw := scrape(t, s.MetricsURL+"/metrics")
	expect := func(name string, labels map[string]string, min, max float64) {
		t.Helper()
		v, ok := value(samples, name, labels)
		if !ok || v < min || v > max {
			t.Errorf("%s%v = %v (present %v), want %v..%v", name, labels, v, ok, min, max)
		}
	}
	expect("authgraph_logins_total", map[string]string{"connection": conn, "outcome": "success"}, 1, 1)
	expect("authgraph_logins_total", map[string]string{"connection": conn, "outcome": "failure"}, 10, 10)
	expect("authgraph_logins_total", map[string]string{"connection": conn, "outcome": "blocked"}, 1, 1)
	expect("authgraph_bruteforce_blocks_total", map[string]string{"connection": conn}, 1, 1)
	expect("authgraph_tokens_issued_total", map[string]string{"grant_type": "authorization_code"}, 1, 1)
	expect("authgraph_tokens_issued_total", map[string]string{"grant_type": "client_credentials"}, 1, 10)
	expect("authgraph_token_errors_total", map[string]string{"grant_type": "client_credentials", "error": "invalid_client"}, 1, 1)
	expect("authgraph_rules_duration_seconds_count", map[string]string{"outcome": "ok"}, 1, 1)
	expect("authgraph_http_requests_total", map[string]string{"route": "/graphql", "method": "POST", "code": "200"}, 4, 4)
	expect("authgraph_http_requests_total", map[string]string{"route": "/oauth/token", "method": "POST", "code": "200"}, 2, 1e9)
	expect("authgraph_http_requests_total", map[string]string{"route": "/oauth/token", "method": "POST", "code": "401"}, 1, 1)
	expect("authgraph_http_requests_total", map[string]string{"route": "/authorize", "method": "GET"}, 2, 1e9)
	expect("authgraph_http_requests_total", map[string]string{"route": "/login", "method": "POST", "code": "401"}, 10, 10)
	expect("authgraph_http_request_duration_seconds_count", map[string]string{"route": "/graphql", "method": "POST", "code": "200"}, 4, 4)
	expect("authgraph_http_requests_total", map[string]string{"route": "/login", "method": "POST", "code": "429"}, 1, 1)
	expect("authgraph_cache_lookups_total", map[string]string{"cache": "clients", "result": "hit"}, 1, 1e12)
	expect("go_sql_open_connections", map[string]string{"db_name": "main"}, 0, 1e9)
	if s.Deps.DB.Dialect == "postgres" {
		expect("go_sql_open_connections", map[string]string{"db_name": "transient"}, 0, 1e9)
	}
	expect("go_goroutines", nil, 1, 1e9)
	expect("go_memstats_heap_alloc_bytes", nil, 1, 1e12)
	expect("process_cpu_seconds_total", nil, 0, 1e9)
	// The REST read is under a pattern of the API's routes; neither user
	// id appears anywhere.
	restRoute := ""
	for _, smp := range samples {
		if smp.name == "authgraph_http_requests_total" && smp.labels["method"] == "GET" && smp.labels["route"] == "/api/v2/users/{id}" {
			restRoute = smp.labels["route"]
		}
	}
	if restRoute == "" {
		t.Errorf("no /api/v2/users/{id} route:\n%s", raw)
	}
	for _, id := range []string{ada.CreateUser.UserID, ada.CreateUser.ID, strings.TrimPrefix(ada.CreateUser.UserID, "auth0|"), bob.CreateUser.UserID} {
		if strings.Contains(raw, id) {
			t.Errorf("the metrics name a user id %q", id)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", raw)
	}
	// The main listener does not serve them.
	r2, err := s.HTTP.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode == http.StatusOK {
		t.Errorf("main listener /metrics: %d", r2.StatusCode)
	}
}

// Off by default: no listener, no registry, no instrumentation.
func TestMetricsOffByDefault(t *testing.T) {
	s := apitest.Start(t, apitest.Backends()[0].DSN(t))
	if s.MetricsURL != "" || s.Deps.Metrics != nil || server.MetricsHandler(s.Deps) != nil {
		t.Fatalf("metrics on without MetricsListen: %q %v", s.MetricsURL, s.Deps.Metrics)
	}
}

// Custom-database logins time their scripts: a right password is an ok
// login run, a wrong one the script's wrong_credentials.
func TestMetricsCustomDBScripts(t *testing.T) {
	module := base64.StdEncoding.EncodeToString(customdbtest.Templates(t)["postgres"])
	s := apitest.StartWith(t, apitest.Backends()[0].DSN(t), func(c *server.Config) { c.MetricsListen = "127.0.0.1:0" })
	legacy := customdbtest.Postgres(t)
	created, err := clients.Create(authz.SystemContext(context.Background()), s.Deps.DB.Ent, clients.Params{
		Name: "Shop", Type: clients.TypeRegularWeb, RedirectURIs: []string{redirectURI},
	})
	if err != nil {
		t.Fatal(err)
	}
	scripts := map[string]any{customdb.OpLogin: module, customdb.OpGetUser: module}
	createConnection(t, s, "legacy", "customdb", map[string]any{"dsn": legacy.DSN, "scripts": scripts}, created.Client.ClientID)
	relying := newRP(t, s, created.Client.ClientID, created.Secret, "openid", "email")
	ada := customdbtest.Seed[0]
	b := newBrowser(t)
	form := b.federate(b.get(relying.conf.AuthCodeURL("m", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))), "legacy")
	if r := b.submitLogin(form, ada.Email, "not-the-password"); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d %.300s", r.status, r.body)
	}
	if r := b.submitLogin(form, ada.Email, ada.Password); r.location == nil || r.location.Query().Get("code") == "" {
		t.Fatalf("login: %d %.300s", r.status, r.body)
	}
	samples, raw := scrape(t, s.MetricsURL+"/metrics")
	for _, c := range []struct {
		labels map[string]string
		name   string
		want   float64
	}{
		{map[string]string{"operation": "login", "outcome": "ok"}, "authgraph_customdb_script_duration_seconds_count", 1},
		{map[string]string{"operation": "login", "outcome": "wrong_credentials"}, "authgraph_customdb_script_duration_seconds_count", 1},
		{map[string]string{"connection": "legacy", "outcome": "failure"}, "authgraph_logins_total", 1},
		{map[string]string{"connection": "legacy", "outcome": "success"}, "authgraph_logins_total", 1},
	} {
		if v, _ := value(samples, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", raw)
	}
}
