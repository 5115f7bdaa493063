package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wasmFixture returns a module built by `make rules-fixtures`: skipped
// locally when missing, a failure in CI.
func wasmFixture(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "rules", "testdata", "build", name+".wasm")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fixture %s missing (CI must run `make rules-fixtures` first)", p)
		}
		t.Skipf("fixture %s missing: run `make rules-fixtures`", p)
	}
	return p
}

const sampleEvent = "../../rules-sdk/templates/events/login.json"

func TestRulesTestCommand(t *testing.T) {
	module := wasmFixture(t, "tpl-as-roles-claim")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"rules", "test", module, "--event", sampleEvent}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"result    allowed", `"https://example.com/roles":["admin","editor","billing"]`, "timing"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// A failing rule: the command fails and says why.
	stdout.Reset()
	err := run(context.Background(), []string{"rules", "test", "--event", sampleEvent, wasmFixture(t, "as-abort")}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "rule_failed") || !strings.Contains(stdout.String(), "error") {
		t.Fatalf("failing rule: err %v, output %s", err, stdout.String())
	}
	// A deny is a result, not an error.
	stdout.Reset()
	dir := t.TempDir()
	ev, _ := os.ReadFile(sampleEvent)
	unverified := filepath.Join(dir, "ev.json")
	_ = os.WriteFile(unverified, bytes.Replace(ev, []byte(`"email_verified": true`), []byte(`"email_verified": false`), 1), 0o600)
	if err := run(context.Background(), []string{"rules", "test", wasmFixture(t, "tpl-as-deny-unverified"), "--event", unverified}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "DENIED: access_denied") {
		t.Fatalf("deny output: %s", stdout.String())
	}
}

func TestRulesCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"rules"},
		{"rules", "frobnicate"},
		{"rules", "build", "dir"},            // no -o
		{"rules", "test", "module.wasm"},     // no such module
		{"rules", "build", "-o", "out.wasm"}, // no dir
		{"rules", "test", "missing.wasm", "--event", sampleEvent},
		{"rules", "build", t.TempDir(), "-o", filepath.Join(t.TempDir(), "x.wasm")}, // not a rule project
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestRulesBuildCommand builds the Go roles template with the real
// toolchain (wasip1) and runs it.
func TestRulesBuildCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasip1 module")
	}
	out := filepath.Join(t.TempDir(), "roles.wasm")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"rules", "build", "../../rules-sdk/templates/go/roles-claim", "-o", out}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "built "+out) {
		t.Fatalf("output: %s", stdout.String())
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"rules", "test", out, "--event", sampleEvent}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "https://example.com/roles") {
		t.Fatalf("built rule output: %s", stdout.String())
	}
}

// TestRulesTestJavaScript: a JavaScript file runs through the engine as a
// module does: the sample event, claims, logs, a deny, a syntax error
// located, and --javascript for a file not named .js.
func TestRulesTestJavaScript(t *testing.T) {
	dir := t.TempDir()
	action := filepath.Join(dir, "roles.js")
	if err := os.WriteFile(action, []byte(`exports.onExecutePostLogin = async (event, api) => {
  console.log("login of " + event.user.email);
  api.idToken.setCustomClaim("https://example.com/roles", event.user.app_metadata.roles);
  api.user.setAppMetadata("last_rule", "js");
};
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"rules", "test", action, "--event", sampleEvent}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"rule      roles-claim (" + action, "JavaScript post-login Action", "result    allowed",
		`"https://example.com/roles":["admin","editor","billing"]`, `app_metadata {"last_rule":"js"}`, "  | login of ", "timing"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// A legacy Rule in a file not named .js, with --javascript: a deny.
	deny := filepath.Join(dir, "deny.rule")
	_ = os.WriteFile(deny, []byte("function (user, context, callback) {\n  callback(new UnauthorizedError('no entry for ' + user.email));\n}\n"), 0o600)
	stdout.Reset()
	if err := run(context.Background(), []string{"rules", "test", "--javascript", deny, "--event", sampleEvent}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "JavaScript legacy Rule") || !strings.Contains(stdout.String(), "DENIED: access_denied: no entry for ") {
		t.Fatalf("deny output: %s", stdout.String())
	}

	// A syntax error fails the command with its place in the file.
	bad := filepath.Join(dir, "bad.js")
	_ = os.WriteFile(bad, []byte("exports.onExecutePostLogin = async (event, api) => {\n  let x = ;\n};\n"), 0o600)
	stdout.Reset()
	err := run(context.Background(), []string{"rules", "test", bad}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), bad+": ") || !strings.Contains(err.Error(), "line 2, column ") {
		t.Fatalf("syntax error: %v", err)
	}
	if err := run(context.Background(), []string{"rules", "test", action, "--dsn", "postgres://x"}, &stdout, &stderr); err == nil ||
		!strings.Contains(err.Error(), "--dsn") {
		t.Fatalf("--dsn with JavaScript: %v", err)
	}
}
