package rules

// JavaScript rules and scripts on rules/jsvm: the engine creates one VM on
// first use, compiles each rule version once (bytecode, cached like a
// compiled module) and runs it with the limits and execution slots of
// WebAssembly rules. Errors are mapped to the same sentinels, so pipelines,
// RuleError and messages do not depend on the rule's language.

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/authgraph/authgraph/rules/jsvm"
)

// The preludes: trusted JavaScript run once per runtime, in name order.
//
//go:embed js/*.js
var preludeFS embed.FS

// jsPreludeSource is the prelude the engine loads (tests replace it).
var jsPreludeSource = jsPrelude

// jsPrelude returns the preludes concatenated in name order.
func jsPrelude() (string, error) {
	names, err := fs.Glob(preludeFS, "js/*.js")
	if err != nil {
		return "", err
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		src, err := preludeFS.ReadFile(n)
		if err != nil {
			return "", err
		}
		b.Write(src)
		b.WriteString("\n;\n") // a file without a final newline or semicolon
	}
	return b.String(), nil
}

// jsEngine is the engine's JavaScript side, created on first use.
type jsEngine struct {
	mu sync.Mutex
	// vm runs post-login rules; scriptVM custom-database scripts, which see
	// plaintext passwords and connection configuration: they never share a
	// runtime with code written by whoever may edit rules.
	vm, scriptVM *jsvm.VM
	progs        map[string]*jsProgram // by RuleVersion.key() (+ "#" + op for scripts)
}

type jsProgram struct {
	source string
	prog   *jsvm.Program
	entry  string
}

// jsVM returns the engine's VM for rules (script false) or custom-database
// scripts, creating it (and compiling QuickJS, about a second, or loading it
// from the cache) on first use.
func (e *Engine) jsVM(ctx context.Context, script bool) (*jsvm.VM, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	e.js.mu.Lock()
	defer e.js.mu.Unlock()
	slot := &e.js.vm
	if script {
		slot = &e.js.scriptVM
	}
	if *slot != nil {
		return *slot, nil
	}
	prelude, err := jsPreludeSource()
	if err != nil {
		return nil, fmt.Errorf("rules: javascript preludes: %w", err)
	}
	cacheDir := ""
	if e.cfg.CacheDir != "" {
		cacheDir = filepath.Join(e.cfg.CacheDir, "quickjs")
	}
	start := time.Now()
	vm, err := jsvm.New(ctx, jsvm.Config{
		Prelude:         prelude,
		Timeout:         e.cfg.Timeout,
		MemoryLimit:     int(e.cfg.MemoryLimit),
		MaxConcurrent:   e.cfg.MaxConcurrent,
		MaxIdle:         e.cfg.MaxIdle,
		RecycleAfter:    e.cfg.RecycleAfter,
		MaxOutput:       e.cfg.MaxOutput,
		MaxLogLines:     e.cfg.MaxLogLines,
		MaxLogLineBytes: e.cfg.MaxLogLineBytes,
		CacheDir:        cacheDir,
		Logger:          e.log,
		Instrument:      instrument,
		// QuickJS's interpreter loop is one huge region, charged in full
		// for every opcode: a larger tank keeps clock checks rare.
		Refill: 10 * fuelRefill,
	})
	if err != nil {
		return nil, fmt.Errorf("rules: javascript runtime: %w", err)
	}
	e.log.Debug("rules: javascript runtime ready", "took", time.Since(start))
	*slot = vm
	if e.js.progs == nil {
		e.js.progs = map[string]*jsProgram{}
	}
	return vm, nil
}

// prepareJS compiles a JavaScript rule ahead of its first login (scripts
// are compiled per operation, on first use).
func (e *Engine) prepareJS(ctx context.Context, rv *RuleVersion) error {
	vm, err := e.jsVM(ctx, rv.Script)
	if err != nil || rv.Script {
		return err
	}
	_, err = e.jsProgramFor(ctx, vm, rv, "")
	return err
}

// closeJS closes the VM (Engine.Close).
func (e *Engine) closeJS(ctx context.Context) error {
	e.js.mu.Lock()
	vms := []*jsvm.VM{e.js.vm, e.js.scriptVM}
	e.js.vm, e.js.scriptVM, e.js.progs = nil, nil, nil
	e.js.mu.Unlock()
	var errs []error
	for _, vm := range vms {
		if vm != nil {
			errs = append(errs, vm.Close(ctx))
		}
	}
	return errors.Join(errs...)
}

