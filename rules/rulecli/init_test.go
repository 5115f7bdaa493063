package rulecli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTemplates(t *testing.T) {
	for _, c := range []struct {
		kind string
		lang Language
		want []string
	}{
		{KindRule, Go, []string{"deny-unverified", "domain-allowlist", "first-login", "require-mfa", "roles-claim", "strategy-claim"}},
		{KindRule, AssemblyScript, []string{"deny-unverified", "domain-allowlist", "first-login", "require-mfa", "roles-claim", "strategy-claim"}},
		{KindCustomDB, Go, []string{"mysql", "postgres"}},
		{KindCustomDB, AssemblyScript, []string{"mysql", "postgres"}},
	} {
		got, err := Templates(c.kind, c.lang)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Templates(%s, %s) = %v, %v; want %v", c.kind, c.lang, got, err, c.want)
		}
	}
}

// TestInitLayout: each project kind holds its source, its own copy of the
// SDK referenced relatively, and a sample event; nothing points back into
// this repository.
func TestInitLayout(t *testing.T) {
	for _, c := range []struct {
		opts InitOptions
		want []string
	}{
		{InitOptions{Language: Go}, []string{"go.mod", "main.go", "event.json", "README.md", ".gitignore", "sdk/go.mod", "sdk/rules/api.go", "sdk/rules/abi_wasip1.go"}},
		{InitOptions{Language: AssemblyScript, Template: "first-login"}, []string{"package.json", "package-lock.json", "asconfig.json", "assembly/index.ts", "event.json", "sdk/package.json", "sdk/index.ts", "sdk/assembly/exports.ts"}},
		{InitOptions{Language: Go, Kind: KindCustomDB, Template: "mysql"}, []string{"go.mod", "main.go", "schema.sql", "script/script.go", "event.json"}},
		{InitOptions{Language: AssemblyScript, Kind: KindCustomDB}, []string{"package.json", "package-lock.json", "assembly/index.ts", "script/index.ts", "script/exports.ts", "schema.sql", "sdk/assembly/json.ts"}},
	} {
		dir := filepath.Join(t.TempDir(), "project")
		c.opts.Dir = dir
		files, err := Init(c.opts)
		if err != nil {
			t.Fatalf("%+v: %v", c.opts, err)
		}
		for _, f := range c.want {
			if !slices.Contains(files, f) {
				t.Errorf("%+v: %s missing from %v", c.opts, f, files)
			}
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%+v: %v", c.opts, err)
			}
		}
		for _, f := range files {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			if bytes.Contains(b, []byte("../../")) || bytes.Contains(b, []byte("authgraph-customdb-templates")) {
				t.Errorf("%+v: %s refers outside the project:\n%s", c.opts, f, b)
			}
			if bytes.Contains(b, []byte("npx asc postgres/")) || bytes.Contains(b, []byte("npx asc mysql/")) {
				t.Errorf("%+v: %s names the template's path, not the project's", c.opts, f)
			}
			if strings.HasSuffix(f, "_test.go") || strings.Contains(f, "node_modules") {
				t.Errorf("%+v: wrote %s", c.opts, f)
			}
		}
	}
}

func TestInitGoModuleReplacesTheSDKWithItsCopy(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(InitOptions{Dir: dir, Language: Go, Template: "domain-allowlist"}); err != nil {
		t.Fatal(err)
	}
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	for _, want := range []string{"require github.com/authgraph/authgraph/rules-sdk/go v0.0.0", "replace github.com/authgraph/authgraph/rules-sdk/go => ./sdk", "\ngo 1."} {
		if !strings.Contains(string(gomod), want) {
			t.Errorf("go.mod lacks %q:\n%s", want, gomod)
		}
	}
	var ev struct {
		Rule struct{ Name string }
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "event.json"))
	if err := json.Unmarshal(raw, &ev); err != nil || ev.Rule.Name != "domain-allowlist" {
		t.Fatalf("event.json: %v %q", err, ev.Rule.Name)
	}
}

func TestInitNPMProject(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(InitOptions{Dir: dir, Language: AssemblyScript}); err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "package.json"))
	if err := json.Unmarshal(raw, &pkg); err != nil || pkg.DevDependencies["@authgraph/rules-sdk"] != "file:sdk" || pkg.DevDependencies["assemblyscript"] != "0.28.20" {
		t.Fatalf("package.json: %v\n%s", err, raw)
	}
	var lock struct {
		Packages map[string]struct {
			Resolved  string `json:"resolved"`
			Link      bool   `json:"link"`
			Name      string `json:"name"`
			Version   string `json:"version"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	raw, _ = os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err := json.Unmarshal(raw, &lock); err != nil {
		t.Fatal(err)
	}
	p := lock.Packages
	if l := p["node_modules/@authgraph/rules-sdk"]; l.Resolved != "sdk" || !l.Link || p["sdk"].Name != "@authgraph/rules-sdk" {
		t.Fatalf("lock does not link the SDK copy:\n%s", raw)
	}
	if a := p["node_modules/assemblyscript"]; a.Version != "0.28.20" || !strings.HasPrefix(a.Integrity, "sha512-") {
		t.Fatalf("lock does not pin assemblyscript:\n%s", raw)
	}
	if bytes.Contains(raw, []byte(`\u003e`)) {
		t.Fatalf("lock escapes >:\n%s", raw)
	}
}

func TestInitRefuses(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "main.go"), []byte("package main\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(InitOptions{Dir: full, Language: Go}); !errors.Is(err, ErrDirNotEmpty) {
		t.Fatalf("non-empty dir: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(full, "main.go")); string(b) != "package main\n" {
		t.Fatal("an existing file was overwritten")
	}
	dir := filepath.Join(t.TempDir(), "p")
	_, err := Init(InitOptions{Dir: dir, Language: Go, Template: "nope"})
	if !errors.Is(err, ErrUnknownTemplate) || !strings.Contains(err.Error(), "roles-claim, strategy-claim") {
		t.Fatalf("unknown template: %v", err)
	}
	if _, err := Init(InitOptions{Dir: dir, Language: Go, Kind: KindCustomDB, Template: "roles-claim"}); !errors.Is(err, ErrUnknownTemplate) || !strings.Contains(err.Error(), "mysql, postgres") {
		t.Fatalf("rule template for customdb: %v", err)
	}
	for _, o := range []InitOptions{{Dir: dir, Language: "rust"}, {Dir: dir, Language: Go, Kind: "hook"}} {
		if _, err := Init(o); err == nil {
			t.Fatalf("%+v accepted", o)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused init wrote %s", dir)
	}
}

// TestBuildSaysWhichToolIsMissing: without Go, Node.js or the project's
// npm install, the error names the tool and what to do.
func TestBuildSaysWhichToolIsMissing(t *testing.T) {
	goDir, asDir := t.TempDir(), t.TempDir()
	if _, err := Init(InitOptions{Dir: goDir, Language: Go}); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(InitOptions{Dir: asDir, Language: AssemblyScript}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "r.wasm")
	if err := Build(asDir, out); !errors.Is(err, ErrToolMissing) || !strings.Contains(err.Error(), "npm install") {
		t.Fatalf("no node_modules: %v", err)
	}
	t.Setenv("PATH", t.TempDir()) // neither go nor npx
	if err := Build(goDir, out); !errors.Is(err, ErrToolMissing) || !strings.Contains(err.Error(), "Go 1.24") {
		t.Fatalf("no go: %v", err)
	}
	if err := Build(asDir, out); !errors.Is(err, ErrToolMissing) || !strings.Contains(err.Error(), "Node.js") {
		t.Fatalf("no npx: %v", err)
	}
}
