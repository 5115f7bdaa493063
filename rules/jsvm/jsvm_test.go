package jsvm

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPrelude is a minimal entry: the program is a CommonJS-like module
// whose exports.run(input, host) returns the result.
const testPrelude = `
function entry(factory, input, host) {
  const module = { exports: {} };
  factory(module.exports, module, undefined, console);
  return module.exports.run(input, host);
}
`

var testWrap = Wrap{Prefix: "(function (exports, module, require, console) {", Suffix: "\n})"}

// The first VM of the test binary compiles QuickJS (a second or more):
// tests share VMs where they can.
var shared struct {
	once sync.Once
	vm   *VM
	err  error
}

func sharedVM(t *testing.T) *VM {
	t.Helper()
	shared.once.Do(func() {
		shared.vm, shared.err = New(context.Background(), Config{Prelude: testPrelude, Timeout: 2 * time.Second})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.vm
}

func newVM(t *testing.T, cfg Config) *VM {
	t.Helper()
	if cfg.Prelude == "" {
		cfg.Prelude = testPrelude
	}
	vm, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vm.Close(context.Background()) })
	return vm
}

func compile(t *testing.T, vm *VM, src string) *Program {
	t.Helper()
	p, err := vm.Compile(context.Background(), "test.js", src, testWrap)
	if err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	return p
}

func run(t *testing.T, vm *VM, src, input string, host Host) (Output, error) {
	t.Helper()
	return vm.Run(context.Background(), compile(t, vm, src), "entry", input, host, 0)
}

func TestJSRunResults(t *testing.T) {
	vm := sharedVM(t)
	host := func(_ context.Context, name, arg string) (string, error) {
		if name == "fail" {
			return "", errors.New("no such thing")
		}
		return name + ":" + arg, nil
	}
	for _, tc := range []struct {
		name, src, want string
		logs            []string
	}{
		{"sync", "exports.run = (i) => 'hello ' + i", "hello in", nil},
		{"async", "exports.run = async (i) => { await null; return 'later ' + i }", "later in", nil},
		{"console", "exports.run = (i) => { console.log('a', 1, {b: [2]}); console.error(new TypeError('t')); return '' }", "",
			[]string{`a 1 {"b":[2]}`, "TypeError: t\n    at <anonymous> (test.js:1:119)\n    at entry (prelude.js:5:29)"}},
		{"host", "exports.run = (i, host) => host('echo', JSON.stringify({x: i}))", `echo:{"x":"in"}`, nil},
		{"host error", "exports.run = (i, host) => { try { host('fail', '') } catch (e) { return e instanceof Error ? e.message : 'not an Error' } }", "no such thing", nil},
		{"unicode", "exports.run = (i) => 'é😀' + i", "é😀in", nil},
		{"pending result filled by a job", "exports.run = () => { const box = { result: 'stalled' }; Promise.resolve().then(() => { box.result = 'done' }); return box }", "done", nil},
		{"pending result that nothing fills", "exports.run = () => { const box = { result: 'stalled' }; new Promise(() => {}).then(() => { box.result = 'x' }); return box }", "stalled", nil},
		{"leftover jobs run in the call", "exports.run = (i) => { Promise.resolve().then(() => console.log('job')); return 'r' }", "r", []string{"job"}},
	} {
		out, err := run(t, vm, tc.src, "in", host)
		if err != nil || out.Result != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, out.Result, err, tc.want)
		}
		if tc.logs != nil && strings.Join(out.Logs, "|") != strings.Join(tc.logs, "|") {
			t.Errorf("%s: logs %q, want %q", tc.name, out.Logs, tc.logs)
		}
	}
}

func TestJSRunErrors(t *testing.T) {
	vm := sharedVM(t)
	for _, tc := range []struct {
		name, src string
		want      error
		msg       string
	}{
		{"number", "exports.run = () => 42", ErrBadResult, "returned a number, not a string"},
		{"undefined", "exports.run = () => {}", ErrBadResult, "returned undefined"},
		{"object", "exports.run = async () => ({})", ErrBadResult, "pending result holds undefined, not a string"},
		{"pending result of a number", "exports.run = () => ({ result: 1 })", ErrBadResult, "pending result holds a number"},
		{"array", "exports.run = () => ['x']", ErrBadResult, "returned an array"},
		{"throw Error", "exports.run = () => { throw new RangeError('bad') }", ErrThrown, "RangeError: bad (at <anonymous> (test.js:1:"},
		{"throw non-Error", "exports.run = () => { throw 42 }", ErrThrown, "uncaught exception: 42"},
		{"reject", "exports.run = () => Promise.reject(new Error('no'))", ErrThrown, "Error: no"},
		{"never settles", "exports.run = () => new Promise(() => {})", ErrTimeout, ""},
		{"no std", "exports.run = () => { std.exit(1) }", ErrThrown, "ReferenceError: std is not defined"},
		{"no timers", "exports.run = () => { setTimeout(() => {}, 1) }", ErrThrown, "setTimeout is not defined"},
		{"eval tamed", "exports.run = () => eval('1')", ErrThrown, "code generation from strings is disabled"},
		{"Function tamed", "exports.run = () => Function('return 1')()", ErrThrown, "code generation from strings is disabled"},
		{"constructor tamed", "exports.run = () => (async () => {}).constructor('return 1')()", ErrThrown, "code generation from strings is disabled"},
		{"too large", "exports.run = () => 'x'.repeat(300 << 10)", ErrOutputTooLarge, "bytes, the limit is 262144"},
	} {
		out, err := run(t, vm, tc.src, "in", nil)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %q, %v; want %v containing %q", tc.name, out.Result, err, tc.want, tc.msg)
		}
	}
	if _, err := vm.Run(context.Background(), compile(t, vm, "exports.run = () => ''"), "nope", "", nil, 0); !errors.Is(err, ErrThrown) {
		t.Errorf("missing entry: %v", err)
	}
}

