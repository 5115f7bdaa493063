package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/rules/jstemplates"
)

const jsRuleFields = `id name version moduleSize language javascript`

type gqlJSRule struct {
	ID, Name, Version, Language string
	ModuleSize                  int
	Javascript                  *string
}

// rolesAction sets a claim from the user's app_metadata, and logs.
const rolesAction = `exports.onExecutePostLogin = async (event, api) => {
  console.log("roles for " + event.user.email);
  api.idToken.setCustomClaim("https://example.com/roles", event.user.app_metadata.roles || []);
};
`

// denyRule is a legacy Rule refusing unverified emails.
const denyRule = `function (user, context, callback) {
  if (!user.email_verified) {
    return callback(new UnauthorizedError("verify your email first"));
  }
  callback(null, user, context);
}
`

func TestJavaScriptRuleLifecycle(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		var created struct{ CreateRule gqlJSRule }
		s.MustGraphQL(t, admin, `mutation($in: CreateRuleInput!) { createRule(input: $in) { `+jsRuleFields+` } }`,
			map[string]any{"in": map[string]any{"name": "roles", "javascript": rolesAction}}, &created)
		r := created.CreateRule
		if r.Language != "JAVASCRIPT" || r.Javascript == nil || *r.Javascript != rolesAction ||
			r.Version != sha([]byte(rolesAction)) || r.ModuleSize != len(rolesAction) {
			t.Fatalf("created: %+v", r)
		}

		// Read back as uploaded, by id and in the list.
		var one struct{ Rule gqlJSRule }
		s.MustGraphQL(t, admin, `query($id: ID!) { rule(id: $id) { `+jsRuleFields+` } }`, map[string]any{"id": r.ID}, &one)
		if one.Rule.ID != r.ID || one.Rule.Version != r.Version || one.Rule.Javascript == nil || *one.Rule.Javascript != rolesAction {
			t.Fatalf("read back: %+v", one.Rule)
		}

		// New source: a new version; the same source again changes nothing.
		var up struct{ UpdateRule gqlJSRule }
		update := `mutation($id: ID!, $in: UpdateRuleInput!) { updateRule(id: $id, input: $in) { ` + jsRuleFields + ` } }`
		s.MustGraphQL(t, admin, update, map[string]any{"id": r.ID, "in": map[string]any{"javascript": denyRule}}, &up)
		if up.UpdateRule.Version != sha([]byte(denyRule)) || up.UpdateRule.Javascript == nil || *up.UpdateRule.Javascript != denyRule {
			t.Fatalf("updated: %+v", up.UpdateRule)
		}

		// Switching to a module and back: each a new version.
		if roles := ruleFixture(t, "tpl-as-roles-claim"); roles != nil {
			s.MustGraphQL(t, admin, update, map[string]any{"id": r.ID, "in": map[string]any{"module": b64(roles)}}, &up)
			if up.UpdateRule.Language != "WASM" || up.UpdateRule.Javascript != nil || up.UpdateRule.Version != sha(roles) ||
				up.UpdateRule.ModuleSize != len(roles) {
				t.Fatalf("to wasm: %+v", up.UpdateRule)
			}
			s.MustGraphQL(t, admin, update, map[string]any{"id": r.ID, "in": map[string]any{"javascript": rolesAction}}, &up)
			if up.UpdateRule.Language != "JAVASCRIPT" || up.UpdateRule.Version != r.Version || *up.UpdateRule.Javascript != rolesAction {
				t.Fatalf("back to JavaScript: %+v", up.UpdateRule)
			}
		}

		// testRule on the stored rule and on source not uploaded.
		u := createUser(t, s, map[string]any{"email": "ada@example.com", "emailVerified": false,
			"appMetadata": map[string]any{"roles": []any{"admin"}}})
		var out struct{ TestRule ruleTestResult }
		q := `mutation($id: ID, $js: String, $u: ID) { testRule(id: $id, javascript: $js, userId: $u) {
			allowed deny idTokenClaims logs error } }`
		s.MustGraphQL(t, admin, q, map[string]any{"id": r.ID, "u": u.ID}, &out)
		if !out.TestRule.Allowed || out.TestRule.Error != nil || !sameJSON(out.TestRule.IDTokenClaims["https://example.com/roles"], []any{"admin"}) ||
			len(out.TestRule.Logs) != 1 || !strings.Contains(out.TestRule.Logs[0], "roles for ada@example.com") {
			t.Fatalf("testRule of the stored rule: %+v", out.TestRule)
		}
		s.MustGraphQL(t, admin, q, map[string]any{"js": denyRule, "u": u.ID}, &out)
		if out.TestRule.Allowed || out.TestRule.Deny == nil || *out.TestRule.Deny != "verify your email first" {
			t.Fatalf("testRule of a legacy Rule not uploaded: %+v", out.TestRule)
		}
		if n := count(t, s, "rules"); n != 1 {
			t.Fatalf("%d rules after testRule", n)
		}
	})
}

