package rules

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgraph/authgraph/rules/jsvm"
)

// One engine for this file's tests: its first JavaScript call compiles
// QuickJS (about a second, several under -race).
var jsShared struct {
	once sync.Once
	e    *Engine
	err  error
}

func sharedJSEngine(t *testing.T) *Engine {
	t.Helper()
	jsShared.once.Do(func() {
		jsShared.e, jsShared.err = New(context.Background(), Config{MaxConcurrent: 2, MaxIdle: 2, Timeout: 2 * time.Second, MemoryLimit: 16 << 20})
	})
	if jsShared.err != nil {
		t.Fatal(jsShared.err)
	}
	return jsShared.e
}

func jsRule(id, src string) RuleVersion {
	return RuleVersion{ID: "rul_" + id, Name: id, Version: "1", JavaScript: src}
}

func TestJSPipelineActionAndRule(t *testing.T) {
	e := sharedJSEngine(t)
	action := jsRule("action", `exports.onExecutePostLogin = async (event, api) => {
  console.log('login of', event.user.email);
  api.idToken.setCustomClaim('https://example.com/email', event.user.email);
  api.user.setAppMetadata('plan', 'gold');
};`)
	rule := jsRule("rule", `function (user, context, callback) {
  context.accessToken['https://example.com/plan'] = user.app_metadata.plan;
  callback(null, user, context);
}`)
	res, err := e.RunPipeline(context.Background(), []RuleVersion{action, rule}, loginEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	email := loginEvent(t).User.Email
	if res.IDTokenClaims["https://example.com/email"] != email || res.AccessTokenClaims["https://example.com/plan"] != "gold" || res.AppMetadata["plan"] != "gold" {
		t.Errorf("claims %v / %v, app_metadata %v", res.IDTokenClaims, res.AccessTokenClaims, res.AppMetadata)
	}
	if len(res.Runs) != 2 || strings.Join(res.Runs[0].Logs, "|") != "login of "+email {
		t.Errorf("runs %+v", res.Runs)
	}
}

func TestJSHostileThroughEngine(t *testing.T) {
	e := sharedJSEngine(t)
	good := jsRule("good", `exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('https://example.com/ok', true); };`)
	for _, tc := range []struct {
		name, src string
		want      error
		msg       string
	}{
		{"loop", "exports.onExecutePostLogin = async () => { while (true) {} };", ErrTimeout, "stopped after 300ms"},
		{"await loop", "exports.onExecutePostLogin = async () => { for (;;) await 0; };", ErrTimeout, "stopped after 300ms"},
		{"recursion", "exports.onExecutePostLogin = async () => { const f = (n) => f(n + 1) + 1; f(0); };", ErrTrap, "stack overflow"}, // limit raised below
		{"memory", "exports.onExecutePostLogin = async () => { let s = 'x'; for (;;) s += s; };", ErrMemoryLimit, "16 MiB"},
		{"memory, uncaught in a rule", "function (user, context, callback) { let s = 'x'; for (;;) s += s; }", ErrMemoryLimit, "16 MiB"},
		{"throw", "exports.onExecutePostLogin = async () => { throw new Error('nope'); };", ErrRuleReported, "nope"},
		{"module body throws", "throw 42;", ErrRuleReported, "42"},
	} {
		bad := jsRule("bad", tc.src)
		bad.Timeout = 300 * time.Millisecond
		if tc.want != ErrTimeout {
			bad.Timeout = 5 * time.Second // slow machines, -race: the limit is not what is tested
		}
		start := time.Now()
		res, err := e.RunPipeline(context.Background(), []RuleVersion{bad, good}, loginEvent(t))
		var re *RuleError
		if !errors.As(err, &re) || !errors.Is(err, ErrRuleFailed) || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || re.RuleID != "rul_bad" {
			t.Errorf("%s: %v, want %v containing %q", tc.name, err, tc.want, tc.msg)
		}
		if len(res.Runs) != 1 {
			t.Errorf("%s: %d runs, the pipeline must stop", tc.name, len(res.Runs))
		}
		if d := time.Since(start); d > bad.Timeout+3*time.Second {
			t.Errorf("%s: took %s", tc.name, d)
		}
		res, err = e.RunPipeline(context.Background(), []RuleVersion{good}, loginEvent(t))
		if err != nil || res.IDTokenClaims["https://example.com/ok"] != true {
			t.Errorf("after %s: %v %v", tc.name, err, res.IDTokenClaims)
		}
	}
}

func TestJSSecretsRedacted(t *testing.T) {
	e := sharedJSEngine(t)
	for _, src := range []string{
		"exports.onExecutePostLogin = async (event) => { console.log('key=' + event.secrets.API_KEY); throw new Error('bad key ' + event.secrets.API_KEY); };",
		"exports.onExecutePostLogin = async (event) => { console.log('key=' + event.secrets.API_KEY); for (;;) {} };",
		"function (user, context, callback) { console.log(configuration.API_KEY); callback(new Error(configuration.API_KEY)); }",
	} {
		rv := jsRule("secret", src)
		rv.Secrets = map[string]string{"API_KEY": "s3cr3t-value"}
		rv.Timeout = 300 * time.Millisecond
		_, err := e.RunPipeline(context.Background(), []RuleVersion{rv}, loginEvent(t))
		var re *RuleError
		if !errors.As(err, &re) {
			t.Fatalf("%v", err)
		}
		all := err.Error() + strings.Join(re.Logs, "\n")
		if strings.Contains(all, "s3cr3t-value") || !strings.Contains(all, "[REDACTED]") {
			t.Errorf("%q: error %q logs %q", src, err, re.Logs)
		}
	}
}

func TestJSValidate(t *testing.T) {
	e := sharedJSEngine(t)
	ctx := context.Background()
	if err := e.ValidateJavaScript(ctx, "exports.onExecutePostLogin = async (event, api) => {};"); err != nil {
		t.Errorf("valid action: %v", err)
	}
	if err := e.ValidateJavaScript(ctx, "function (user, context, callback) { callback(null, user, context); }"); err != nil {
		t.Errorf("valid rule: %v", err)
	}
	err := e.ValidateJavaScript(ctx, "exports.onExecutePostLogin = async (event, api) => {\n  let x = ;\n};")
	var se *jsvm.SyntaxError
	if !errors.Is(err, ErrInvalidModule) || !errors.As(err, &se) || se.Line != 2 || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("syntax error: %v", err)
	}
	if err := e.ValidateJavaScript(ctx, "exports.onExecutePostLogin = () => import('qjs:os');"); !errors.Is(err, ErrInvalidModule) || !errors.As(err, &se) {
		t.Errorf("import(): %v", err)
	}
	if err := e.ValidateJavaScript(ctx, "exports.somethingElse = 1;"); !errors.Is(err, ErrInvalidModule) {
		t.Errorf("shape: %v", err)
	}
	if err := e.ValidateScriptJavaScript(ctx, "login", "function login(email, password, callback) {\n  callback(null, {\n}"); !errors.Is(err, ErrInvalidModule) || !errors.As(err, &se) {
		t.Errorf("script syntax: %v", err)
	}
	if err := e.ValidateScriptJavaScript(ctx, "login", "function login(email, password, callback) { callback(null); }"); err != nil {
		t.Errorf("valid script: %v", err)
	}
	// Nesting too deep for the compiler's stack is refused too, and the
	// compiler recovers.
	deep := "exports.onExecutePostLogin = async () => " + strings.Repeat("(", 200000) + "1" + strings.Repeat(")", 200000) + ";"
	if err := e.ValidateJavaScript(ctx, deep); !errors.Is(err, ErrInvalidModule) {
		t.Errorf("deep nesting: %v", err)
	}
	if err := e.ValidateJavaScript(ctx, strings.Repeat(" ", MaxModuleSize+1)); !errors.Is(err, ErrModuleTooLarge) {
		t.Errorf("size: %v", err)
	}
	if err := e.ValidateJavaScript(ctx, "exports.onExecutePostLogin = async (event, api) => {};"); err != nil {
		t.Errorf("after a failed compilation: %v", err)
	}
	if err := e.ValidateScriptJavaScript(ctx, "log-in", "function x() {}"); !errors.Is(err, ErrInvalidModule) {
		t.Errorf("bad op: %v", err)
	}
}

