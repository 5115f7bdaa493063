package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/internal/testenv"
	_ "github.com/lib/pq"
)

// rulesCLI runs `authgraph rules ARGS…` and returns its output.
func rulesCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"rules"}, args...), &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

// needNPM installs a project's locked dependencies (the pinned
// AssemblyScript compiler); without npm the test is skipped, except in CI.
func needNPM(t *testing.T, dir string) {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("npm is not on PATH")
		}
		t.Skip("npm is not on PATH")
	}
	// npm ci also proves the lockfile init wrote matches its package.json.
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
}

// TestRulesInitBuildTest is what a rule author outside this repository does:
// init a project in an empty directory, install (AssemblyScript), build and
// test it. Go builds offline (no module proxy) with GOFLAGS unset.
func TestRulesInitBuildTest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wasm modules")
	}
	t.Setenv("GOFLAGS", "")
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOWORK", "off")
	t.Setenv("GOTOOLCHAIN", "local")

	t.Run("go rule", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "my-rule")
		if out, err := rulesCLI(t, "init", dir, "--lang", "go"); err != nil || !strings.Contains(out, "roles-claim") {
			t.Fatalf("init: %v\n%s", err, out)
		}
		module := filepath.Join(dir, "r.wasm")
		if out, err := rulesCLI(t, "build", dir, "-o", module); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
		// The built-in sample event, then the project's.
		for _, args := range [][]string{{"test", module}, {"test", module, "--event", filepath.Join(dir, "event.json")}} {
			out, err := rulesCLI(t, args...)
			if err != nil || !strings.Contains(out, "result    allowed") || !strings.Contains(out, `"https://example.com/roles":["admin","editor","billing"]`) {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
	})

	t.Run("assemblyscript rule", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "my-rule")
		if out, err := rulesCLI(t, "init", dir, "--lang", "assemblyscript", "--template", "domain-allowlist"); err != nil {
			t.Fatalf("init: %v\n%s", err, out)
		}
		needNPM(t, dir)
		module := filepath.Join(dir, "r.wasm")
		if out, err := rulesCLI(t, "build", dir, "-o", module); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
		// The sample's secret allows example.com.
		out, err := rulesCLI(t, "test", module, "--event", filepath.Join(dir, "event.json"))
		if err != nil || !strings.Contains(out, "rule      domain-allowlist") || !strings.Contains(out, "result    allowed") {
			t.Fatalf("test: %v\n%s", err, out)
		}
	})

	t.Run("go customdb postgres", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "legacy")
		if out, err := rulesCLI(t, "init", dir, "--kind", "customdb", "--db", "postgres", "--lang", "go"); err != nil {
			t.Fatalf("init: %v\n%s", err, out)
		}
		module := filepath.Join(dir, "s.wasm")
		if out, err := rulesCLI(t, "build", dir, "-o", module); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
		dsn := testenv.Postgres(t)
		schema, err := os.ReadFile(filepath.Join(dir, "schema.sql"))
		if err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(string(schema)); err != nil {
			t.Fatalf("schema.sql: %v", err)
		}
		call := func(event, want string) {
			t.Helper()
			args := []string{"test", module, "--dsn", dsn}
			if event != "" {
				p := filepath.Join(t.TempDir(), "event.json")
				if err := os.WriteFile(p, []byte(event), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--event", p)
			}
			out, err := rulesCLI(t, args...)
			if err != nil || !strings.Contains(out, want) {
				t.Fatalf("%s: want %q: %v\n%s", event, want, err, out)
			}
			if strings.Contains(out, "Correct-Horse") {
				t.Fatalf("the password was printed:\n%s", out)
			}
		}
		call("", "result    null") // the built-in get_user sample: nobody yet
		call(`{"op": "create", "args": {"user": {"email": "ada.lovelace@example.com", "password": "Correct-Horse-Battery-9"}}}`, "result    null")
		call("", `"user_id":"pg|1"`)
		call(`{"op": "login", "args": {"username": "ada.lovelace@example.com", "password": "Correct-Horse-Battery-9"}}`, `"email":"ada.lovelace@example.com"`)
		call(`{"op": "login", "args": {"username": "ada.lovelace@example.com", "password": "wrong"}}`, "result    error wrong_credentials")
	})

	t.Run("assemblyscript customdb mysql", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "legacy")
		if out, err := rulesCLI(t, "init", dir, "--kind", "customdb", "--template", "mysql", "--lang", "assemblyscript"); err != nil {
			t.Fatalf("init: %v\n%s", err, out)
		}
		needNPM(t, dir)
		module := filepath.Join(dir, "s.wasm")
		if out, err := rulesCLI(t, "build", dir, "-o", module); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
		// No database: the script runs and reports why its query failed.
		out, err := rulesCLI(t, "test", module)
		if err != nil || !strings.Contains(out, "call      get_user") || !strings.Contains(out, "no database") {
			t.Fatalf("test: %v\n%s", err, out)
		}
	})
}

func TestRulesInitUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init"},
		{"init", filepath.Join(dir, "a")}, // no --lang
		{"init", filepath.Join(dir, "b"), "--lang", "go", "--db", "postgres"}, // --db without customdb
		{"init", filepath.Join(dir, "c"), "--lang", "go", "--kind", "customdb", "--db", "mysql", "--template", "postgres"},
		{"init", filepath.Join(dir, "d"), "--lang", "go", "--template", "nope"},
	} {
		if out, err := rulesCLI(t, args...); err == nil {
			t.Errorf("%v accepted:\n%s", args, out)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("refused inits wrote %v", entries)
	}
}
