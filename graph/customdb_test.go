package graph_test

// testConnectionScript against a real legacy PostgreSQL database (separate
// from Authgraph's own, made by internal/testenv through customdbtest) with
// the PostgreSQL template: results, typed errors, logs and timing, and no
// side effect on Authgraph's store even with import mode on.

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/internal/apitest"
)

const testScriptQuery = `mutation($c: String!, $s: CustomDBScript!, $a: Map!) {
	testConnectionScript(connection: $c, script: $s, args: $a) { result resultJson error { code message } logs durationMs } }`

type scriptResult struct {
	Result     map[string]any
	ResultJSON string `json:"resultJson"`
	Error      *struct{ Code, Message string }
	Logs       []string
	DurationMs float64
}

func testScript(t *testing.T, s *apitest.Server, tok, conn, script string, args map[string]any) scriptResult {
	t.Helper()
	var out struct{ TestConnectionScript scriptResult }
	s.MustGraphQL(t, tok, testScriptQuery, map[string]any{"c": conn, "s": script, "a": args}, &out)
	return out.TestConnectionScript
}

func TestTestConnectionScript(t *testing.T) {
	legacy := customdbtest.Postgres(t)
	module := base64.StdEncoding.EncodeToString(customdbtest.Templates(t)["postgres"])
	ada := customdbtest.Seed[0]
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		// Import mode on: a real login would create and migrate the user.
		// (Two Go modules per request: seven would exceed the body limit.)
		var created struct{ CreateConnection struct{ ID string } }
		s.MustGraphQL(t, admin, `mutation($o: Map) { createConnection(input: {name: "legacy", strategy: "customdb", options: $o}) { id } }`,
			map[string]any{"o": map[string]any{"dsn": legacy.DSN, "import_mode": true,
				"scripts": map[string]any{"login": module, "get_user": module}}}, &created)
		users, events := count(t, s, "users"), count(t, s, "logs")

		t.Run("login", func(t *testing.T) {
			r := testScript(t, s, admin, "legacy", "LOGIN", map[string]any{"username": ada.Email, "password": ada.Password})
			if r.Error != nil || r.Result["user_id"] != "pg|1" || r.Result["email"] != ada.Email || r.DurationMs <= 0 || r.Logs == nil {
				t.Fatalf("login: %+v", r)
			}
			var raw map[string]any
			if err := json.Unmarshal([]byte(r.ResultJSON), &raw); err != nil || !sameJSON(raw, r.Result) {
				t.Fatalf("resultJson %q does not match result %v", r.ResultJSON, r.Result)
			}
		})
		t.Run("wrong password and unknown user are typed errors", func(t *testing.T) {
			for _, args := range []map[string]any{
				{"username": ada.Email, "password": "not-the-password"},
				{"username": "nobody@legacy.example", "password": "whatever"},
				// Parameterized SQL: an injection attempt is just an unknown user.
				{"username": "' OR 1=1 --", "password": "x"},
			} {
				r := testScript(t, s, admin, "legacy", "LOGIN", args)
				if r.Error == nil || r.Error.Code != "wrong_credentials" || r.Result != nil || r.ResultJSON != "null" {
					t.Fatalf("login %v: %+v", args, r)
				}
			}
		})
		t.Run("get_user", func(t *testing.T) {
			if r := testScript(t, s, admin, "legacy", "GET_USER", map[string]any{"email": "ALAN@legacy.example"}); r.Error != nil || r.Result["user_id"] != "pg|2" {
				t.Fatalf("known user: %+v", r)
			}
			if r := testScript(t, s, admin, "legacy", "GET_USER", map[string]any{"email": "nobody@legacy.example"}); r.Error != nil || r.Result != nil || r.ResultJSON != "null" {
				t.Fatalf("unknown user: %+v", r)
			}
		})
		t.Run("caller errors", func(t *testing.T) {
			for _, c := range []struct {
				name, conn, script, code, field string
				tok                             string
			}{
				{"no script", "legacy", "CREATE", "BAD_USER_INPUT", "script", admin},
				{"unknown connection", "nope", "LOGIN", "NOT_FOUND", "", admin},
				{"not customdb", defaultConn, "LOGIN", "BAD_USER_INPUT", "connection", admin},
				{"read scope only", "legacy", "LOGIN", "FORBIDDEN", "", scopedToken(t, s, "read:connections")},
			} {
				r := s.GraphQL(t, c.tok, testScriptQuery, map[string]any{"c": c.conn, "s": c.script, "a": map[string]any{"username": ada.Email, "password": ada.Password}})
				expectError(t, r, c.code, c.field)
			}
			if r := testScript(t, s, scopedToken(t, s, "update:connections"), "legacy", "GET_USER", map[string]any{"email": ada.Email}); r.Result["user_id"] != "pg|1" {
				t.Fatalf("update:connections alone: %+v", r)
			}
		})
		t.Run("writing scripts", func(t *testing.T) {
			s.MustGraphQL(t, admin, `mutation($id: ID!, $o: Map) { updateConnection(id: $id, input: {options: $o}) { id } }`,
				map[string]any{"id": created.CreateConnection.ID, "o": map[string]any{"scripts": map[string]any{"create": module, "change_password": module}}}, nil)
			before := legacy.Count(t)
			email := "new-" + strings.Split(t.Name(), "/")[1] + "@legacy.example" // one per backend
			user := map[string]any{"user": map[string]any{"email": email, "password": "Difference-Engine-1822"}}
			if r := testScript(t, s, admin, "legacy", "CREATE", user); r.Error != nil || r.ResultJSON != "null" {
				t.Fatalf("create: %+v", r)
			}
			if got := legacy.Count(t); got != before+1 {
				t.Fatalf("legacy users: %d, want %d", got, before+1)
			}
			if r := testScript(t, s, admin, "legacy", "CREATE", user); r.Error == nil || r.Error.Code != "user_exists" {
				t.Fatalf("create duplicate: %+v", r)
			}
			r := testScript(t, s, admin, "legacy", "CHANGE_PASSWORD", map[string]any{"email": email, "new_password": "Other-1822"})
			if r.Error != nil || r.ResultJSON != "true" || r.Result != nil {
				t.Fatalf("change_password: %+v", r)
			}
			if r := testScript(t, s, admin, "legacy", "CHANGE_PASSWORD", map[string]any{"email": "nobody@legacy.example", "new_password": "x"}); r.ResultJSON != "false" {
				t.Fatalf("change_password of nobody: %+v", r)
			}
		})
		// Only the connection changed in Authgraph's store: no user was
		// created or migrated, no log event written (updateConnection's sapi
		// event aside).
		if got := count(t, s, "users"); got != users {
			t.Fatalf("users: %d, want %d", got, users)
		}
		if got := count(t, s, "logs"); got != events+1 {
			t.Fatalf("log events: %d, want %d (the updateConnection sapi event only)", got, events+1)
		}
	})
}

