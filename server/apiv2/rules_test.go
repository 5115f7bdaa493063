package apiv2_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0"
	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/apitest"
)

// ruleFixture reads a wasm fixture built by `make rules-fixtures`: skipped
// locally when missing, a failure in CI.
func ruleFixture(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join("..", "..", "rules", "testdata", "build", name+".wasm")
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fixture %s missing (CI must run `make rules-fixtures` first): %v", p, err)
		}
		t.Skipf("fixture %s missing: run `make rules-fixtures` (%v)", p, err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// restRule is a rule as the API returns it.
type restRule struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Order      int       `json:"order"`
	Enabled    bool      `json:"enabled"`
	Stage      string    `json:"stage"`
	Version    string    `json:"version"`
	ModuleSize int       `json:"module_size"`
	SecretsSet []string  `json:"secrets_set"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func ruleCount(t testing.TB, s *apitest.Server) int {
	t.Helper()
	n, err := s.Deps.DB.Ent.Rule.Query().Count(authz.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRulesREST(t *testing.T) {
	roles := ruleFixture(t, "tpl-as-roles-claim")
	counter := ruleFixture(t, "as-counter")
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		admin := s.AdminToken(t)
		r := call(t, s, http.MethodPost, "/api/v2/rules", admin, map[string]any{"name": "roles", "module": b64(roles),
			"secrets": map[string]any{"API_KEY": "s3cret-value"}, "stage": "login_success"})
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), "s3cret-value") || strings.Contains(string(r.Body), b64(roles)[:40]) {
			t.Fatalf("the answer holds a secret or the module: %s", r.Body)
		}
		var r1 restRule
		r.decode(t, &r1)
		if !strings.HasPrefix(r1.ID, "rul_") || r1.Name != "roles" || r1.Order != 0 || !r1.Enabled || r1.Stage != "login_success" ||
			r1.Version != sha(roles) || r1.ModuleSize != len(roles) || !slices.Equal(r1.SecretsSet, []string{"API_KEY"}) ||
			r1.CreatedAt.IsZero() {
			t.Fatalf("created: %+v", r1)
		}
		r = call(t, s, http.MethodPost, "/api/v2/rules", admin, map[string]any{"name": "counter", "module": b64(counter), "enabled": false})
		var r2 restRule
		r.decode(t, &r2)
		if r.Status != http.StatusCreated || r2.Order != 1 || r2.Enabled {
			t.Fatalf("second rule: %d %s", r.Status, r.Body)
		}

		// go-auth0 lists (envelope, key rules), reads, updates, deletes.
		m := sdk(t, s, "", "", false)
		l, err := m.Rule.List(ctx)
		if err != nil || l.Total != 2 || l.Start != 0 || l.Limit != 50 || l.Length != 2 || len(l.Rules) != 2 ||
			l.Rules[0].GetName() != "roles" || l.Rules[1].GetName() != "counter" || l.HasNext() {
			t.Fatalf("SDK list: %+v %v", l, err)
		}
		l, err = m.Rule.List(ctx, management.Parameter("enabled", "false"))
		if err != nil || l.Total != 1 || l.Rules[0].GetID() != r2.ID {
			t.Fatalf("SDK list enabled=false: %+v %v", l, err)
		}
		l, err = m.Rule.List(ctx, management.PerPage(1), management.Page(1))
		if err != nil || l.Total != 2 || l.Start != 1 || l.Limit != 1 || len(l.Rules) != 1 || l.Rules[0].GetID() != r2.ID || l.HasNext() {
			t.Fatalf("SDK page 1: %+v %v", l, err)
		}
		got, err := m.Rule.Read(ctx, r1.ID)
		if err != nil || got.GetName() != "roles" || got.GetOrder() != 0 || !got.GetEnabled() || got.Script != nil {
			t.Fatalf("SDK read: %+v %v", got, err)
		}
		// Read → modify → update round trip (it sends the id back).
		got.Enabled = auth0.Bool(false)
		got.Order = auth0.Int(5)
		if err := m.Rule.Update(ctx, r1.ID, got); err != nil || got.GetEnabled() || got.GetOrder() != 5 {
			t.Fatalf("SDK update: %+v %v", got, err)
		}
		// By name, a bare array without include_totals, fields.
		r = call(t, s, http.MethodGet, "/api/v2/rules?fields=id,name&include_fields=true", admin, nil)
		if r.Status != http.StatusOK || string(r.Body) != `[{"id":"`+r2.ID+`","name":"counter"},{"id":"`+r1.ID+`","name":"roles"}]`+"\n" {
			t.Fatalf("bare list with fields: %d %s", r.Status, r.Body)
		}
		r = call(t, s, http.MethodGet, "/api/v2/rules?fields=secrets_set,created_at,updated_at,version,module_size&include_fields=false&include_totals=true&enabled=true", admin, nil)
		if r.Status != http.StatusOK || string(r.Body) != `{"length":0,"limit":50,"rules":[],"start":0,"total":0}`+"\n" {
			t.Fatalf("envelope, enabled=true: %d %s", r.Status, r.Body)
		}
		r = call(t, s, http.MethodGet, "/api/v2/rules/roles?fields=order,enabled,stage", admin, nil)
		if r.Status != http.StatusOK || string(r.Body) != `{"enabled":false,"order":5,"stage":"login_success"}`+"\n" {
			t.Fatalf("read by name with fields: %d %s", r.Status, r.Body)
		}
		// A new module makes a new version; secrets change key by key.
		r = call(t, s, http.MethodPatch, "/api/v2/rules/roles", admin, map[string]any{"module": b64(counter), "name": "roles2",
			"secrets": map[string]any{"API_KEY": nil, "OTHER": "x"}})
		var up restRule
		r.decode(t, &up)
		if r.Status != http.StatusOK || up.Version != sha(counter) || up.Name != "roles2" || !slices.Equal(up.SecretsSet, []string{"OTHER"}) {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		if err := m.Rule.Delete(ctx, r2.ID); err != nil {
			t.Fatalf("SDK delete: %v", err)
		}
		r = call(t, s, http.MethodDelete, "/api/v2/rules/roles2", admin, nil)
		if r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("delete by name: %d %q", r.Status, r.Body)
		}
		if n := ruleCount(t, s); n != 0 {
			t.Fatalf("%d rules left", n)
		}
		var merr management.Error
		if _, err := m.Rule.Read(ctx, r1.ID); !errors.As(err, &merr) || merr.Status() != http.StatusNotFound {
			t.Fatalf("read deleted: %v", err)
		}
		// Every write was audited under the GraphQL mutation's name.
		if got := audits(t, s); !slices.Equal(got, []string{"createRule", "createRule", "updateRule", "updateRule", "deleteRule", "deleteRule"}) {
			t.Fatalf("audit operations %v", got)
		}
	})
}

func TestRulesRESTErrors(t *testing.T) {
	roles := ruleFixture(t, "tpl-as-roles-claim")
	badImport := ruleFixture(t, "as-badimport")
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		r := call(t, s, http.MethodPost, "/api/v2/rules", admin, map[string]any{"name": "roles", "module": b64(roles)})
		var existing restRule
		r.decode(t, &existing)
		before := audits(t, s)
		stored := func() string {
			r := call(t, s, http.MethodGet, "/api/v2/rules/"+existing.ID, admin, nil)
			return string(r.Body)
		}
		snapshot := stored()
		for name, c := range map[string]struct {
			method, path string
			body         any
			status       int
			code, msg    string
		}{
			"script syntax":    {"POST", "/rules", map[string]any{"name": "js", "script": "function (user, context, cb) {\n  let x = ;\n}"}, 400, "invalid_body", "script: line 2, column "},
			"script shape":     {"POST", "/rules", map[string]any{"name": "js", "script": "const x = require('request');\nexports.onExecutePostLogin = async () => {};"}, 400, "invalid_body", "script: line 1, column 11: require('request') is not available"},
			"script in patch":  {"PATCH", "/rules/roles", map[string]any{"script": "function (user) {"}, 400, "invalid_body", "script: line 1"},
			"script, module":   {"POST", "/rules", map[string]any{"name": "x", "module": b64(roles), "script": jsRule}, 400, "invalid_body", "either"},
			"empty script":     {"POST", "/rules", map[string]any{"name": "x", "script": ""}, 400, "invalid_body", "script"},
			"null script":      {"PATCH", "/rules/roles", `{"script":null}`, 400, "invalid_body", "script"},
			"stage":            {"POST", "/rules", map[string]any{"name": "x", "module": b64(roles), "stage": "pre_authorize"}, 400, "invalid_body", "login_success"},
			"unknown property": {"POST", "/rules", map[string]any{"name": "x", "module": b64(roles), "timeout": 5}, 400, "invalid_body", "timeout"},
			"wrong type":       {"POST", "/rules", map[string]any{"name": "x", "module": b64(roles), "order": "1"}, 400, "invalid_body", "order"},
			"not JSON":         {"POST", "/rules", "{", 400, "invalid_body", "JSON"},
			"trailing data":    {"POST", "/rules", `{"name":"x","module":"` + b64(roles) + `"} {}`, 400, "invalid_body", "JSON"},
			"not base64":       {"POST", "/rules", map[string]any{"name": "x", "module": "%%%"}, 400, "invalid_body", "module"},
			"not wasm":         {"POST", "/rules", map[string]any{"name": "x", "module": b64([]byte("hello"))}, 400, "invalid_body", "module"},
			"bad import":       {"POST", "/rules", map[string]any{"name": "x", "module": b64(badImport)}, 400, "invalid_body", "import"},
			"no module":        {"POST", "/rules", map[string]any{"name": "x"}, 400, "invalid_body", "module"},
			"no name":          {"POST", "/rules", map[string]any{"module": b64(roles)}, 400, "invalid_body", "name"},
			"secret type":      {"POST", "/rules", map[string]any{"name": "x", "module": b64(roles), "secrets": map[string]any{"K": 1}}, 400, "invalid_body", "secrets"},
			"duplicate":        {"POST", "/rules", map[string]any{"name": "roles", "module": b64(roles)}, 409, "conflict", "same name"},
			"rename duplicate": {"PATCH", "/rules/" + existing.ID, map[string]any{"name": "roles"}, 200, "", ""},
			"null name":        {"PATCH", "/rules/roles", `{"name":null}`, 400, "invalid_body", "name"},
			"null enabled":     {"PATCH", "/rules/roles", `{"enabled":null}`, 400, "invalid_body", "enabled"},
			"other id":         {"PATCH", "/rules/roles", map[string]any{"id": "rul_other", "enabled": false}, 400, "invalid_body", "id"},
			"patch unknown":    {"PATCH", "/rules/rul_nope", map[string]any{"enabled": false}, 404, "inexistent_rule", "The rule does not exist."},
			"get unknown":      {"GET", "/rules/nope", nil, 404, "inexistent_rule", "The rule does not exist."},
			"delete unknown":   {"DELETE", "/rules/nope", nil, 404, "inexistent_rule", "The rule does not exist."},
			"bad page":         {"GET", "/rules?page=-1", nil, 400, "invalid_query_string", "page"},
			"bad per_page":     {"GET", "/rules?per_page=101", nil, 400, "invalid_query_string", "per_page"},
			"bad enabled":      {"GET", "/rules?enabled=yes", nil, 400, "invalid_query_string", "enabled"},
			"bad include":      {"GET", "/rules/roles?include_fields=maybe", nil, 400, "invalid_query_string", "include_fields"},
		} {
			t.Run(name, func(t *testing.T) {
				r := call(t, s, c.method, "/api/v2"+c.path, admin, c.body)
				if c.status == http.StatusOK { // renaming a rule to its own name changes nothing
					if r.Status != http.StatusOK {
						t.Fatalf("%d %s", r.Status, r.Body)
					}
					return
				}
				e := r.expectError(t, c.status, c.code)
				if !strings.Contains(e.Message, c.msg) {
					t.Errorf("message %q lacks %q", e.Message, c.msg)
				}
			})
		}
		if n := ruleCount(t, s); n != 1 {
			t.Errorf("%d rules", n)
		}
		after := stored()
		var a, b map[string]any
		_ = json.Unmarshal([]byte(snapshot), &a)
		_ = json.Unmarshal([]byte(after), &b)
		delete(a, "updated_at")
		delete(b, "updated_at")
		if !reflect.DeepEqual(a, b) {
			t.Errorf("the rule changed: %s → %s", snapshot, after)
		}
		if got := audits(t, s); len(got) != len(before)+1 { // the rename to its own name
			t.Errorf("audit entries %v after %v", got, before)
		}
	})
}

// jsRule is a legacy Auth0 Rule as go-auth0 and node-auth0 upload it.
const jsRule = `function addRoles(user, context, callback) {
  const namespace = 'https://example.com/';
  context.idToken[namespace + 'roles'] = (user.app_metadata || {}).roles || [];
  callback(null, user, context);
}`

// TestRulesRESTJavaScript: Auth0's script is a JavaScript rule, created
// with exactly the body the SDKs send, returned as Auth0 returns it, and
// switched to and from a module by PATCH.
func TestRulesRESTJavaScript(t *testing.T) {
	roles := ruleFixture(t, "tpl-as-roles-claim")
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		admin := s.AdminToken(t)
		// go-auth0's Rule.Create and node-auth0's rules.create send
		// {name, script, order, enabled}.
		r := call(t, s, http.MethodPost, "/api/v2/rules", admin, `{"name":"add-roles","script":`+jsonString(jsRule)+`,"order":2,"enabled":true}`)
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		var created map[string]any
		r.decode(t, &created)
		if created["script"] != jsRule || created["name"] != "add-roles" || created["order"] != float64(2) || created["enabled"] != true ||
			created["stage"] != "login_success" || created["language"] != "javascript" || created["version"] != sha([]byte(jsRule)) ||
			created["module_size"] != float64(len(jsRule)) {
			t.Fatalf("created: %s", r.Body)
		}
		id := created["id"].(string)

		m := sdk(t, s, "", "", false)
		got, err := m.Rule.Read(ctx, id)
		if err != nil || got.GetScript() != jsRule || got.GetName() != "add-roles" || got.GetOrder() != 2 || !got.GetEnabled() {
			t.Fatalf("SDK read: %+v %v", got, err)
		}
		// The SDK creates one the same way, and lists the script.
		sdkRule := &management.Rule{Name: auth0.String("sdk-rule"), Script: auth0.String(jsRule), Order: auth0.Int(3), Enabled: auth0.Bool(false)}
		if err := m.Rule.Create(ctx, sdkRule); err != nil || !strings.HasPrefix(sdkRule.GetID(), "rul_") || sdkRule.GetScript() != jsRule {
			t.Fatalf("SDK create: %+v %v", sdkRule, err)
		}
		l, err := m.Rule.List(ctx)
		if err != nil || len(l.Rules) != 2 || l.Rules[0].GetScript() != jsRule || l.Rules[1].GetID() != sdkRule.GetID() {
			t.Fatalf("SDK list: %+v %v", l, err)
		}
		// The SDK's read-modify-update round trip sends the script back:
		// the same source, the same version.
		got.Enabled = auth0.Bool(false)
		if err := m.Rule.Update(ctx, id, got); err != nil || got.GetEnabled() || got.GetScript() != jsRule {
			t.Fatalf("SDK update: %+v %v", got, err)
		}

		// PATCH: a new script is a new version; a module makes it a
		// WebAssembly rule (no script), a script a JavaScript one again.
		next := strings.Replace(jsRule, "roles", "groups", 1)
		var up map[string]any
		r = call(t, s, http.MethodPatch, "/api/v2/rules/add-roles", admin, map[string]any{"script": next})
		r.decode(t, &up)
		if r.Status != http.StatusOK || up["script"] != next || up["version"] != sha([]byte(next)) {
			t.Fatalf("patch script: %d %s", r.Status, r.Body)
		}
		up = nil
		r = call(t, s, http.MethodPatch, "/api/v2/rules/add-roles", admin, map[string]any{"module": b64(roles)})
		r.decode(t, &up)
		if _, has := up["script"]; r.Status != http.StatusOK || has || up["language"] != "wasm" || up["version"] != sha(roles) {
			t.Fatalf("patch module: %d %s", r.Status, r.Body)
		}
		if got, err := m.Rule.Read(ctx, id); err != nil || got.Script != nil {
			t.Fatalf("SDK read of the WebAssembly rule: %+v %v", got, err)
		}
		up = nil
		r = call(t, s, http.MethodPatch, "/api/v2/rules/"+id, admin, map[string]any{"script": jsRule})
		r.decode(t, &up)
		if r.Status != http.StatusOK || up["script"] != jsRule || up["language"] != "javascript" || up["version"] != sha([]byte(jsRule)) {
			t.Fatalf("patch back to a script: %d %s", r.Status, r.Body)
		}
		r = call(t, s, http.MethodGet, "/api/v2/rules/"+id+"?fields=script&include_fields=true", admin, nil)
		if r.Status != http.StatusOK || string(r.Body) != `{"script":`+jsonString(jsRule)+`}`+"\n" {
			t.Fatalf("fields=script: %d %s", r.Status, r.Body)
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
