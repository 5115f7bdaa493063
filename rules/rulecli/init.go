package rulecli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	rulessdk "github.com/authgraph/authgraph/rules-sdk"
)

// Kinds of project `authgraph rules init` writes.
const (
	KindRule     = "rule"     // a post-login rule
	KindCustomDB = "customdb" // a custom-database connection's scripts
)

// Errors of Init callers may test for.
var (
	ErrUnknownTemplate = errors.New("unknown template")
	ErrDirNotEmpty     = errors.New("directory is not empty")
)

// sdkDir is where a project keeps its copy of the SDK, relative to the
// project: go.mod's replace and package.json's file: dependency point here,
// so the project builds offline and wherever it is moved.
const sdkDir = "sdk"

// Module paths of the Go projects Init writes, and the import path of the
// customdb templates' script package it rewrites.
const (
	goRuleModule        = "example.com/authgraph-rule"
	goCustomDBModule    = "example.com/authgraph-customdb"
	customDBTplModule   = "example.com/authgraph-customdb-templates"
	goSDKModule         = "github.com/authgraph/authgraph/rules-sdk/go"
	ruleSampleEvent     = "templates/events/login.json"
	customDBSampleEvent = "templates/events/customdb-get-user.json"
)

// DefaultTemplate is the template a kind starts from when none is named.
func DefaultTemplate(kind string) string {
	if kind == KindCustomDB {
		return "postgres"
	}
	return "roles-claim"
}

// InitOptions describe the project Init writes.
type InitOptions struct {
	Dir      string
	Language Language
	Kind     string // KindRule (default) or KindCustomDB
	// Template names a rule template (Templates) or, for KindCustomDB, the
	// database (postgres, mysql); "" is DefaultTemplate.
	Template string
}

// templateRoot is the archive directory holding the templates of a kind and
// language.
func templateRoot(kind string, lang Language) string {
	if kind == KindCustomDB {
		return "templates/customdb/" + string(lang)
	}
	return "templates/" + string(lang)
}

// Templates lists the templates of a kind and language, sorted: the
// directories of the embedded templates holding an entry file.
func Templates(kind string, lang Language) ([]string, error) {
	fsys, err := rulessdk.FS()
	if err != nil {
		return nil, err
	}
	root := templateRoot(kind, lang)
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return nil, err
	}
	entry := "main.go"
	if lang == AssemblyScript {
		entry = "index.ts"
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := fs.Stat(fsys, path.Join(root, e.Name(), entry)); err != nil {
			continue
		}
		// The customdb script glue is a package, not a template.
		if kind == KindCustomDB && e.Name() == "script" {
			continue
		}
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, nil
}

// Init writes a self-contained project into dir: the template's source, a
// copy of the SDK (a Go module go.mod replaces with it, or an npm package
// package.json depends on with file:), a sample event.json and a README.
// Nothing of this repository is needed to build it; an AssemblyScript
// project needs `npm install` first (the compiler, pinned by the lockfile).
// It refuses a non-empty directory. It returns the files written, relative
// to dir.
func Init(opts InitOptions) ([]string, error) {
	if opts.Kind == "" {
		opts.Kind = KindRule
	}
	if opts.Kind != KindRule && opts.Kind != KindCustomDB {
		return nil, fmt.Errorf("unknown kind %q: %s or %s", opts.Kind, KindRule, KindCustomDB)
	}
	if opts.Language != Go && opts.Language != AssemblyScript {
		return nil, fmt.Errorf("unknown language %q: %s or %s", opts.Language, Go, AssemblyScript)
	}
	if opts.Template == "" {
		opts.Template = DefaultTemplate(opts.Kind)
	}
	names, err := Templates(opts.Kind, opts.Language)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(names, opts.Template) {
		return nil, fmt.Errorf("%w %q for a %s %s project: one of %s", ErrUnknownTemplate, opts.Template, opts.Language, opts.Kind, strings.Join(names, ", "))
	}
	if entries, err := os.ReadDir(opts.Dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%w: %s (rules init writes a new project)", ErrDirNotEmpty, opts.Dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	fsys, err := rulessdk.FS()
	if err != nil {
		return nil, err
	}
	p := &projectFiles{fsys: fsys, files: map[string][]byte{}}
	switch opts.Language {
	case Go:
		p.goProject(opts.Kind, opts.Template)
	case AssemblyScript:
		p.asProject(opts.Kind, opts.Template)
	}
	p.add("README.md", []byte(projectReadme(opts)))
	gitignore := "*.wasm\n"
	if opts.Language == AssemblyScript {
		gitignore += "node_modules/\n"
	}
	p.add(".gitignore", []byte(gitignore))
	if p.err != nil {
		return nil, p.err
	}
	written := make([]string, 0, len(p.files))
	for name := range p.files {
		written = append(written, name)
	}
	slices.Sort(written)
	for _, name := range written {
		dst := filepath.Join(opts.Dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, p.files[name], 0o644); err != nil {
			return nil, err
		}
	}
	return written, nil
}

// projectFiles collects a project's files before anything is written; the
// first error sticks.
type projectFiles struct {
	fsys  fs.FS
	files map[string][]byte
	err   error
}

func (p *projectFiles) add(name string, data []byte) { p.files[name] = data }

func (p *projectFiles) read(name string) []byte {
	if p.err != nil {
		return nil
	}
	b, err := fs.ReadFile(p.fsys, name)
	if err != nil {
		p.err = fmt.Errorf("the embedded SDK lacks %s: %w", name, err)
	}
	return b
}

// copyTree copies the archived files under from to to, those for which keep
// returns true.
func (p *projectFiles) copyTree(from, to string, keep func(name string) bool) {
	if p.err != nil {
		return
	}
	p.err = fs.WalkDir(p.fsys, from, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !keep(name) {
			return err
		}
		rel := strings.TrimPrefix(name, from+"/")
		p.add(path.Join(to, rel), p.read(name))
		return p.err
	})
}

