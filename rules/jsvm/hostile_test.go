package jsvm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Hostile programs end with the right error, fast, and the VM still runs a
// good program afterwards.
func TestJSHostile(t *testing.T) {
	vm := newVM(t, Config{MemoryLimit: 16 << 20, MaxConcurrent: 1, MaxIdle: 1})
	good := compile(t, vm, "exports.run = (i) => 'good ' + i")
	const limit = 500 * time.Millisecond
	for _, tc := range []struct {
		name, src string
		want      []error // any of
	}{
		{"infinite loop", "exports.run = () => { while (true) {} }", []error{ErrTimeout}},
		{"await loop", "exports.run = async () => { while (true) { await 0; } }", []error{ErrTimeout}},
		{"job chain left behind", "exports.run = () => { const f = () => Promise.resolve().then(f); f(); return 'x' }", []error{ErrTimeout}},
		{"deep recursion", "exports.run = () => { const f = (n) => f(n + 1) + 1; return String(f(0)) }", []error{ErrStackOverflow}},
		{"deep JSON", "exports.run = () => JSON.stringify(JSON.parse('['.repeat(1e5) + ']'.repeat(1e5)))", []error{ErrStackOverflow, ErrMemoryLimit}},
		{"string doubling", "exports.run = () => { let s = 'x'; for (;;) s += s; }", []error{ErrMemoryLimit}},
		{"giant repeat", "exports.run = () => 'x'.repeat(1 << 30)", []error{ErrThrown, ErrMemoryLimit}},
		{"huge typed array", "exports.run = () => String(new Float64Array(1 << 27).length)", []error{ErrMemoryLimit}},
		{"many objects", "exports.run = () => { const a = []; for (;;) a.push({ a: [1, 2, 3] }); }", []error{ErrMemoryLimit, ErrTimeout}},
		{"catches out of memory", "exports.run = () => { let n = 0; for (;;) { try { let s = 'x'; for (;;) s += s; } catch (e) { n++; } } }", []error{ErrTimeout, ErrMemoryLimit}},
		{"throw non-Error", "exports.run = () => { throw { toString() { return 'obj' } } }", []error{ErrThrown}},
		{"throw with hostile toString", "exports.run = () => { throw { toString() { for (;;) {} } } }", []error{ErrTimeout}},
		{"return non-string", "exports.run = () => [1, 2]", []error{ErrBadResult}},
		{"Atomics.wait", "exports.run = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1e9)", []error{ErrThrown, ErrTimeout}},
		{"Date busy wait", "exports.run = () => { const t = Date.now(); while (Date.now() - t < 1e7) {} }", []error{ErrTimeout}},
	} {
		start := time.Now()
		_, err := vm.Run(context.Background(), compile(t, vm, tc.src), "entry", "", nil, limit)
		took := time.Since(start)
		ok := false
		for _, w := range tc.want {
			ok = ok || errors.Is(err, w)
		}
		if !ok {
			t.Errorf("%s: %v, want one of %v", tc.name, err, tc.want)
		}
		// A new runtime (tens of milliseconds, more under -race) is not
		// charged to the call but is part of took.
		if took > limit+2*time.Second {
			t.Errorf("%s: took %s with a %s limit", tc.name, took, limit)
		}
		if out, err := vm.Run(context.Background(), good, "entry", "after", nil, limit); err != nil || out.Result != "good after" {
			t.Errorf("after %s: %q, %v", tc.name, out.Result, err)
		}
	}
}

// The QuickJS build's own file and process functions, were they reached
// (the prelude is trusted; untrusted code cannot reach them): there is no
// file system, and exiting only ends that runtime.
func TestJSNoFileSystem(t *testing.T) {
	vm := sharedVM(t)
	r, err := vm.newRuntime(context.Background(), false) // no setup: std and os are still globals
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	for _, tc := range []struct{ code, want string }{
		{"String(std.loadFile('/etc/passwd'))", "null"},
		{"String(std.loadFile('/etc/hostname'))", "null"},
		{"String(std.open('/tmp/authgraph-jsvm-write-test', 'w'))", "null"},
		{"String(os.readdir('/')[1] !== 0)", "true"},
		{"String(os.open('/x', os.O_WRONLY | os.O_CREAT) < 0)", "true"},
		{"String(typeof os.exec)", "undefined"},
		{"String(std.getenv('HOME'))", "undefined"},
	} {
		err := r.guard(context.Background(), 2*time.Second, func() error {
			v, err := r.q.eval("t.js", tc.code, nil, evalTypeGlobal)
			if err != nil {
				return err
			}
			defer r.q.free(v)
			got, err := r.q.toString(v)
			if got != tc.want {
				t.Errorf("%s = %q, want %q", tc.code, got, tc.want)
			}
			return err
		})
		if err != nil {
			t.Errorf("%s: %v", tc.code, err)
		}
	}
	err = r.guard(context.Background(), 2*time.Second, func() error {
		_, err := r.q.eval("t.js", "std.exit(3)", nil, evalTypeGlobal)
		return err
	})
	if err == nil || !r.broken || !strings.Contains(err.Error(), "exit_code(3)") {
		t.Errorf("std.exit: %v (broken %v)", err, r.broken)
	}
	if out, err := run(t, vm, "exports.run = () => 'still fine'", "", nil); err != nil || out.Result != "still fine" {
		t.Errorf("after exit: %q, %v", out.Result, err)
	}
}

// A cancelled caller stops the call.
func TestJSCancelled(t *testing.T) {
	vm := sharedVM(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := vm.Run(ctx, compile(t, vm, "exports.run = () => { for (;;) {} }"), "entry", "", nil, 5*time.Second)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled: %v", err)
	}
}
