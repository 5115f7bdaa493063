package graph_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/ent/rule"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// ruleFixture reads a wasm fixture built by `make rules-fixtures`: skipped
// locally when missing, a failure in CI.
func ruleFixture(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join("..", "rules", "testdata", "build", name+".wasm")
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fixture %s missing (CI must run `make rules-fixtures` first): %v", p, err)
		}
		t.Skipf("fixture %s missing: run `make rules-fixtures` (%v)", p, err)
	}
	return b
}

const ruleFields = `id name order enabled version moduleSize secretsSet createdAt updatedAt`

type gqlRule struct {
	ID         string
	Name       string
	Order      int
	Enabled    bool
	Version    string
	ModuleSize int
	SecretsSet []string
}

func createRule(t testing.TB, s *apitest.Server, in map[string]any) gqlRule {
	t.Helper()
	var out struct{ CreateRule gqlRule }
	s.MustGraphQL(t, s.AdminToken(t), `mutation($in: CreateRuleInput!) { createRule(input: $in) { `+ruleFields+` } }`,
		map[string]any{"in": in}, &out)
	return out.CreateRule
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestRulesLifecycle(t *testing.T) {
	roles := ruleFixture(t, "tpl-as-roles-claim")
	counter := ruleFixture(t, "as-counter")
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		before := sapiCount(t, s)
		r1 := createRule(t, s, map[string]any{"name": "roles", "module": b64(roles),
			"secrets": map[string]any{"API_KEY": "s3cret-value", "OTHER": "x"}})
		if r1.Version != sha(roles) || r1.ModuleSize != len(roles) || !r1.Enabled || r1.Order != 0 ||
			!slices.Equal(r1.SecretsSet, []string{"API_KEY", "OTHER"}) || !strings.HasPrefix(r1.ID, "rul_") {
			t.Fatalf("created: %+v", r1)
		}
		r2 := createRule(t, s, map[string]any{"name": "counter", "module": b64(counter), "enabled": false})
		if r2.Order != 1 || r2.Enabled {
			t.Fatalf("second rule appended after the first and disabled: %+v", r2)
		}
		// Secrets are sealed at rest.
		stored := s.Deps.DB.Ent.Rule.Query().Where(rule.Name("roles")).OnlyX(systemCtx(t))
		if stored.SecretsSealed == nil || bytes.Contains(*stored.SecretsSealed, []byte("s3cret-value")) {
			t.Fatal("secrets stored in the clear")
		}
		// Duplicate names conflict.
		r := s.GraphQL(t, admin, `mutation($m: String!) { createRule(input: {name: "roles", module: $m}) { id } }`, map[string]any{"m": b64(roles)})
		expectError(t, r, "CONFLICT", "name")

		// List in order; reorder; the module never appears.
		var list struct {
			Rules struct {
				TotalCount int
				Edges      []struct{ Node gqlRule }
			}
		}
		s.MustGraphQL(t, admin, `{ rules { totalCount edges { node { `+ruleFields+` } } } }`, nil, &list)
		if list.Rules.TotalCount != 2 || list.Rules.Edges[0].Node.Name != "roles" || list.Rules.Edges[1].Node.Name != "counter" {
			t.Fatalf("rules: %+v", list)
		}
		var re struct{ ReorderRules []gqlRule }
		s.MustGraphQL(t, admin, `mutation($ids: [ID!]!) { reorderRules(ids: $ids) { id name order } }`,
			map[string]any{"ids": []string{r2.ID, r1.ID}}, &re)
		s.MustGraphQL(t, admin, `{ rules { totalCount edges { node { `+ruleFields+` } } } }`, nil, &list)
		if list.Rules.Edges[0].Node.ID != r2.ID || list.Rules.Edges[0].Node.Order != 1 || list.Rules.Edges[1].Node.Order != 2 {
			t.Fatalf("after reorder: %+v", list)
		}
		r = s.GraphQL(t, admin, `mutation($ids: [ID!]!) { reorderRules(ids: $ids) { id } }`, map[string]any{"ids": []string{r1.ID}})
		expectError(t, r, "BAD_USER_INPUT", "ids")

		// Update: a new module makes a new version; a null secret is removed.
		var up struct{ UpdateRule gqlRule }
		s.MustGraphQL(t, admin, `mutation($id: ID!, $in: UpdateRuleInput!) { updateRule(id: $id, input: $in) { `+ruleFields+` } }`,
			map[string]any{"id": r1.ID, "in": map[string]any{"module": b64(counter), "secrets": map[string]any{"OTHER": nil}, "enabled": false}}, &up)
		if up.UpdateRule.Version != sha(counter) || up.UpdateRule.Version == r1.Version || up.UpdateRule.Enabled ||
			!slices.Equal(up.UpdateRule.SecretsSet, []string{"API_KEY"}) {
			t.Fatalf("updated: %+v", up.UpdateRule)
		}
		var one struct{ Rule gqlRule }
		s.MustGraphQL(t, admin, `query($id: ID!) { rule(id: $id) { `+ruleFields+` } }`, map[string]any{"id": "roles"}, &one)
		if one.Rule.ID != r1.ID {
			t.Fatalf("rule by name: %+v", one)
		}
		var node struct{ Node struct{ Name string } }
		s.MustGraphQL(t, admin, `query($id: ID!) { node(id: $id) { ... on Rule { name } } }`, map[string]any{"id": r1.ID}, &node)
		if node.Node.Name != "roles" {
			t.Fatalf("node: %+v", node)
		}

		// Delete.
		var del struct{ DeleteRule string }
		s.MustGraphQL(t, admin, `mutation($id: ID!) { deleteRule(id: $id) }`, map[string]any{"id": r2.ID}, &del)
		if del.DeleteRule != r2.ID || count(t, s, "rules") != 1 {
			t.Fatalf("delete: %+v", del)
		}
		r = s.GraphQL(t, admin, `query($id: ID!) { rule(id: $id) { id } }`, map[string]any{"id": r2.ID})
		expectError(t, r, "NOT_FOUND", "")
		// create ×2, reorder, update, delete were audited.
		if n := sapiCount(t, s) - before; n != 5 {
			t.Fatalf("%d sapi events, want 5", n)
		}
	})
}

