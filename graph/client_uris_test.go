package graph_test

import (
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
)

// TestClientURIsAreRestricted: createClient and updateClient refuse redirect
// and logout URIs that are not https, http on loopback or a reverse-domain
// private-use scheme, and web origins that are not https or loopback http
// origins, with BAD_USER_INPUT naming the field; nothing is stored.
func TestClientURIsAreRestricted(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		var out struct {
			CreateClient struct{ Client struct{ ID string } }
		}
		s.MustGraphQL(t, admin, `mutation { createClient(input: {name: "native", type: "native",
			redirectUris: ["com.example.app:/cb", "http://127.0.0.1:7777/cb", "http://[::1]/cb", "https://app.example.com/cb"],
			logoutUrls: ["https://app.example.com/bye"], webOrigins: ["https://app.example.com", "http://localhost:3000"]}) { client { id } } }`, nil, &out)
		id := out.CreateClient.Client.ID
		before := count(t, s, "clients")

		for _, c := range []struct{ field, value string }{
			{"redirectUris", "javascript:alert(document.cookie)"},
			{"redirectUris", "data:text/html,<script>alert(1)</script>"},
			{"redirectUris", "vbscript:msgbox(1)"},
			{"redirectUris", "file:///etc/passwd"},
			{"redirectUris", "http://app.example.com/cb"},
			{"redirectUris", "https://app.example.com/cb#x"},
			{"redirectUris", "https://user:pw@app.example.com/cb"},
			{"redirectUris", "https://*.example.com/cb"},
			{"redirectUris", "myapp:/cb"},
			{"logoutUrls", "javascript:alert(1)"},
			{"logoutUrls", "http://evil.example/bye"},
			{"webOrigins", "http://app.example.com"},
			{"webOrigins", "https://app.example.com/path"},
			{"webOrigins", "https://*.example.com"},
		} {
			vars := map[string]any{"v": []string{c.value}}
			r := s.GraphQL(t, admin, `mutation($v: [String!]) { createClient(input: {name: "x", type: "spa", `+c.field+`: $v}) { client { id } } }`, vars)
			expectError(t, r, "BAD_USER_INPUT", c.field)
			vars["id"] = id
			r = s.GraphQL(t, admin, `mutation($id: ID!, $v: [String!]) { updateClient(id: $id, input: {`+c.field+`: $v}) { id } }`, vars)
			expectError(t, r, "BAD_USER_INPUT", c.field)
		}
		if n := count(t, s, "clients"); n != before {
			t.Fatalf("clients %d -> %d", before, n)
		}
		var got struct {
			Node struct{ RedirectUris, LogoutUrls, WebOrigins []string }
		}
		s.MustGraphQL(t, admin, `query($id: ID!) { node(id: $id) { ... on Client { redirectUris logoutUrls webOrigins } } }`, map[string]any{"id": id}, &got)
		if len(got.Node.RedirectUris) != 4 || len(got.Node.LogoutUrls) != 1 || len(got.Node.WebOrigins) != 2 {
			t.Fatalf("the client changed: %+v", got)
		}
	})
}
