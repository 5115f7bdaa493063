package rules

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A hand-assembled module: (func (param i32) (result i32) (local i64)
// local.get 0) exported as "f".
var tinyModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type section
	0x03, 0x02, 0x01, 0x00, // function section
	0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x00, // export section
	0x0a, 0x08, 0x01, 0x06, 0x01, 0x01, 0x7e, 0x20, 0x00, 0x0b, // code section
}

func TestInstrumentMalformed(t *testing.T) {
	if _, err := instrument(tinyModule); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{nil, []byte("\x00asm\x01\x00\x00\x00\x0a\x10\x01"), tinyModule[:len(tinyModule)-1]} {
		if _, err := instrument(bad); !errors.Is(err, errMalformed) {
			t.Errorf("% x: err = %v", bad, err)
		}
	}
}

// wasm assembles a rule module by hand: the ABI exports, one imported
// idp.log (so that instrument shifts every defined function index), a
// table with f and g, a start function and a mutable global it sets.
//
//	types: 0 ()->i32  1 (i32)->i32  2 (i32,i32)->i64  3 (i32,i32)->()  4 ()->()
//	funcs: 0 import idp.<imp>  1 idp_abi_version  2 idp_alloc
//	       3 on_post_login (body)  4 f(n) (fBody)  5 g(n) = n+1 (leaf)
//	       6 start: global 0 = 7
//	table: [f, g]   memory: 1 page   data: "{}" at 2048
type wasm struct {
	imp   string // name of the idp import (default "log")
	body  []byte // on_post_login's instructions (without locals and end)
	fBody []byte // f's instructions
}

func (w wasm) bytes() []byte {
	sec := func(id byte, items ...[]byte) []byte {
		p := binary.AppendUvarint(nil, uint64(len(items)))
		for _, it := range items {
			p = append(p, it...)
		}
		out := append([]byte{id}, binary.AppendUvarint(nil, uint64(len(p)))...)
		return append(out, p...)
	}
	name := func(s string) []byte { return append(binary.AppendUvarint(nil, uint64(len(s))), s...) }
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	body := func(locals []byte, code []byte) []byte {
		b := cat(locals, code, []byte{0x0b})
		return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
	}
	imp := w.imp
	if imp == "" {
		imp = "log"
	}
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, sec(1,
		[]byte{0x60, 0x00, 0x01, 0x7f},
		[]byte{0x60, 0x01, 0x7f, 0x01, 0x7f},
		[]byte{0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7e},
		[]byte{0x60, 0x02, 0x7f, 0x7f, 0x00},
		[]byte{0x60, 0x00, 0x00})...)
	m = append(m, sec(2, cat(name("idp"), name(imp), []byte{0x00, 0x03}))...)
	m = append(m, sec(3, []byte{0}, []byte{1}, []byte{2}, []byte{1}, []byte{1}, []byte{4})...)
	m = append(m, sec(4, []byte{0x70, 0x00, 0x02})...)             // funcref table, min 2
	m = append(m, sec(5, []byte{0x00, 0x01})...)                   // memory min 1
	m = append(m, sec(6, []byte{0x7f, 0x01, 0x41, 0x00, 0x0b})...) // mut i32 global = 0
	m = append(m, sec(7,
		cat(name("memory"), []byte{0x02, 0x00}),
		cat(name("idp_abi_version"), []byte{0x00, 0x01}),
		cat(name("idp_alloc"), []byte{0x00, 0x02}),
		cat(name("on_post_login"), []byte{0x00, 0x03}))...)
	m = append(m, 0x08, 0x01, 0x06)                                            // start: function 6
	m = append(m, sec(9, []byte{0x00, 0x41, 0x00, 0x0b, 0x02, 0x04, 0x05})...) // table[0..1] = f, g
	m = append(m, sec(10,
		body([]byte{0x00}, []byte{0x41, 0x01}),
		body([]byte{0x00}, []byte{0x41, 0x80, 0x08}), // i32.const 1024
		body([]byte{0x00}, w.body),
		body([]byte{0x00}, w.fBody),
		body([]byte{0x00}, []byte{0x20, 0x00, 0x41, 0x01, 0x6a}),
		body([]byte{0x00}, []byte{0x41, 0x07, 0x24, 0x00}))...)
	m = append(m, sec(11, []byte{0x00, 0x41, 0x80, 0x10, 0x0b, 0x02, '{', '}'})...)
	return m
}

// returnEmptyObject is "return the {} at 2048": (2048 << 32) | 2.
var returnEmptyObject = append([]byte{0x42}, appendSLEB(nil, 2048<<32|2)...)

// fExp is f(n) = n == 0 ? 1 : f(n-1) + f(n-1): exponential, without a loop.
var fExp = []byte{
	0x20, 0x00, 0x45, 0x04, 0x7f, 0x41, 0x01, 0x05, // local.get 0, i32.eqz, if (result i32) 1 else
	0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x04, // f(n-1)
	0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x04, // f(n-1)
	0x6a, 0x0b, // i32.add, end
}

func invokeWasm(t *testing.T, e *Engine, w wasm, timeout time.Duration) (Invocation, time.Duration, error) {
	t.Helper()
	rv := RuleVersion{ID: "rul_hand", Name: "hand", Version: t.Name(), Module: w.bytes(), Timeout: timeout}
	if err := e.Validate(context.Background(), rv.Module); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if err := e.Prepare(context.Background(), rv); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	inv, err := e.Invoke(context.Background(), &rv, []byte("{}"))
	return inv, time.Since(start), err
}

