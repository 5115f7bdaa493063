package apiv2_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/internal/apitest"
)

// resp is an answer of the API.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// errBody is Auth0's error shape.
type errBody struct {
	StatusCode int            `json:"statusCode"`
	Error      string         `json:"error"`
	Message    string         `json:"message"`
	ErrorCode  string         `json:"errorCode"`
	Attributes map[string]any `json:"attributes"`
}

func (r resp) err(t testing.TB) errBody {
	t.Helper()
	var e errBody
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("error body is not JSON (%d): %q", r.Status, r.Body)
	}
	if e.StatusCode != r.Status || e.Error != http.StatusText(r.Status) || e.Message == "" {
		t.Fatalf("error body does not match status %d: %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
	return e
}

// expectError asserts an Auth0 error of status (and errorCode, when given).
func (r resp) expectError(t testing.TB, status int, code string) errBody {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	e := r.err(t)
	if code != "" && e.ErrorCode != code {
		t.Fatalf("errorCode %q, want %q: %s", e.ErrorCode, code, r.Body)
	}
	return e
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.Body, err)
	}
}

// call sends method url (absolute, or a path below the server's root) with
// token (none when empty) and body (JSON-encoded unless []byte or string).
func call(t testing.TB, s *apitest.Server, method, u, token string, body any) resp {
	t.Helper()
	if strings.HasPrefix(u, "/") {
		u = s.URL + u
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// client registers an m2m client holding scopes and returns its
// credentials.
func client(t testing.TB, s *apitest.Server, scopes ...string) (id, secret string) {
	t.Helper()
	return s.ScopedClient(t, scopes...)
}

// token returns a management token holding exactly scopes.
func token(t testing.TB, s *apitest.Server, scopes ...string) string {
	t.Helper()
	id, secret := client(t, s, scopes...)
	return s.ClientCredentials(t, id, secret, nil)
}

// sdk is go-auth0 against s as id (the admin when empty), without retries
// unless retries.
func sdk(t testing.TB, s *apitest.Server, id, secret string, retries bool) *management.Management {
	t.Helper()
	if id == "" {
		id, secret = s.AdminID, s.AdminSecret
	}
	opts := []management.Option{management.WithInsecure(), management.WithClientCredentials(context.Background(), id, secret)}
	if !retries {
		opts = append(opts, management.WithNoRetries())
	}
	m, err := management.New(strings.TrimPrefix(s.URL, "http://"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// everyScopeBut returns the management scopes except those given.
func everyScopeBut(except ...string) []string {
	var out []string
	for _, sc := range authz.ManagementScopes() {
		if !slices.Contains(except, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// audits returns the operations of the sapi entries written so far.
func audits(t testing.TB, s *apitest.Server) []string {
	t.Helper()
	es, err := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("sapi")).Order(logevent.ByID()).All(authz.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		op, _ := e.Details["operation"].(string)
		out = append(out, op)
	}
	return out
}

// sdkAs is go-auth0 against s as the client id (the admin when id is
// empty), without retries.
func sdkAs(t testing.TB, s *apitest.Server, id, secret string) *management.Management {
	t.Helper()
	return sdk(t, s, id, secret, false)
}

// scopedSDK is go-auth0 as a new client holding exactly scopes (the admin
// when none are given), without retries.
func scopedSDK(t testing.TB, s *apitest.Server, scopes ...string) *management.Management {
	t.Helper()
	if len(scopes) == 0 {
		return sdkAs(t, s, "", "")
	}
	id, secret := client(t, s, scopes...)
	return sdkAs(t, s, id, secret)
}

// errStatus is the HTTP status of a go-auth0 error (0 for none).
func errStatus(t testing.TB, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var me management.Error
	if !errors.As(err, &me) {
		t.Fatalf("not a management.Error: %T %v", err, err)
	}
	return me.Status()
}

// expectStatus fails unless err is a go-auth0 error of status want.
func expectStatus(t testing.TB, err error, want int, what string) {
	t.Helper()
	if got := errStatus(t, err); got != want {
		t.Fatalf("%s: status %d (%v), want %d", what, got, err, want)
	}
}