func all(string) bool { return true }

// goDirective returns the go line of an archived go.mod ("go 1.24").
func (p *projectFiles) goDirective(gomod string) string {
	for line := range strings.SplitSeq(string(p.read(gomod)), "\n") {
		if strings.HasPrefix(line, "go ") {
			return strings.TrimSpace(line)
		}
	}
	if p.err == nil {
		p.err = fmt.Errorf("%s has no go directive", gomod)
	}
	return ""
}

func (p *projectFiles) goProject(kind, tpl string) {
	if kind == KindCustomDB {
		root := templateRoot(kind, Go)
		p.add("go.mod", fmt.Appendf(nil, "module %s\n\n%s\n", goCustomDBModule, p.goDirective(root+"/go.mod")))
		main := bytes.ReplaceAll(p.read(root+"/"+tpl+"/main.go"), []byte(`"`+customDBTplModule+`/`), []byte(`"`+goCustomDBModule+`/`))
		p.add("main.go", main)
		p.add("schema.sql", p.read(root+"/"+tpl+"/schema.sql"))
		p.copyTree(root+"/script", "script", all)
		p.add("event.json", p.read(customDBSampleEvent))
		return
	}
	directive := p.goDirective("go/go.mod")
	p.add("go.mod", fmt.Appendf(nil, `module %s

%s

require %s v0.0.0

// The Authgraph rules SDK, copied into ./%s by authgraph rules init: the
// project builds offline, with no published module.
replace %s => ./%s
`, goRuleModule, directive, goSDKModule, sdkDir, goSDKModule, sdkDir))
	p.add("main.go", p.read(templateRoot(kind, Go)+"/"+tpl+"/main.go"))
	p.copyTree("go", sdkDir, all)
	p.add("event.json", p.ruleEvent(tpl))
}

func (p *projectFiles) asProject(kind, tpl string) {
	root := templateRoot(kind, AssemblyScript)
	name := "authgraph-rule"
	if kind == KindCustomDB {
		name = "authgraph-customdb"
		p.copyTree(root+"/script", "script", all)
		p.add("schema.sql", p.read(root+"/"+tpl+"/schema.sql"))
		p.add("event.json", p.read(customDBSampleEvent))
	} else {
		p.add("event.json", p.ruleEvent(tpl))
	}
	// The entry moves to assembly/index.ts (where rules build looks), one
	// level below the project like the template's was: its relative
	// imports (../script) still hold; its build comment is updated.
	entry := bytes.ReplaceAll(p.read(root+"/"+tpl+"/index.ts"), []byte("npx asc "+tpl+"/index.ts"), []byte("npx asc assembly/index.ts"))
	p.add("assembly/index.ts", entry)
	p.add("asconfig.json", p.read(root+"/asconfig.json"))
	// The SDK package as npm would publish it: its package.json "files".
	p.copyTree("assemblyscript", sdkDir, func(name string) bool {
		switch rel := strings.TrimPrefix(name, "assemblyscript/"); {
		case rel == "package.json", rel == "index.ts", rel == "asconfig.json", strings.HasPrefix(rel, "assembly/"):
			return true
		}
		return false
	})
	pkg, lock, err := npmProject(name, p.read(root+"/package.json"), p.read(root+"/package-lock.json"))
	if err != nil && p.err == nil {
		p.err = err
	}
	p.add("package.json", pkg)
	p.add("package-lock.json", lock)
}

// ruleEvent is the sample login event, naming the rule after its template.
func (p *projectFiles) ruleEvent(tpl string) []byte {
	ev := p.read(ruleSampleEvent)
	return bytes.Replace(ev, []byte(`"name": "roles-claim" }`), []byte(`"name": "`+tpl+`" }`), 1)
}