// TestFuelIndexShifts runs a module whose every index kind moves: a call
// through the table to f and g, the start function's global, direct calls.
func TestFuelIndexShifts(t *testing.T) {
	e := newEngine(t, Config{})
	body := []byte{
		0x41, 0x05, 0x41, 0x00, 0x11, 0x01, 0x00, // call_indirect table[0] = f(5)
		0x41, 0x29, 0x41, 0x01, 0x11, 0x01, 0x00, // call_indirect table[1] = g(41)
		0x6a, 0x23, 0x00, 0x6a, // + global 0 (7, set by the start function)
	}
	// 2^5 + 42 + 7 = 81, else trap.
	body = append(body, 0x41, 0xd1, 0x00, 0x47, 0x04, 0x40, 0x00, 0x0b)             // i32.const 81, i32.ne, if unreachable end
	body = append(body, 0x41, 0x80, 0x20, 0x41, 0x00, 0x41, 0x10, 0xfc, 0x0b, 0x00) // memory.fill(4096, 0, 16)
	body = append(body, returnEmptyObject...)
	inv, _, err := invokeWasm(t, e, wasm{body: body, fBody: fExp}, 0)
	if err != nil || string(inv.Output) != "{}" {
		t.Fatalf("Invoke = %q, %v", inv.Output, err)
	}
}

// TestFuelStopsLoopFreeRecursion: f(60) makes 2^60 calls and has no loop;
// the entry charges must stop it at the deadline.
func TestFuelStopsLoopFreeRecursion(t *testing.T) {
	e := newEngine(t, Config{})
	const limit = 200 * time.Millisecond
	body := append([]byte{0x41, 0x3c, 0x10, 0x04, 0x1a}, returnEmptyObject...) // drop(f(60))
	_, took, err := invokeWasm(t, e, wasm{body: body, fBody: fExp}, limit)
	if !errors.Is(err, ErrTimeout) || took < limit || took > limit+deadlineSlack {
		t.Fatalf("err = %v after %s, want a timeout after %s", err, took, limit)
	}
	t.Logf("%s limit: stopped after %s", limit, took)
}

// TestFuelRefillsLongRules: a legitimate rule that runs far more than one
// tank of fuel (fuelRefill) but less than its time limit completes.
func TestFuelRefillsLongRules(t *testing.T) {
	e := newEngine(t, Config{})
	// local 0 (param ptr) counts up to 20M: loop { i++; br_if i < 20M }
	body := []byte{
		0x41, 0x00, 0x21, 0x00,
		0x03, 0x40,
		0x20, 0x00, 0x41, 0x01, 0x6a, 0x22, 0x00,
		0x41, 0x80, 0xda, 0xc4, 0x09, 0x48, 0x0d, 0x00, // i32.const 20_000_000, i32.lt_s, br_if 0
		0x0b,
	}
	body = append(body, returnEmptyObject...)
	inv, took, err := invokeWasm(t, e, wasm{body: body, fBody: fExp}, 5*time.Second)
	if err != nil || string(inv.Output) != "{}" {
		t.Fatalf("Invoke = %q, %v after %s", inv.Output, err, took)
	}
	// 20M iterations of about 10 units: about 2000 refills.
	t.Logf("20M iterations in %s", took)
}

// TestRefuelNotImportable: the internal import is not for rules.
func TestRefuelNotImportable(t *testing.T) {
	e := newEngine(t, Config{})
	err := e.Validate(context.Background(), wasm{imp: refuelName, body: returnEmptyObject, fBody: fExp}.bytes())
	if !errors.Is(err, ErrForbiddenImport) || !strings.Contains(err.Error(), refuelName) {
		t.Fatalf("Validate = %v, want a forbidden import", err)
	}
	// Nor can a module reach the fuel global by an index it does not own.
	body := append([]byte{0x42, 0x00, 0x24, 0x01}, returnEmptyObject...) // global.set 1
	err = e.Validate(context.Background(), wasm{body: body, fBody: fExp}.bytes())
	if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), "global 1 out of range") {
		t.Fatalf("Validate = %v, want the global index refused", err)
	}
}

// TestCacheHitAfterRestart: a second engine on the same CacheDir compiles
// nothing: the cache files are not rewritten. How much faster the restart is
// goes to the log only; a loaded machine makes any wall-clock ratio flaky.
func TestCacheHitAfterRestart(t *testing.T) {
	dir := t.TempDir()
	rv := ruleFor(t, "go-roles")
	prepare := func() time.Duration {
		e := newEngine(t, Config{CacheDir: dir})
		start := time.Now()
		if err := e.Prepare(context.Background(), rv); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if _, err := e.Invoke(context.Background(), &rv, mustJSON(t, loginEvent(t))); err != nil {
			t.Fatal(err)
		}
		_ = e.Close(context.Background())
		return took
	}
	cold := prepare()
	before := cacheFiles(t, dir)
	warm := prepare()
	after := cacheFiles(t, dir)
	if len(before) == 0 {
		t.Fatal("nothing cached")
	}
	for name, mod := range after {
		if b, ok := before[name]; !ok || !b.Equal(mod) {
			t.Fatalf("cache entry %s written by the second engine: it compiled", name)
		}
	}
	t.Logf("go-roles: compile %s, after a restart %s", cold, warm)
}

func cacheFiles(t *testing.T, dir string) map[string]time.Time {
	files := map[string]time.Time{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := os.Stat(p)
		if err == nil {
			files[p] = fi.ModTime()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
