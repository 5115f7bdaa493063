// Package apitest starts a complete Authgraph server (real database, real
// OpenID Provider, real HTTP) for integration tests, and talks to it the way
// an independent client would: tokens from /oauth/token, GraphQL over POST.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/server"
)

// Backend is a database the suite runs on.
type Backend struct {
	Name string
	// DSN returns a fresh, empty database URL for one test.
	DSN func(t testing.TB) string
}

// Backends returns SQLite and Postgres: every storage-touching test runs on
// both (Postgres is skipped outside CI when unavailable, fatal under CI).
func Backends() []Backend {
	return []Backend{
		{Name: "sqlite", DSN: testenv.SQLite},
		{Name: "postgres", DSN: testenv.Postgres},
	}
}

// Server is a running Authgraph.
type Server struct {
	URL         string // base URL without trailing slash
	Issuer      string // URL + "/"
	Deps        *server.Deps
	AdminID     string
	AdminSecret string
	HTTP        *http.Client
	// MetricsURL is the metrics listener's base URL (its /metrics), empty
	// unless the configuration set MetricsListen (StartWith).
	MetricsURL string

	mu       sync.Mutex
	tokens   map[string]string
	logs     *logRecorder
	stopJobs func()
}

// StopJobs stops the background job runners (imports, export sweeps) for
// the rest of the test: a test that counts the database statements of one
// request must not count their polling.
func (s *Server) StopJobs() { s.stopJobs() }

// AdminSecretForTests is the bootstrap admin secret the harness sets.
const AdminSecretForTests = "apitest-admin-secret-0123456789abcdef"

// Start runs a server on dsn (fresh database) until the test ends.
func Start(t testing.TB, dsn string) *Server {
	t.Helper()
	return StartWith(t, dsn, nil)
}

// logRecorder keeps the server's log lines (warnings and errors) for tests
// that assert on what a request logs.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) add(line string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	return len(l.lines)
}

// LogLines returns the server's log lines (level warning and above) so far.
func (s *Server) LogLines() []string {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	return append([]string(nil), s.logs.lines...)
}

type testWriter struct {
	t    testing.TB
	logs *logRecorder
}

func (w testWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	// A request that floods the log must not flood the test output too.
	if n := w.logs.add(line); n <= 200 {
		w.t.Log(line)
	}
	return len(p), nil
}

// AdminToken returns a management token holding every scope.
func (s *Server) AdminToken(t testing.TB) string {
	return s.tokenFor(t, s.AdminID, s.AdminSecret, "")
}

// Token returns a management token holding exactly scopes (a new m2m client
// per distinct scope set). No scopes gives a token with an empty scope.
func (s *Server) Token(t testing.TB, scopes ...string) string {
	t.Helper()
	key := strings.Join(scopes, " ")
	s.mu.Lock()
	tok, ok := s.tokens[key]
	s.mu.Unlock()
	if ok {
		return tok
	}
	created, err := clients.Create(authz.SystemContext(context.Background()), s.Deps.DB.Ent, clients.Params{
		Name: "apitest " + key, Type: clients.TypeM2M, Scopes: scopes,
	})
	if err != nil {
		t.Fatalf("creating client: %v", err)
	}
	tok = s.tokenFor(t, created.Client.ClientID, created.Secret, key)
	s.mu.Lock()
	s.tokens[key] = tok
	s.mu.Unlock()
	return tok
}

func (s *Server) tokenFor(t testing.TB, id, secret, scope string) string {
	t.Helper()
	form := url.Values{}
	if scope != "" {
		form.Set("scope", scope)
	}
	return s.ClientCredentials(t, id, secret, form)
}

// ClientPost posts form to path (an OAuth endpoint such as /oauth/token or
// /oauth/introspect) authenticated as the confidential client id with
// client_secret_basic, as OAuth client libraries do. The caller closes the
// response body.
func (s *Server) ClientPost(t testing.TB, path, id, secret string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// ClientCredentials asks /oauth/token for a client_credentials token the way
// an OAuth client library does (client_secret_basic, form-encoded), with
// form's extra parameters (scope, audience), and fails the test unless a
// token comes back.
func (s *Server) ClientCredentials(t testing.TB, id, secret string, form url.Values) string {
	t.Helper()
	form = maps.Clone(form)
	if form == nil {
		form = url.Values{}
	}
	form.Set("grant_type", "client_credentials")
	resp := s.ClientPost(t, "/oauth/token", id, secret, form)
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("token request (%s): status %d, %s: %s (%v)", form.Encode(), resp.StatusCode, body.Error, body.Description, err)
	}
	return body.AccessToken
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns extensions.code.
func (e Error) Code() string { c, _ := e.Extensions["code"].(string); return c }

// Response is a GraphQL response.
type Response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Codes lists the errors' codes.
func (r Response) Codes() []string {
	out := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		out[i] = e.Code()
	}
	return out
}

// Decode unmarshals data into v, failing the test on GraphQL errors.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected GraphQL errors: %+v", r.Errors)
	}
	if v == nil {
		return
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decoding data %s: %v", r.Data, err)
	}
}

// GraphQL posts a query with variables using token ("" sends none).
func (s *Server) GraphQL(t testing.TB, token, query string, vars map[string]any) Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := Response{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response is not JSON (status %d): %s", resp.StatusCode, raw)
	}
	return out
}

// MustGraphQL posts and decodes into v, failing on any error.
func (s *Server) MustGraphQL(t testing.TB, token, query string, vars map[string]any, v any) {
	t.Helper()
	r := s.GraphQL(t, token, query, vars)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %+v", r.Status, r.Errors)
	}
	r.Decode(t, v)
}

// ForEachBackend runs fn as a subtest per backend with a fresh server.
func ForEachBackend(t *testing.T, fn func(t *testing.T, s *Server)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			fn(t, Start(t, b.DSN(t)))
		})
	}
}