// evictJS drops the compiled programs of a rule or script version.
func (e *Engine) evictJS(id, version string) {
	rule := (&RuleVersion{ID: id, Version: version}).key()
	script := (&RuleVersion{ID: id, Version: version, Script: true}).key()
	e.js.mu.Lock()
	defer e.js.mu.Unlock()
	for k := range e.js.progs {
		base, _, _ := strings.Cut(k, "#")
		if base == rule || base == script {
			delete(e.js.progs, k)
		}
	}
}

// jsProgramFor returns rv's compiled program and its entry (for a script,
// the one for op), compiling it once per version.
func (e *Engine) jsProgramFor(ctx context.Context, vm *jsvm.VM, rv *RuleVersion, op string) (*jsProgram, error) {
	key := rv.key()
	if rv.Script {
		key += "#" + op
	}
	e.js.mu.Lock()
	p := e.js.progs[key]
	e.js.mu.Unlock()
	if p != nil && p.source == rv.JavaScript {
		return p, nil
	}
	if err := e.checkJSSize(rv.JavaScript); err != nil {
		return nil, err
	}
	var wrap jsvm.Wrap
	var entry, name string
	if rv.Script {
		if !isJSIdentifier(op) {
			return nil, fmt.Errorf("%w: unknown custom-database operation %q", ErrBadResult, op)
		}
		wrap, entry, name = scriptWrap(op), entryCustomDB, op+".js"
	} else {
		wrap, entry = wrapFor(DetectKind(rv.JavaScript))
		name = "rule.js"
	}
	prog, err := vm.Compile(ctx, name, rv.JavaScript, wrap)
	if err != nil {
		return nil, jsCompileError(err)
	}
	p = &jsProgram{source: rv.JavaScript, prog: prog, entry: entry}
	e.js.mu.Lock()
	if e.js.progs != nil {
		e.js.progs[key] = p
	}
	e.js.mu.Unlock()
	return p, nil
}

func isJSIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// jsCompileError makes a syntax error an upload-time error: it wraps both
// ErrInvalidModule and the *jsvm.SyntaxError (line and column).
func jsCompileError(err error) error {
	var se *jsvm.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: javascript syntax error at %w", ErrInvalidModule, se)
	}
	switch {
	case errors.Is(err, jsvm.ErrClosed):
		return ErrClosed
	case errors.Is(err, jsvm.ErrStackOverflow), errors.Is(err, jsvm.ErrMemoryLimit), errors.Is(err, jsvm.ErrTimeout), errors.Is(err, jsvm.ErrThrown):
		// The compiler itself gave up (nesting too deep for its stack, a
		// source too large for the heap): the source is refused.
		return fmt.Errorf("%w: the javascript source cannot be compiled: %v", ErrInvalidModule, err)
	}
	return err
}

// checkJSSize refuses a source larger than the module size limit.
func (e *Engine) checkJSSize(source string) error {
	if len(source) > e.cfg.MaxModuleSize {
		return invalid(ErrModuleTooLarge, "javascript source of %d bytes, the limit is %d", len(source), e.cfg.MaxModuleSize)
	}
	return nil
}

