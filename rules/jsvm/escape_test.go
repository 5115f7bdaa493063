package jsvm

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Sources that try to leave their wrapper or reach QuickJS's own modules are
// refused at compile time, whatever the comment or spacing tricks.
func TestJSCompileRefusesEscapes(t *testing.T) {
	vm := sharedVM(t)
	for _, tc := range []struct{ name, src, msg string }{
		{"import after an HTML close comment", "exports.run = async () => { const os = await import\n-->x\n('qjs:os'); return 'x' }", "HTML-like comments"},
		{"import after an HTML open comment", "exports.run = async () => { await import<!--x\n('qjs:std'); return 'x' }", "HTML-like comments"},
		{"wrapper closed early", "}); let stash = []; (function (exports, module, require, console) { exports.run = () => String(stash.length)", "must not close"},
		{"wrapper closed into a sequence", "}, function (exports) { exports.run = () => 'x'", "must not close"},
		{"wrapper closed and called", "})(); (function (exports) { exports.run = () => 'x'", "must not close"},
		{"wrapper closed around a for-await loop", "}); let stash = []; (async () => { for await (const x of []) {} })(); (function (exports) { exports.run = () => 'x'", "must not close"},
		{"for await hiding a closing brace in a string", "exports.run = async () => { for await (const x of ['}); (function () {']) {} return 'x' }\n}); let stash = 1; (function () {", "must not close"},
	} {
		_, err := vm.Compile(context.Background(), "test.js", tc.src, testWrap)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Message, tc.msg) {
			t.Errorf("%s: %v, want a *SyntaxError containing %q", tc.name, err, tc.msg)
		}
	}
	// for-await loops run (goja's parser reads them as for-of loops).
	src0 := `exports.run = async () => {
  async function* letters() { yield 'a'; await null; yield 'b'; }
  let out = '';
  for await (const l of letters()) out += l;
  for await(const p of [Promise.resolve('c')]) out += p;
  return out + ' for await (';
}`
	if out, err := run(t, vm, src0, "", nil); err != nil || out.Result != "abc for await (" {
		t.Errorf("for await: %q, %v", out.Result, err)
	}
	// Ordinary modern code passes both parsers.
	src := "exports.run = async (input) => { class A { #x = 1; static n = 2; get x() { return this.#x } }; const o = { import: 1 }; return `${new A().x}${o?.import ?? 0}` }"
	if out, err := run(t, vm, src, "", nil); err != nil || out.Result != "11" {
		t.Errorf("modern code: %q, %v", out.Result, err)
	}
}

// The linked QuickJS build is the pinned one; anything else is refused.
func TestQuickJSModulePinned(t *testing.T) {
	if err := checkQuickJSModule(quickjsWasm); err != nil {
		t.Fatal(err)
	}
	altered := append([]byte(nil), quickjsWasm...)
	altered[len(altered)-1] ^= 1
	if err := checkQuickJSModule(altered); err == nil || !strings.Contains(err.Error(), "not the reviewed build") {
		t.Errorf("altered module: %v", err)
	}
	if err := checkQuickJSModule([]byte("not wasm")); err == nil {
		t.Error("not wasm: accepted")
	}
}

// forAwaitForGoja blanks only the await of a real `for await (` on one line;
// an await that a line break, a longer name or a member access puts
// elsewhere is left for goja to read (and, where it cannot, to refuse).
func TestForAwaitForGoja(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"for await (const x of y) {}", "for       (const x of y) {}"},
		{"x;for\tawait(const x of y) {}", "x;for\t     (const x of y) {}"},
		{"{for await (a of b) {} for await (c of d) {}}", "{for       (a of b) {} for       (c of d) {}}"},
		{"'for await ('", "'for       ('"}, // inside a string: letters only
		{"r // for\nawait (r = 4) / 2", ""},
		{"$for await (r = 3)", ""},
		{"éfor await (r = 3)", ""},
		{"a.for await (r)", ""},
		{"this.#for await (r)", ""},
		{"_for await (r)", ""},
		{"for\nawait (x of y)", ""},
		{"for\u00a0await (x of y)", ""},
	} {
		want := tc.want
		if want == "" {
			want = tc.in // unchanged
		}
		if got := forAwaitForGoja(tc.in); got != want {
			t.Errorf("forAwaitForGoja(%q) = %q, want %q", tc.in, got, want)
		}
	}
}
