package rulecli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/rules"
)

const (
	templates = "../../rules-sdk/templates"
	event     = "../../rules-sdk/templates/events/login.json"
)

func TestDetect(t *testing.T) {
	for dir, want := range map[string]Language{
		templates + "/go/roles-claim":             Go,
		templates + "/assemblyscript/roles-claim": AssemblyScript,
	} {
		p, err := Detect(dir)
		if err != nil || p.Language != want {
			t.Errorf("Detect(%s) = %+v, %v", dir, p, err)
		}
	}
	if _, err := Detect(t.TempDir()); !errors.Is(err, ErrUnknownProject) {
		t.Fatalf("empty dir: %v", err)
	}
}

func TestBuildAndTestGo(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH")
	}
	out := filepath.Join(t.TempDir(), "rule.wasm")
	if err := Build(templates+"/go/roles-claim", out); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Test(out, TestOptions{Event: event}, &buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"result    allowed", `id_token_claims {"https://example.com/roles":["admin","editor","billing"]}`, "warm median"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestBuildAndTestAssemblyScript(t *testing.T) {
	root := templates + "/assemblyscript"
	if _, err := os.Stat(filepath.Join(root, "node_modules", "assemblyscript")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("run `make rules-fixtures` (npm ci in %s) first: %v", root, err)
		}
		t.Skipf("npm ci has not run in %s (make rules-fixtures)", root)
	}
	out := filepath.Join(t.TempDir(), "rule.wasm")
	if err := Build(root+"/deny-unverified", out); err != nil {
		t.Fatal(err)
	}
	// An unverified user: the rule denies and logs.
	evPath := filepath.Join(t.TempDir(), "event.json")
	raw, err := os.ReadFile(event)
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte(`"email_verified": true`), []byte(`"email_verified": false`), 1)
	if err := os.WriteFile(evPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Test(out, TestOptions{Event: evPath}, &buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DENIED: access_denied: Please verify your email address", "| denied: unverified email for auth0|"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestTestReportsRuleFailure(t *testing.T) {
	mod := "../testdata/build/go-panic.wasm"
	if _, err := os.Stat(mod); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("fixtures missing: run `make rules-fixtures`")
		}
		t.Skip("fixtures missing: run `make rules-fixtures`")
	}
	var buf bytes.Buffer
	err := Test(mod, TestOptions{Event: event}, &buf)
	if !errors.Is(err, rules.ErrRuleFailed) || !strings.Contains(buf.String(), "panic: assignment to entry in nil map") {
		t.Fatalf("err = %v, output:\n%s", err, buf.String())
	}
}

func TestBuildRefusesBrokenSource(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() { undefined() }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n\ngo 1.24\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Build(dir, filepath.Join(dir, "out.wasm")); !errors.Is(err, ErrBuildFailed) || !strings.Contains(err.Error(), "undefined") {
		t.Fatalf("err = %v", err)
	}
}

// TestTestWithoutEventUsesTheSample: no --event runs the built-in sample
// login event; --dsn is refused for a rule.
func TestTestWithoutEventUsesTheSample(t *testing.T) {
	mod := "../testdata/build/tpl-as-roles-claim.wasm"
	if _, err := os.Stat(mod); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("fixtures missing: run `make rules-fixtures`")
		}
		t.Skip("fixtures missing: run `make rules-fixtures`")
	}
	var buf bytes.Buffer
	if err := Test(mod, TestOptions{}, &buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"built-in sample", "rule      tpl-as-roles-claim (", `"https://example.com/roles":["admin","editor","billing"]`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
	if err := Test(mod, TestOptions{DSN: "postgres://x@127.0.0.1/x"}, &buf); err == nil || !strings.Contains(err.Error(), "custom-database") {
		t.Fatalf("--dsn on a rule: %v", err)
	}
}

// TestTestPrintsRequireMFA: the output says when a rule requires MFA.
func TestTestPrintsRequireMFA(t *testing.T) {
	mod := "../testdata/build/as-requiremfa.wasm"
	if _, err := os.Stat(mod); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("fixtures missing: run `make rules-fixtures`")
		}
		t.Skip("fixtures missing: run `make rules-fixtures`")
	}
	raw, err := os.ReadFile(event)
	if err != nil {
		t.Fatal(err)
	}
	for _, admin := range []bool{false, true} {
		ev := raw
		if admin {
			ev = bytes.Replace(raw, []byte(`"plan": "enterprise"`), []byte(`"role": "admin", "plan": "enterprise"`), 1)
		}
		evPath := filepath.Join(t.TempDir(), "event.json")
		if err := os.WriteFile(evPath, ev, 0o600); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Test(mod, TestOptions{Event: evPath}, &buf); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(buf.String(), "require_mfa yes"); got != admin || !strings.Contains(buf.String(), `"https://example.com/methods":["pwd"]`) {
			t.Errorf("admin %v, output:\n%s", admin, buf.String())
		}
	}
}
