package rules

// Custom-database scripts (docs/CUSTOM_DATABASE.md, rules-sdk/ABI.md "Custom-database
// scripts"): modules run by the same engine, pools and limits as rules, but
// entered through on_script and allowed the idp database and password host
// functions (scripthost.go). The connection's database is reached through a
// ScriptDB the caller passes per call; the engine never opens one itself.

import (
	"context"
	"encoding/json"

	"github.com/tetratelabs/wazero/api"
)

// exportScript is the entry point of a custom-database script.
const exportScript = "on_script"

// scriptImports are the idp host functions offered to scripts only, on top
// of ruleImports.
var scriptImports = map[string]bool{
	"db_query": true, "db_exec": true, "host_result": true,
	"bcrypt_verify": true, "bcrypt_hash": true, "pbkdf2_verify": true, "argon2_verify": true,
}

func entryExport(script bool) string {
	if script {
		return exportScript
	}
	return exportPostLogin
}

// exportsFor is requiredExports with the script entry point for scripts.
func exportsFor(script bool) []struct {
	name            string
	params, results []api.ValueType
} {
	out := make([]struct {
		name            string
		params, results []api.ValueType
	}, len(requiredExports))
	for i, r := range requiredExports {
		out[i].name, out[i].params, out[i].results = r.name, r.params, r.results
		if script && r.name == exportPostLogin {
			out[i].name = exportScript
		}
	}
	return out
}

// ScriptDB is a custom-database connection's legacy database, as the host
// functions db_query and db_exec reach it. Implementations enforce the
// statement timeout (server side) and the row and byte caps; ctx carries the
// script's deadline. params is the JSON array the script sent.
type ScriptDB interface {
	Query(ctx context.Context, sql string, params json.RawMessage) (any, error)
	Exec(ctx context.Context, sql string, params json.RawMessage) (any, error)
}

type scriptCallKey struct{}

// scriptCall is one script invocation's host-side state: its database and
// the response of the last host call, waiting for host_result.
type scriptCall struct {
	db      ScriptDB
	pending []byte
}

func scriptCallFrom(ctx context.Context) *scriptCall {
	c, _ := ctx.Value(scriptCallKey{}).(*scriptCall)
	return c
}

// ValidateScript checks a custom-database script at upload, as Validate does
// a rule: size, compilation, imports (the script ABI's), exports
// (on_script), instantiation and ABI version.
func (e *Engine) ValidateScript(ctx context.Context, module []byte) error {
	return e.validate(ctx, module, true)
}

// InvokeScript runs one custom-database script on an encoded input
// ({"op", "args", "connection"}) with the engine's limits; db (nil: the
// script has no database) serves its db_query and db_exec calls. sv's
// Script flag is forced on. Errors are the execution sentinels of Invoke.
func (e *Engine) InvokeScript(ctx context.Context, sv RuleVersion, input []byte, db ScriptDB) (Invocation, error) {
	sv.Script = true
	ctx = context.WithValue(ctx, scriptCallKey{}, &scriptCall{db: db})
	return e.Invoke(ctx, &sv, input)
}
