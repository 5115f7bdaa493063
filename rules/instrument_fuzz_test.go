package rules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// instrumentBudget bounds one instrument call: it is linear in the module,
// and the fuzzer's inputs are small.
const instrumentBudget = 2 * time.Second

// FuzzInstrument: instrument parses untrusted bytes (an uploaded module).
// For any input it returns in bounded time without panicking, refuses only
// with errMalformed or ErrInvalidModule, and when wazero compiles the input,
// it compiles the instrumented module too (or instrument refused it).
//
// Seeds: the hand-assembled modules of instrument_test.go, two small
// AssemblyScript fixtures committed under testdata/fuzz/FuzzInstrument, and
// the AssemblyScript fixtures of testdata/build when they were built.
func FuzzInstrument(f *testing.F) {
	f.Add(tinyModule)
	f.Add(wasm{body: returnEmptyObject, fBody: fExp}.bytes())
	shifts := []byte{
		0x41, 0x05, 0x41, 0x00, 0x11, 0x01, 0x00, 0x41, 0x29, 0x41, 0x01, 0x11, 0x01, 0x00, 0x6a, 0x23, 0x00, 0x6a,
		0x41, 0x80, 0x20, 0x41, 0x00, 0x41, 0x10, 0xfc, 0x0b, 0x00, // memory.fill
	}
	f.Add(wasm{body: append(shifts, returnEmptyObject...), fBody: fExp}.bytes())
	loop := []byte{0x41, 0x00, 0x21, 0x00, 0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x22, 0x00, 0x41, 0x0a, 0x48, 0x0d, 0x00, 0x0b}
	f.Add(wasm{body: append(loop, returnEmptyObject...), fBody: fExp}.bytes())
	if paths, _ := filepath.Glob(filepath.Join(fixtureDir, "*as-*.wasm")); len(paths) > 0 {
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil && len(b) <= 64<<10 {
				f.Add(b)
			}
		}
	}
	ctx := context.Background()
	// The engine's compiler settings, without its compilation cache (which
	// would keep every fuzzed module).
	cfg := Config{}.withDefaults()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithMemoryLimitPages(cfg.MemoryLimit/wasmPage).WithDebugInfoEnabled(false))
	f.Cleanup(func() { _ = rt.Close(ctx) })
	compiles := func(m []byte) error {
		cm, err := rt.CompileModule(ctx, m)
		if err == nil {
			_ = cm.Close(ctx)
		}
		return err
	}
	f.Fuzz(func(t *testing.T, module []byte) {
		type result struct {
			out []byte
			err error
		}
		done := make(chan result, 1)
		go func() {
			out, err := instrument(module)
			done <- result{out, err}
		}()
		var res result
		select {
		case res = <-done:
		case <-time.After(instrumentBudget):
			t.Fatalf("instrument did not return within %s on a %d-byte module", instrumentBudget, len(module))
		}
		if res.err != nil {
			if !errors.Is(res.err, errMalformed) && !errors.Is(res.err, ErrInvalidModule) {
				t.Fatalf("instrument error %v is neither errMalformed nor ErrInvalidModule", res.err)
			}
			return
		}
		if compiles(module) != nil {
			return
		}
		if err := compiles(res.out); err != nil {
			t.Fatalf("wazero compiles the module but not its instrumented form: %v", err)
		}
	})
}