func TestJSEvictAndNewVersion(t *testing.T) {
	e := sharedJSEngine(t)
	ctx := context.Background()
	rv := jsRule("evict", "exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('https://example.com/v', 1); };")
	if _, err := e.RunPipeline(ctx, []RuleVersion{rv}, loginEvent(t)); err != nil {
		t.Fatal(err)
	}
	e.js.mu.Lock()
	_, cached := e.js.progs[rv.key()]
	e.js.mu.Unlock()
	e.Evict(ctx, rv.ID, rv.Version)
	e.js.mu.Lock()
	_, after := e.js.progs[rv.key()]
	e.js.mu.Unlock()
	if !cached || after {
		t.Errorf("cached %v, after Evict %v", cached, after)
	}
	// Same version, other source (a caller's mistake): the new source runs.
	rv.JavaScript = strings.Replace(rv.JavaScript, "', 1)", "', 2)", 1)
	res, err := e.RunPipeline(ctx, []RuleVersion{rv}, loginEvent(t))
	if err != nil || res.IDTokenClaims["https://example.com/v"] != float64(2) {
		t.Errorf("%v %v", err, res.IDTokenClaims)
	}
}

// Concurrent logins share the execution slots with WebAssembly rules.
func TestJSConcurrent(t *testing.T) {
	e := sharedJSEngine(t)
	rv := jsRule("conc", "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('https://example.com/u', event.user.user_id); };")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Go(func() {
			for range 4 {
				res, err := e.RunPipeline(context.Background(), []RuleVersion{rv}, loginEvent(t))
				if err == nil && res.IDTokenClaims["https://example.com/u"] != loginEvent(t).User.UserID {
					err = errors.New("wrong claim")
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestJSScriptHost(t *testing.T) {
	st := &callState{Context: context.Background(), deadline: time.Now().Add(5 * time.Second), maxLines: 10, maxLineBytes: 200}
	host := jsScriptHost(st, &scriptCall{})
	ctx := context.Background()
	h, err := host(ctx, "bcrypt_hash", `{"password":"pw","cost":4}`)
	if err != nil || !strings.HasPrefix(h, `{"hash":"$2a$04$`) {
		t.Fatalf("bcrypt_hash: %s %v", h, err)
	}
	hash := strings.TrimSuffix(strings.TrimPrefix(h, `{"hash":"`), `"}`)
	for pw, want := range map[string]string{"pw": `{"match":true}`, "nope": `{"match":false}`} {
		if got, err := host(ctx, "bcrypt_verify", `{"hash":"`+hash+`","password":"`+pw+`"}`); err != nil || got != want {
			t.Errorf("bcrypt_verify %s: %s %v", pw, got, err)
		}
	}
	if got, err := host(ctx, "db_query", `{"sql":"select 1"}`); err != nil || !strings.Contains(got, `"error":"this connection has no database`) {
		t.Errorf("db_query without a database: %s %v", got, err)
	}
	if _, err := host(ctx, "fetch", `{}`); err == nil {
		t.Error("unknown host function answered")
	}
	if len(st.logs) != 1 || !strings.Contains(st.logs[0], "db_query failed") {
		t.Errorf("logs %q", st.logs)
	}
}
