package graph_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
)

// docSection returns the GraphQL examples of one section of a doc: the
// ```graphql blocks between the heading and the next heading of its level.
func docSection(t *testing.T, path, heading string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("%s has no %q", path, heading)
	}
	doc = doc[start+len(heading)+2:]
	level := heading[:strings.Index(heading, " ")+1]
	if end := strings.Index(doc, "\n"+level); end >= 0 {
		doc = doc[:end]
	}
	var blocks []string
	for {
		i := strings.Index(doc, "```graphql\n")
		if i < 0 {
			return blocks
		}
		doc = doc[i+len("```graphql\n"):]
		j := strings.Index(doc, "```")
		blocks = append(blocks, doc[:j])
		doc = doc[j+3:]
	}
}

// TestManagementDocRBACExamples runs the examples of MANAGEMENT.md's RBAC
// section in order, as written, so the documentation cannot drift from the
// API. Variables ($user, $client, $role, $grant) are a user and a client made
// beforehand and the ids earlier examples answered.
func TestManagementDocRBACExamples(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		blocks := docSection(t, "../docs/MANAGEMENT.md", "## Roles and permissions")
		if len(blocks) < 10 {
			t.Fatalf("found %d examples", len(blocks))
		}
		var c struct {
			CreateClient struct{ Client struct{ ClientID string } }
		}
		s.MustGraphQL(t, admin, `mutation { createClient(input: {name: "doc", type: "m2m"}) { client { clientId } } }`, nil, &c)
		vars := map[string]any{
			"user":   createUser(t, s, map[string]any{"email": "clerk@example.com"}).ID,
			"client": c.CreateClient.Client.ClientID,
		}
		var answers []string
		for i, q := range blocks {
			v := map[string]any{}
			for k, val := range vars {
				if strings.Contains(q, "$"+k) {
					v[k] = val
				}
			}
			var out map[string]json.RawMessage
			s.MustGraphQL(t, admin, q, v, &out)
			answers = append(answers, js(out))
			var ids map[string]struct{ ID string }
			_ = json.Unmarshal(mustJSON(out), &ids)
			if id := ids["createRole"].ID; id != "" {
				vars["role"] = id
			}
			if id := ids["createClientGrant"].ID; id != "" {
				vars["grant"] = id
			}
			t.Logf("example %d: %s", i, answers[i])
		}
		// The answers say what the text around them says.
		all := strings.Join(answers, "\n")
		for _, want := range []string{`"tokenDialect":"access_token_authz"`, `"roleName":"Order Clerk"`, `"type":"DIRECT"`,
			`"permissionName":"write:orders"`, `"scopes":["read:orders","write:orders"]`} {
			if !strings.Contains(all, want) {
				t.Errorf("no answer holds %s", want)
			}
		}
	})
}
