package e2e

// Federation attacks: server-side requests through connection URLs.

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
)

// The SP metadata endpoint is unauthenticated: it must not make the server
// fetch anything, and a loopback metadataUrl is refused unless the
// connection says allow_private_network.
func TestSAMLMetadataEndpointFetchesNothing(t *testing.T) {
	var hits atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer idp.Close()
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		const create = `mutation($o: Map) { createConnection(input: {name: "acme", strategy: "saml", options: $o}) { id } }`
		r := s.GraphQL(t, s.AdminToken(t), create, map[string]any{"o": map[string]any{"metadataUrl": idp.URL + "/metadata"}})
		if !slices.Contains(r.Codes(), "BAD_USER_INPUT") || !strings.Contains(r.Errors[0].Message, "metadataUrl") {
			t.Fatalf("loopback metadataUrl accepted: %+v", r)
		}
		s.MustGraphQL(t, s.AdminToken(t), create, map[string]any{"o": map[string]any{
			"metadataUrl": idp.URL + "/metadata", "allow_private_network": true}}, nil)
		before := hits.Load()
		for range 3 {
			md := newBrowser(t).get(s.Issuer + "saml/acme/metadata")
			if md.status != http.StatusOK || !strings.Contains(md.body, s.Issuer+"saml/acme/acs") {
				t.Fatalf("SP metadata: %d %.300s", md.status, md.body)
			}
		}
		if n := hits.Load() - before; n != 0 {
			t.Fatalf("GET /saml/acme/metadata made the server fetch the IdP's metadata %d times", n)
		}
	})
}