// npmProject derives a project's package.json and package-lock.json from a
// template's: the same pinned assemblyscript (and, in the lockfile, the same
// integrity hashes for it and its dependencies), with the SDK as a file:
// dependency on the project's own copy.
func npmProject(name string, tplPackage, tplLock []byte) (pkg, lock []byte, err error) {
	var tp struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(tplPackage, &tp); err != nil {
		return nil, nil, fmt.Errorf("template package.json: %w", err)
	}
	asc := tp.DevDependencies["assemblyscript"]
	if asc == "" {
		return nil, nil, errors.New("template package.json pins no assemblyscript")
	}
	devDeps := ordered{{"@authgraph/rules-sdk", "file:" + sdkDir}, {"assemblyscript", asc}}
	pkg, err = indentJSON(ordered{
		{"name", name}, {"version", "0.0.0"}, {"private", true},
		{"description", "Built with: authgraph rules build . -o " + name + ".wasm"},
		{"devDependencies", devDeps},
	})
	if err != nil {
		return nil, nil, err
	}
	var tl struct {
		LockfileVersion int                        `json:"lockfileVersion"`
		Requires        bool                       `json:"requires"`
		Packages        map[string]json.RawMessage `json:"packages"`
	}
	if err := json.Unmarshal(tplLock, &tl); err != nil {
		return nil, nil, fmt.Errorf("template package-lock.json: %w", err)
	}
	packages := ordered{{"", ordered{{"name", name}, {"version", "0.0.0"}, {"devDependencies", devDeps}}}}
	var link struct {
		Resolved string `json:"resolved"`
	}
	if err := json.Unmarshal(tl.Packages["node_modules/@authgraph/rules-sdk"], &link); err != nil || link.Resolved == "" {
		return nil, nil, errors.New("template package-lock.json does not link @authgraph/rules-sdk")
	}
	target, ok := tl.Packages[link.Resolved] // the SDK's directory in this repository
	if !ok {
		return nil, nil, fmt.Errorf("template package-lock.json lacks the SDK's entry %q", link.Resolved)
	}
	keys := make([]string, 0, len(tl.Packages))
	for k := range tl.Packages {
		if strings.HasPrefix(k, "node_modules/") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := any(tl.Packages[k])
		if k == "node_modules/@authgraph/rules-sdk" {
			v = ordered{{"resolved", sdkDir}, {"link", true}}
		}
		packages = append(packages, kv{k, v})
	}
	// The link's target, the project's copy of the SDK, in the place npm
	// sorts it (after node_modules/).
	packages = append(packages, kv{sdkDir, target})
	lock, err = indentJSON(ordered{
		{"name", name}, {"version", "0.0.0"}, {"lockfileVersion", tl.LockfileVersion}, {"requires", tl.Requires},
		{"packages", packages},
	})
	return pkg, lock, err
}

// kv and ordered encode a JSON object with its keys in a given order, as
// npm writes its files.
type kv struct {
	k string
	v any
}

type ordered []kv

func (o ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(e.k)
		if err != nil {
			return nil, err
		}
		v, err := marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal is json.Marshal without escaping <, > and & (npm writes ">=20").
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func indentJSON(v any) ([]byte, error) {
	raw, err := marshal(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// projectReadme tells the author what to run next.
func projectReadme(opts InitOptions) string {
	var b strings.Builder
	what := "post-login rule"
	if opts.Kind == KindCustomDB {
		what = "custom-database script (every operation in one module, for the " + opts.Template + " schema in schema.sql)"
	}
	fmt.Fprintf(&b, "# Authgraph %s (%s, from the %s template)\n\n", what, opts.Language, opts.Template)
	if opts.Kind == KindCustomDB && opts.Language == Go {
		b.WriteString("Written by `authgraph rules init`. `script/` is the script ABI's glue (standard library only): the project builds\n")
		b.WriteString("with nothing else.\n\n")
	} else {
		fmt.Fprintf(&b, "Written by `authgraph rules init`. `%s/` is a copy of the Authgraph rules SDK: the project builds with nothing else.\n\n", sdkDir)
	}
	b.WriteString("```sh\n")
	if opts.Language == AssemblyScript {
		b.WriteString("npm install                                  # the pinned AssemblyScript compiler (Node.js 20+)\n")
	} else {
		b.WriteString("# Go 1.24 or later\n")
	}
	if opts.Kind == KindCustomDB {
		b.WriteString("authgraph rules build . -o script.wasm\n")
		b.WriteString("authgraph rules test script.wasm --event event.json --dsn 'postgres://user:pass@host/db'   # or mysql://…\n")
		b.WriteString("```\n\n")
		b.WriteString("`event.json` is one call: `op` (login, get_user, create, verify, change_password, delete, change_email), its `args`\n")
		b.WriteString("and the `connection` name. Without `--dsn` the script has no database and its queries fail. Create the table with\n")
		b.WriteString("`schema.sql`, and give Authgraph an account that can reach only that table.\n\n")
		b.WriteString("Upload the module (base64) as `options.scripts.<op>` of a `customdb` connection, with `options.dsn`; try it there\n")
		b.WriteString("with the `testConnectionScript` mutation.\n")
		return b.String()
	}
	b.WriteString("authgraph rules build . -o rule.wasm\n")
	b.WriteString("authgraph rules test rule.wasm --event event.json\n")
	b.WriteString("```\n\n")
	b.WriteString("`event.json` is a sample login event; put the rule's secrets in its `secrets`. `authgraph rules test` runs the module\n")
	b.WriteString("with the server's engine and limits. Upload it with the `createRule` mutation (`module`: the file in base64), or try\n")
	b.WriteString("it against a real user first with `testRule`.\n")
	return b.String()
}
