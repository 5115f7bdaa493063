package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
)

// TestRequestBodiesAreCappedAndCheckedEverywhere sweeps every endpoint that
// reads a body: one over its cap is a 413 whether its length is announced
// or not (chunked), and a malformed body (bad form encoding, JSON where a
// form is expected, multipart without a boundary) is a 4xx, never a 500.
func TestRequestBodiesAreCappedAndCheckedEverywhere(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		endpoints := []struct {
			path string
			cap  int
		}{
			{"/oauth/token", 64 << 10},
			{"/oauth/revoke", 64 << 10},
			{"/oauth/introspect", 64 << 10},
			{"/userinfo", 64 << 10},
			{"/authorize", 64 << 10},
			{"/oidc/logout", 64 << 10},
			{"/login", 64 << 10},
			{"/login/signup", 64 << 10},
			{"/login/forgot", 64 << 10},
			{"/login/reset", 64 << 10},
			{"/login/verify", 64 << 10},
			{"/saml/some-connection/acs", 1 << 20},
			{"/graphql", 12 << 20},
			{"/healthz", 64 << 10},
			{"/dashboard/", 64 << 10},
		}
		send := func(path, contentType string, body io.Reader, length int64) (int, string) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPost, s.URL+path, body)
			req.ContentLength = length
			req.Header.Set("Content-Type", contentType)
			if path == "/graphql" {
				req.Header.Set("Authorization", "Bearer "+admin)
			}
			resp, err := s.HTTP.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(raw)
		}
		const form = "application/x-www-form-urlencoded"
		for _, e := range endpoints {
			t.Run(strings.TrimPrefix(e.path, "/"), func(t *testing.T) {
				over := "a=" + strings.Repeat("x", e.cap)
				if st, body := send(e.path, form, strings.NewReader(over), int64(len(over))); st != http.StatusRequestEntityTooLarge {
					t.Errorf("over the cap: status %d, want 413: %.200s", st, body)
				}
				if st, body := send(e.path, form, struct{ io.Reader }{strings.NewReader(over)}, -1); st != http.StatusRequestEntityTooLarge {
					t.Errorf("over the cap, chunked: status %d, want 413: %.200s", st, body)
				}
				under := "a=" + strings.Repeat("x", 1000)
				if st, body := send(e.path, form, struct{ io.Reader }{strings.NewReader(under)}, -1); st == http.StatusRequestEntityTooLarge || st >= 500 {
					t.Errorf("under the cap, chunked: status %d: %.200s", st, body)
				}
				for _, bad := range []struct{ contentType, body string }{
					{form, "a=%zz&b=%"},
					{form, strings.Repeat("&", 5000)},
					{"application/json", `{"grant_type": "client_credentials"`},
					{"multipart/form-data", "--x\r\n"},
					{"text/plain", "\x00\xff"},
				} {
					if st, body := send(e.path, bad.contentType, strings.NewReader(bad.body), int64(len(bad.body))); st >= 500 {
						t.Errorf("%s %q: status %d: %.200s", bad.contentType, bad.body, st, body)
					}
				}
			})
		}
	})
}
