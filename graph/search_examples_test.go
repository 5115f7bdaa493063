package graph_test

import (
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/server/dashboard"
)

// TestDashboardSearchExamplesRun: every search the dashboard suggests runs
// through users(query:) on both databases and finds the user it describes.
func TestDashboardSearchExamplesRun(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		jo := createUser(t, s, map[string]any{"email": "jo@example.com", "name": "Jo Doe",
			"phoneNumber": "+15550100", "appMetadata": map[string]any{"plan": "gold"}})
		createUser(t, s, map[string]any{"email": "max@other.example", "name": "Max Mustermann",
			"blocked": true, "emailVerified": true, "appMetadata": map[string]any{"plan": "free"}})
		admin := s.AdminToken(t)
		for _, q := range dashboard.SearchExamples {
			var out struct {
				Users struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
			r := s.GraphQL(t, admin, `query($q: String) { users(first: 10, query: $q) { edges { node { id } } } }`,
				map[string]any{"q": q})
			if len(r.Errors) > 0 {
				t.Errorf("%s: %v", q, r.Errors)
				continue
			}
			r.Decode(t, &out)
			found := false
			for _, e := range out.Users.Edges {
				found = found || e.Node.ID == jo.ID
			}
			if !found {
				t.Errorf("%s: found %d users, not Jo Doe", q, len(out.Users.Edges))
			}
		}
	})
}