// TestCustomDBScriptsValidatedOnWrite: createConnection and updateConnection
// run the engine's script validation on every module of options.scripts,
// naming the key and the reason, and store nothing on failure.
func TestCustomDBScriptsValidatedOnWrite(t *testing.T) {
	module := base64.StdEncoding.EncodeToString(customdbtest.Templates(t)["postgres"])
	empty := base64.StdEncoding.EncodeToString([]byte("\x00asm\x01\x00\x00\x00")) // valid wasm, no exports
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		const create = `mutation($n: String!, $o: Map) { createConnection(input: {name: $n, strategy: "customdb", options: $o}) { id secretsSet } }`
		before := count(t, s, "connections")
		for _, c := range []struct {
			name    string
			scripts map[string]any
			field   string
			message string
		}{
			{"not base64", map[string]any{"login": "%%%"}, "scripts.login", "is not base64"},
			{"not a string", map[string]any{"login": 1}, "scripts.login", "must be a wasm module"},
			{"unknown script", map[string]any{"logn": module}, "scripts.logn", "is not a script"},
			{"no on_script export", map[string]any{"login": module, "get_user": empty}, "scripts.get_user", "is not a valid script"},
		} {
			r := s.GraphQL(t, admin, create, map[string]any{"n": "bad", "o": map[string]any{"scripts": c.scripts}})
			e := expectError(t, r, "BAD_USER_INPUT", c.field)
			if !strings.Contains(e.Message, c.message) {
				t.Fatalf("%s: message %q, want it to contain %q", c.name, e.Message, c.message)
			}
		}
		if got := count(t, s, "connections"); got != before {
			t.Fatalf("connections: %d, want %d (nothing stored)", got, before)
		}

		var out struct {
			CreateConnection struct {
				ID         string
				SecretsSet []string
			}
		}
		s.MustGraphQL(t, admin, create, map[string]any{"n": "legacy", "o": map[string]any{"scripts": map[string]any{"login": module}}}, &out)
		id := out.CreateConnection.ID
		r := s.GraphQL(t, admin, `mutation($id: ID!, $o: Map) { updateConnection(id: $id, input: {options: $o}) { id } }`,
			map[string]any{"id": id, "o": map[string]any{"scripts": map[string]any{"login": empty}}})
		expectError(t, r, "BAD_USER_INPUT", "scripts.login")
		// The stored login script is untouched: it still runs (and, without
		// a dsn, reports that it has no database as a script failure).
		res := testScript(t, s, admin, "legacy", "LOGIN", map[string]any{"username": "a@b.example", "password": "x"})
		if res.Error == nil || res.Error.Code != "system" || len(res.Logs) == 0 || !strings.Contains(res.Logs[0], "no database") {
			t.Fatalf("stored script after a refused update: %+v (error %+v)", res, res.Error)
		}

		// Scripts merge key by key: adding get_user keeps login; null removes.
		s.MustGraphQL(t, admin, `mutation($id: ID!, $o: Map) { updateConnection(id: $id, input: {options: $o}) { id } }`,
			map[string]any{"id": id, "o": map[string]any{"scripts": map[string]any{"get_user": module}}}, nil)
		for _, op := range []string{"LOGIN", "GET_USER"} {
			if res := testScript(t, s, admin, "legacy", op, map[string]any{"username": "a@b.example", "password": "x", "email": "a@b.example"}); res.Error == nil || res.Error.Code != "system" {
				t.Fatalf("%s after adding get_user: %+v", op, res)
			}
		}
		s.MustGraphQL(t, admin, `mutation($id: ID!, $o: Map) { updateConnection(id: $id, input: {options: $o}) { id } }`,
			map[string]any{"id": id, "o": map[string]any{"scripts": map[string]any{"login": nil}}}, nil)
		r = s.GraphQL(t, admin, `mutation { testConnectionScript(connection: "legacy", script: LOGIN, args: {}) { durationMs } }`, nil)
		expectError(t, r, "BAD_USER_INPUT", "script")
		if res := testScript(t, s, admin, "legacy", "GET_USER", map[string]any{"email": "a@b.example"}); res.Error == nil || res.Error.Code != "system" {
			t.Fatalf("get_user after removing login: %+v", res)
		}
	})
}
