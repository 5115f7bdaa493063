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