func TestRuleBadModule(t *testing.T) {
	badImport := ruleFixture(t, "as-badimport")
	s := apitest.Start(t, testenv.SQLite(t))
	admin := s.AdminToken(t)
	for name, module := range map[string]string{
		"not base64":  "%%%",
		"not wasm":    b64([]byte("hello, world")),
		"bad import":  b64(badImport),
		"empty":       "",
		"too large":   strings.Repeat("A", 11<<20),
		"bad secrets": "",
	} {
		t.Run(name, func(t *testing.T) {
			in := map[string]any{"name": "r", "module": module}
			field := "module"
			switch name {
			case "bad secrets":
				in["module"], in["secrets"], field = b64(badImport), map[string]any{"K": 1}, "secrets"
			}
			r := s.GraphQL(t, admin, `mutation($in: CreateRuleInput!) { createRule(input: $in) { id } }`, map[string]any{"in": in})
			e := expectError(t, r, "BAD_USER_INPUT", field)
			if name == "bad import" && !strings.Contains(e.Message, "import") {
				t.Fatalf("the reason is not given: %q", e.Message)
			}
		})
	}
	if n := count(t, s, "rules"); n != 0 {
		t.Fatalf("%d rules stored", n)
	}
}

func TestRuleScopes(t *testing.T) {
	roles := ruleFixture(t, "tpl-as-roles-claim")
	s := apitest.Start(t, testenv.SQLite(t))
	created := createRule(t, s, map[string]any{"name": "roles", "module": b64(roles)})
	noRules := scopedToken(t, s, everyScopeBut("read:rules", "create:rules", "update:rules", "delete:rules")...)
	for _, q := range []string{
		`{ rules { totalCount } }`,
		`{ rule(id: "roles") { id } }`,
		`mutation { deleteRule(id: "roles") }`,
		`mutation { updateRule(id: "roles", input: {enabled: false}) { id } }`,
		`mutation { reorderRules(ids: []) { id } }`,
		`mutation { testRule(id: "roles") { allowed } }`,
		`{ node(id: "` + created.ID + `") { id } }`,
	} {
		r := s.GraphQL(t, noRules, q, nil)
		if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" {
			t.Errorf("%s without rules scopes: %+v %s", q, r.Errors, r.Data)
		}
	}
	// Running a new module with a stored rule's secrets takes update:rules.
	readCreate := scopedToken(t, s, "read:rules", "create:rules")
	r := s.GraphQL(t, readCreate, `mutation($m: String) { testRule(id: "roles", module: $m) { allowed } }`, map[string]any{"m": b64(roles)})
	expectError(t, r, "FORBIDDEN", "")
	r = s.GraphQL(t, readCreate, `mutation($m: String) { testRule(module: $m) { allowed } }`, map[string]any{"m": b64(roles)})
	if len(r.Errors) > 0 {
		t.Fatalf("testRule with read+create: %+v", r.Errors)
	}
}

