// Package rulecli implements `authgraph rules init`, `rules build` and `rules
// test`: writing a self-contained rule or custom-database script project
// (with the SDK the binary carries), building one from its source directory,
// and running a module on an event with the real engine and limits.
package rulecli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/authgraph/authgraph/rules"
	"github.com/tetratelabs/wazero"
)

// Errors callers may test for.
var (
	ErrUnknownProject = errors.New("not a rule project: expected Go files, or index.ts / assembly/index.ts under an asconfig.json")
	ErrToolMissing    = errors.New("build tool missing")
	ErrBuildFailed    = errors.New("build failed")
)

// Language is a rule source language.
type Language string

const (
	Go             Language = "go"
	AssemblyScript Language = "assemblyscript"
)

// Project is a rule source directory as Build understands it.
type Project struct {
	Language Language
	Dir      string // the rule's directory
	// Root is where the toolchain runs: for AssemblyScript the directory
	// holding asconfig.json and node_modules; for Go, Dir.
	Root  string
	Entry string // AssemblyScript entry file
}

// Detect finds out what dir holds. AssemblyScript wins when both kinds of
// files are present, since a Go file there is more likely a helper script.
func Detect(dir string) (Project, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Project{}, err
	}
	for _, entry := range []string{"assembly/index.ts", "index.ts"} {
		if fileExists(filepath.Join(abs, entry)) {
			root := findUp(abs, "asconfig.json")
			if root == "" {
				return Project{}, fmt.Errorf("%w: %s has %s but no asconfig.json in it or above", ErrUnknownProject, dir, entry)
			}
			return Project{Language: AssemblyScript, Dir: abs, Root: root, Entry: filepath.Join(abs, entry)}, nil
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(abs, "*.go")); len(matches) > 0 {
		return Project{Language: Go, Dir: abs, Root: abs}, nil
	}
	return Project{}, fmt.Errorf("%w (%s)", ErrUnknownProject, dir)
}

// Build compiles the rule in dir to out and validates the module with the
// engine's upload checks, so that a module that builds is one the server
// accepts.
//
// Go: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared (a reactor; a
// plain build would be a command that traps). AssemblyScript: npx asc with
// the project's asconfig.json, release target; run `npm install` first.
// A module exporting on_script is validated as a custom-database script.
func Build(dir, out string) error {
	p, err := Detect(dir)
	if err != nil {
		return err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(absOut), 0o755); err != nil {
		return err
	}
	var cmd *exec.Cmd
	switch p.Language {
	case Go:
		goBin, err := exec.LookPath("go")
		if err != nil {
			return fmt.Errorf("%w: go is not on PATH: a Go rule needs Go 1.24 or later (https://go.dev/dl/)", ErrToolMissing)
		}
		cmd = exec.Command(goBin, "build", "-buildmode=c-shared", "-trimpath", "-o", absOut, ".")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	case AssemblyScript:
		npx, err := exec.LookPath("npx")
		if err != nil {
			return fmt.Errorf("%w: npx is not on PATH: an AssemblyScript rule needs Node.js 20 or later (https://nodejs.org/)", ErrToolMissing)
		}
		if !fileExists(filepath.Join(p.Root, "node_modules", "assemblyscript", "package.json")) {
			return fmt.Errorf("%w: the AssemblyScript compiler is not installed in %s: run `npm install` there", ErrToolMissing, p.Root)
		}
		cmd = exec.Command(npx, "--no-install", "asc", p.Entry,
			"--config", filepath.Join(p.Root, "asconfig.json"), "--target", "release", "-o", absOut)
	}
	cmd.Dir = p.Root
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s: %v\n%s", ErrBuildFailed, cmd.String(), err, output.String())
	}
	module, err := os.ReadFile(absOut)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eng, err := rules.New(ctx, rules.Config{CacheDir: cacheDir()})
	if err != nil {
		return err
	}
	defer eng.Close(ctx)
	validate, what := eng.Validate, "as a rule"
	if isScript(ctx, module) {
		validate, what = eng.ValidateScript, "as a custom-database script"
	}
	if err := validate(ctx, module); err != nil {
		return fmt.Errorf("%s built but the server would refuse it %s: %w", out, what, err)
	}
	return nil
}

// isScript reports whether module is a custom-database script (it exports
// on_script) rather than a rule; a module that does not compile is left to
// the engine's validation to describe.
func isScript(ctx context.Context, module []byte) bool {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, module)
	if err != nil {
		return false
	}
	_, ok := cm.ExportedFunctions()["on_script"]
	return ok
}

// cacheDir shares wazero's compilation cache between CLI runs; "" (memory
// only) when the user has no cache directory.
func cacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "authgraph", "wazero")
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// findUp returns the nearest directory from dir upwards that holds name.
func findUp(dir, name string) string {
	for {
		if fileExists(filepath.Join(dir, name)) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
