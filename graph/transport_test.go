package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
)

// rawGraphQL posts body as is to /graphql with the admin token.
func rawGraphQL(t *testing.T, s *apitest.Server, method, contentType string, body io.Reader, contentLength int64) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+"/graphql", body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.ContentLength = contentLength
	req.Header.Set("Authorization", "Bearer "+s.AdminToken(t))
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// unsized hides a reader's length so the request is sent chunked.
type unsized struct{ io.Reader }

// TestMalformedGraphQLRequests: a body that is not one GraphQL request is a
// 400 with a typed error (extensions.code BAD_REQUEST) that does not echo the
// body; a body over the cap is a 413; never a 500, and nothing is written.
func TestMalformedGraphQLRequests(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		createUser(t, s, map[string]any{"email": "transport@example.com"})
		big := `{"query": "{ users { totalCount } }", "variables": {"x": "` + strings.Repeat("a", 13<<20) + `"}}`
		cases := []struct {
			name, contentType, body string
			chunked                 bool
			status                  int
			code                    string
		}{
			{"not JSON", "application/json", `query { users { totalCount } } secret-password`, false, 400, "BAD_REQUEST"},
			{"truncated JSON", "application/json", `{"query": "{ users { totalCount } }", "variables": {"secret": "secret-password"`, false, 400, "BAD_REQUEST"},
			{"batched request", "application/json", `[{"query": "{ users { totalCount } }"}, {"query": "{ users { totalCount } }", "variables": {"secret": "secret-password"}}]`, false, 400, "BAD_REQUEST"},
			{"JSON string", "application/json", `"secret-password"`, false, 400, "BAD_REQUEST"},
			{"query not a string", "application/json", `{"query": 5, "variables": {"secret": "secret-password"}}`, false, 400, "BAD_REQUEST"},
			{"variables not an object", "application/json", `{"query": "{ users { totalCount } }", "variables": ["secret-password"]}`, false, 400, "BAD_REQUEST"},
			{"trailing data", "application/json", `{"query": "{ users { totalCount } }"} {"variables": {"secret": "secret-password"}}`, false, 400, "BAD_REQUEST"},
			{"empty body", "application/json", ``, false, 400, "BAD_REQUEST"},
			{"form body", "application/x-www-form-urlencoded", `query=secret-password`, false, 415, "BAD_REQUEST"},
			{"over the cap", "application/json", big, false, 413, "PAYLOAD_TOO_LARGE"},
			{"over the cap, chunked", "application/json", big, true, 413, "PAYLOAD_TOO_LARGE"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				users, logs := count(t, s, "users"), sapiCount(t, s)
				var body io.Reader = strings.NewReader(c.body)
				n := int64(len(c.body))
				if c.chunked {
					body, n = unsized{body}, -1
				}
				status, hdr, raw := rawGraphQL(t, s, http.MethodPost, c.contentType, body, n)
				if status != c.status {
					t.Fatalf("status %d, want %d: %.300s", status, c.status, raw)
				}
				if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
					t.Errorf("Content-Type %q", hdr.Get("Content-Type"))
				}
				var r apitest.Response
				if err := json.Unmarshal(raw, &r); err != nil {
					t.Fatalf("not JSON: %.300s", raw)
				}
				if len(r.Errors) != 1 || r.Errors[0].Code() != c.code || !dataIsEmpty(r.Data) {
					t.Fatalf("want one %s error, got %.300s", c.code, raw)
				}
				if bytes.Contains(raw, []byte("secret-password")) {
					t.Errorf("the error echoes the body: %s", raw)
				}
				if count(t, s, "users") != users || sapiCount(t, s) != logs {
					t.Error("the refused request wrote")
				}
			})
		}
		t.Run("GET is not a transport", func(t *testing.T) {
			status, hdr, raw := rawGraphQL(t, s, http.MethodGet, "", nil, 0)
			if status != http.StatusMethodNotAllowed || !strings.Contains(string(raw), `"BAD_REQUEST"`) || hdr.Get("Allow") == "" {
				t.Fatalf("status %d, Allow %q: %s", status, hdr.Get("Allow"), raw)
			}
		})
		t.Run("a well-formed request still runs", func(t *testing.T) {
			status, _, raw := rawGraphQL(t, s, http.MethodPost, "application/json; charset=utf-8", strings.NewReader(`{"query": "query Q($n: Int) { users(first: $n) { totalCount } }", "operationName": "Q", "variables": {"n": 1}, "extensions": {}}`), -1)
			if status != 200 || !strings.Contains(string(raw), `"totalCount"`) {
				t.Fatalf("status %d: %s", status, raw)
			}
		})
	})
}