// invokeJS is invoke for a JavaScript rule or script.
func (e *Engine) invokeJS(parent context.Context, rv *RuleVersion, input []byte, st *callState) ([]byte, error) {
	limit := e.cfg.timeoutFor(rv)
	vm, err := e.jsVM(parent, rv.Script)
	if err != nil {
		return nil, err
	}
	var op string
	if rv.Script {
		var in struct {
			Op string `json:"op"`
		}
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, fmt.Errorf("%w: script input: %v", ErrBadResult, err)
		}
		op = in.Op
	}
	// Compiling is the host's work, once per version, outside the limit.
	p, err := e.jsProgramFor(parent, vm, rv, op)
	if err != nil {
		return nil, err
	}
	release, err := e.admit(parent)
	if err != nil {
		return nil, err
	}
	defer release()
	st.Context = parent
	st.deadline = time.Now().Add(limit)
	var host jsvm.Host
	if call := scriptCallFrom(parent); rv.Script && call != nil {
		host = jsScriptHost(st, call)
	}
	out, err := vm.Run(parent, p.prog, p.entry, string(input), host, limit)
	for _, l := range out.Logs {
		st.addLog(l)
	}
	st.dropped += out.DroppedLogs
	if err != nil {
		err = e.classifyJS(parent, err, st, limit)
		e.log.Debug("rules: javascript call failed", "rule_id", rv.ID, "version", rv.Version, "err", err)
		return nil, err
	}
	if outOfMemory(out.Result) {
		// The prelude caught QuickJS's out-of-memory exception and
		// reported it: it is the memory limit, as for a module.
		return nil, fmt.Errorf("%w (%d MiB): javascript heap exhausted", ErrMemoryLimit, e.cfg.MemoryLimit>>20)
	}
	return []byte(out.Result), nil
}

// outOfMemory reports whether a result is the error QuickJS throws when its
// heap limit is reached.
func outOfMemory(result string) bool {
	if !strings.Contains(result, "out of memory") {
		return false
	}
	var r struct {
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(result), &r) != nil || r.Error == nil {
		return false
	}
	m := strings.TrimPrefix(r.Error.Message, "InternalError: ")
	return m == "out of memory"
}

// classifyJS maps jsvm's errors to the execution sentinels, with the
// rule's secrets redacted.
func (e *Engine) classifyJS(parent context.Context, err error, st *callState, limit time.Duration) error {
	msg := st.redact(err.Error())
	switch {
	case parent.Err() != nil:
		return fmt.Errorf("login cancelled: %w", parent.Err())
	case errors.Is(err, jsvm.ErrTimeout):
		return fmt.Errorf("%w: stopped after %s", ErrTimeout, limit)
	case errors.Is(err, jsvm.ErrMemoryLimit):
		return fmt.Errorf("%w (%d MiB): javascript heap exhausted", ErrMemoryLimit, e.cfg.MemoryLimit>>20)
	case errors.Is(err, jsvm.ErrStackOverflow):
		return fmt.Errorf("%w: %s", ErrTrap, msg)
	case errors.Is(err, jsvm.ErrOutputTooLarge):
		return fmt.Errorf("%w: %s", ErrOutputTooLarge, strings.TrimPrefix(msg, jsvm.ErrOutputTooLarge.Error()+": "))
	case errors.Is(err, jsvm.ErrBadResult):
		return fmt.Errorf("%w: %s", ErrBadResult, strings.TrimPrefix(msg, jsvm.ErrBadResult.Error()+": "))
	case errors.Is(err, jsvm.ErrClosed):
		return ErrClosed
	case errors.Is(err, jsvm.ErrBusy):
		return fmt.Errorf("%w: %s", ErrBusy, msg)
	}
	return fmt.Errorf("%w: %s", ErrTrap, msg)
}

// jsScriptHost serves a script's host(name, requestJSON): the response is
// the function's result or {"error": "..."}, as for WebAssembly scripts; an
// unknown name throws.
func jsScriptHost(st *callState, call *scriptCall) jsvm.Host {
	return func(ctx context.Context, name, arg string) (string, error) {
		f, ok := scriptFns[name]
		if !ok {
			return "", fmt.Errorf("unknown host function %q", name)
		}
		out := scriptResponse(ctx, st, call, name, f, len(arg), func() []byte { return []byte(arg) })
		return string(out), nil
	}
}

// ValidateJavaScript checks an Action's or legacy Rule's source at upload:
// its syntax (a *jsvm.SyntaxError with line and column, wrapped with
// ErrInvalidModule) and its shape (validateJSShape). It runs nothing.
func (e *Engine) ValidateJavaScript(ctx context.Context, source string) error {
	if err := e.checkJSSize(source); err != nil {
		return err
	}
	kind := DetectKind(source)
	wrap, _ := wrapFor(kind)
	vm, err := e.jsVM(ctx, false)
	if err != nil {
		return err
	}
	if _, err := vm.Compile(ctx, "rule.js", source, wrap); err != nil {
		return jsCompileError(err)
	}
	return validateJSShape(kind, source)
}