func TestJavaScriptRuleRefused(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	admin := s.AdminToken(t)
	create := `mutation($in: CreateRuleInput!) { createRule(input: $in) { id } }`

	// A syntax error: its place in the source, the engine's message.
	src := "exports.onExecutePostLogin = async (event, api) => {\n  let claim = ;\n};\n"
	e := expectError(t, s.GraphQL(t, admin, create, map[string]any{"in": map[string]any{"name": "bad", "javascript": src}}),
		"BAD_USER_INPUT", "javascript")
	col, _ := e.Extensions["column"].(float64)
	if e.Extensions["line"] != float64(2) || col != 15 || !strings.Contains(e.Message, fmt.Sprintf("javascript: line 2, column %d: ", int(col))) {
		t.Fatalf("syntax error: %+v", e)
	}
	if !strings.HasPrefix(e.Message, "javascript: line 2, column 15: ") {
		t.Errorf("message %q: want the error itself, without gqlgen's position and path", e.Message)
	}
	// A require() of a module that is not available, located too.
	e = expectError(t, s.GraphQL(t, admin, create, map[string]any{"in": map[string]any{"name": "bad",
		"javascript": "const fs = require('fs');\nexports.onExecutePostLogin = async () => {};\n"}}), "BAD_USER_INPUT", "javascript")
	if e.Extensions["line"] != float64(1) || !strings.Contains(e.Message, "fs") {
		t.Fatalf("require of fs: %+v", e)
	}
	for name, in := range map[string]map[string]any{
		"both":          {"name": "x", "javascript": rolesAction, "module": "AGFzbQEAAAA="},
		"empty":         {"name": "x", "javascript": ""},
		"not an action": {"name": "x", "javascript": "const x = 1;\n"},
		"too large":     {"name": "x", "javascript": "// " + strings.Repeat("x", 1<<20) + "\nexports.onExecutePostLogin = async () => {};"},
	} {
		t.Run(name, func(t *testing.T) {
			expectError(t, s.GraphQL(t, admin, create, map[string]any{"in": in}), "BAD_USER_INPUT", "javascript")
		})
	}
	expectError(t, s.GraphQL(t, admin, create, map[string]any{"in": map[string]any{"name": "x"}}), "BAD_USER_INPUT", "module")
	// testRule refuses the same way, and update keeps the stored rule.
	expectError(t, s.GraphQL(t, admin, `mutation($js: String) { testRule(javascript: $js) { allowed } }`, map[string]any{"js": src}),
		"BAD_USER_INPUT", "javascript")
	if n := count(t, s, "rules"); n != 0 {
		t.Fatalf("%d rules stored", n)
	}
	var ok struct{ CreateRule struct{ ID string } }
	s.MustGraphQL(t, admin, create, map[string]any{"in": map[string]any{"name": "ok", "javascript": rolesAction}}, &ok)
	expectError(t, s.GraphQL(t, admin, `mutation($id: ID!, $js: String) { updateRule(id: $id, input: {javascript: $js}) { id } }`,
		map[string]any{"id": ok.CreateRule.ID, "js": src}), "BAD_USER_INPUT", "javascript")
	var one struct{ Rule gqlJSRule }
	s.MustGraphQL(t, admin, `query($id: ID!) { rule(id: $id) { `+jsRuleFields+` } }`, map[string]any{"id": ok.CreateRule.ID}, &one)
	if one.Rule.Javascript == nil || *one.Rule.Javascript != rolesAction || one.Rule.Version != sha([]byte(rolesAction)) {
		t.Fatalf("a refused update changed the rule: %+v", one.Rule)
	}
}

func TestJavaScriptRuleScopes(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	admin := s.AdminToken(t)
	s.MustGraphQL(t, admin, `mutation($js: String) { createRule(input: {name: "roles", javascript: $js}) { id } }`,
		map[string]any{"js": rolesAction}, nil)

	// Templates: Auth0's examples, as rules/jstemplates has them; read:rules.
	var tpl struct {
		RuleTemplates []struct{ ID, Name, Description, Kind, Javascript string }
	}
	s.MustGraphQL(t, scopedToken(t, s, "read:rules"), `{ ruleTemplates { id name description kind javascript } }`, nil, &tpl)
	all := jstemplates.All()
	if len(all) == 0 || len(tpl.RuleTemplates) != len(all) {
		t.Fatalf("%d templates, want %d", len(tpl.RuleTemplates), len(all))
	}
	for i, got := range tpl.RuleTemplates {
		if w := all[i]; got.ID != w.ID || got.Name != w.Name || got.Description != w.Description || got.Kind != w.Kind || got.Javascript != w.Source {
			t.Fatalf("template %d: %+v, want %+v", i, got, w)
		}
	}
	noRules := scopedToken(t, s, everyScopeBut("read:rules", "create:rules", "update:rules", "delete:rules")...)
	expectError(t, s.GraphQL(t, noRules, `{ ruleTemplates { id } }`, nil), "FORBIDDEN", "")

	// Running source not uploaded takes create:rules, as a module does;
	// with a stored rule's secrets, update:rules too.
	read := scopedToken(t, s, "read:rules")
	q := `mutation($id: ID, $js: String) { testRule(id: $id, javascript: $js) { allowed } }`
	expectError(t, s.GraphQL(t, read, q, map[string]any{"js": rolesAction}), "FORBIDDEN", "")
	readCreate := scopedToken(t, s, "read:rules", "create:rules")
	expectError(t, s.GraphQL(t, readCreate, q, map[string]any{"id": "roles", "js": rolesAction}), "FORBIDDEN", "")
	if r := s.GraphQL(t, readCreate, q, map[string]any{"js": rolesAction}); len(r.Errors) > 0 {
		t.Fatalf("testRule with read+create: %+v", r.Errors)
	}
	// The source is read with read:rules, like the rule.
	var one struct{ Rule struct{ Javascript string } }
	s.MustGraphQL(t, read, `{ rule(id: "roles") { javascript } }`, nil, &one)
	if one.Rule.Javascript != rolesAction {
		t.Fatalf("javascript with read:rules: %q", one.Rule.Javascript)
	}
}