type ruleTestResult struct {
	Allowed           bool
	Deny              *string
	IDTokenClaims     map[string]any
	AccessTokenClaims map[string]any
	AppMetadata       map[string]any
	UserMetadata      map[string]any
	DroppedClaims     []string
	Logs              []string
	DurationMs        float64
	Error             *string
}

const testRuleQuery = `mutation($id: ID, $m: String, $u: ID, $c: String, $e: Map) {
	testRule(id: $id, module: $m, userId: $u, clientId: $c, event: $e) {
		allowed deny idTokenClaims accessTokenClaims appMetadata userMetadata droppedClaims logs durationMs error } }`

func TestTestRule(t *testing.T) {
	counter := ruleFixture(t, "as-counter")
	deny := ruleFixture(t, "tpl-as-deny-unverified")
	abort := ruleFixture(t, "as-abort")
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		u := createUser(t, s, map[string]any{"email": "ada@example.com", "emailVerified": true,
			"appMetadata": map[string]any{"counter": 41}, "userMetadata": map[string]any{"obsolete": true}})
		createRule(t, s, map[string]any{"name": "counter", "module": b64(counter), "secrets": map[string]any{"API_KEY": "k-123456"}})
		before := getUser(t, s, u.ID)

		// A stored rule on the real event of a user: commands, logs (secret
		// redacted), timing; nothing persisted.
		var out struct{ TestRule ruleTestResult }
		s.MustGraphQL(t, admin, testRuleQuery, map[string]any{"id": "counter", "u": u.UserID, "c": s.AdminID}, &out)
		res := out.TestRule
		if !res.Allowed || res.Error != nil || res.AppMetadata["counter"] != float64(42) ||
			res.IDTokenClaims["https://example.com/counter"] != float64(42) || res.IDTokenClaims["sub"] != nil ||
			!slices.Contains(res.DroppedClaims, "sub") || res.DurationMs <= 0 {
			t.Fatalf("testRule: %+v", res)
		}
		if _, ok := res.UserMetadata["obsolete"]; !ok || res.UserMetadata["obsolete"] != nil {
			t.Fatalf("deletion not reported as null: %+v", res.UserMetadata)
		}
		if len(res.Logs) != 1 || strings.Contains(res.Logs[0], "k-123456") || !strings.Contains(res.Logs[0], "counter=42") {
			t.Fatalf("logs: %q", res.Logs)
		}
		if after := getUser(t, s, u.ID); !sameJSON(after.AppMetadata, before.AppMetadata) || !sameJSON(after.UserMetadata, before.UserMetadata) {
			t.Fatalf("testRule persisted metadata: %+v", after)
		}

		// A module not uploaded, with an event override: the deny.
		s.MustGraphQL(t, admin, testRuleQuery, map[string]any{"m": b64(deny), "u": u.ID,
			"e": map[string]any{"user": map[string]any{"email_verified": false}}}, &out)
		if out.TestRule.Allowed || out.TestRule.Deny == nil || !strings.Contains(*out.TestRule.Deny, "verify") {
			t.Fatalf("deny: %+v", out.TestRule)
		}
		// A failing module reports rule_failed.
		s.MustGraphQL(t, admin, testRuleQuery, map[string]any{"m": b64(abort)}, &out)
		if out.TestRule.Allowed || out.TestRule.Error == nil || !strings.Contains(*out.TestRule.Error, "rule_failed") {
			t.Fatalf("failure: %+v", out.TestRule)
		}
		// Neither id nor module; an unknown user.
		expectError(t, s.GraphQL(t, admin, testRuleQuery, nil), "BAD_USER_INPUT", "id")
		expectError(t, s.GraphQL(t, admin, testRuleQuery, map[string]any{"id": "counter", "u": "auth0|nobody"}), "NOT_FOUND", "")
	})
}