func TestJSCompileErrors(t *testing.T) {
	vm := sharedVM(t)
	for _, tc := range []struct {
		src       string
		line, col int
		msg       string
	}{
		{"exports.run = (i) => { var 1x }", 1, 0, "invalid number literal"},
		{"// comment\nexports.run = () => {\n  let x = ;\n}", 3, 11, "unexpected token"},
		{"let a = 1;\n  const x = 1);\n", 2, 14, "expecting"},
		{"let a = 1;\nlet b = 2; let c = 3; const x = 1);", 2, 34, "expecting"},
		{"exports.run = () => {", 1, 22, ""},
		{"exports.run = () => 1;\nconst a = \x00;", 2, 11, "NUL"},
		{"exports.run = () => import('qjs:os')", 1, 21, "import() is not available"},
		{"exports.run = () => import /* c */ ('qjs:std')", 1, 21, "import() is not available"},
		{"exports.run = () => import\n('qjs:std')", 1, 21, "import() is not available"},
		{"exports.run = () => \\u0069mport('qjs:os')", 1, 0, "reserved"},
	} {
		_, err := vm.Compile(context.Background(), "test.js", tc.src, testWrap)
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v, want a *SyntaxError", tc.src, err)
			continue
		}
		if se.Line != tc.line || tc.col > 0 && se.Column != tc.col || !strings.Contains(se.Message, tc.msg) {
			t.Errorf("%q: %+v, want line %d column %d message containing %q", tc.src, *se, tc.line, tc.col, tc.msg)
		}
	}
	// The word import elsewhere is fine.
	for _, src := range []string{
		"exports.run = () => { const o = { import: 1 }; return String(o.import) + 'import' + \"import\" }",
		"exports.run = () => { const reimport = 1; return `${reimport}` }",
	} {
		if out, err := run(t, vm, src, "", nil); err != nil || out.Result == "" {
			t.Errorf("%q: %q, %v", src, out.Result, err)
		}
	}
}

// Compiling must not run the source.
func TestJSCompileRunsNothing(t *testing.T) {
	vm := sharedVM(t)
	start := time.Now()
	for _, src := range []string{"while (true) {}", "throw new Error('ran')", "for (;;) { console.log('x') }"} {
		if _, err := vm.Compile(context.Background(), "test.js", src, testWrap); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("compiling took %s", d)
	}
}

func TestJSLogLimits(t *testing.T) {
	vm := newVM(t, Config{MaxLogLines: 3, MaxLogLineBytes: 8})
	out, err := run(t, vm, "exports.run = () => { for (let i = 0; i < 10; i++) console.log('line ' + i + '…………'); return '' }", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Logs) != 3 || out.DroppedLogs != 7 || out.Logs[0] != "line 0\u2026[truncated]" && !strings.HasSuffix(out.Logs[0], "…[truncated]") {
		t.Errorf("logs %q, dropped %d", out.Logs, out.DroppedLogs)
	}
}

func TestJSCloseAndRecycle(t *testing.T) {
	vm := newVM(t, Config{MaxConcurrent: 1, MaxIdle: 1, RecycleAfter: 2})
	p := compile(t, vm, "exports.run = () => 'ok'")
	var seen []*runtime
	for range 5 {
		if out, err := vm.Run(context.Background(), p, "entry", "", nil, 0); err != nil || out.Result != "ok" {
			t.Fatalf("%q, %v", out.Result, err)
		}
		select {
		case r := <-vm.idle:
			seen = append(seen, r)
			vm.idle <- r
		default:
			seen = append(seen, nil) // retired
		}
	}
	// Calls 2 and 4 retire their runtime; 1, 3 and 5 pool a new one.
	if seen[0] == nil || seen[1] != nil || seen[2] == nil || seen[2] == seen[0] || seen[3] != nil || seen[4] == nil {
		t.Errorf("runtimes are not retired after 2 calls: %p", seen)
	}
	if err := vm.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.Run(context.Background(), p, "entry", "", nil, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := vm.Compile(context.Background(), "x.js", "1", testWrap); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestJSPreludeError(t *testing.T) {
	_, err := New(context.Background(), Config{Prelude: "function ("})
	if err == nil || !strings.Contains(err.Error(), "prelude") {
		t.Errorf("bad prelude: %v", err)
	}
}
