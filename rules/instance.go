package rules

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/authgraph/authgraph/internal/capbuf"
)

// instance is one instantiated rule module, used by one call at a time.
// Exported functions are looked up once: a lookup allocates ~50 KB.
type instance struct {
	mod     api.Module
	mem     api.Memory
	alloc   api.Function
	run     api.Function
	version api.Function
	console *capbuf.Buffer
	rand    *guestRand
	stack   [2]uint64
	calls   int
}

// newInstance instantiates cm with no file system, no environment, no
// arguments and the default fake clocks; randomness is the host's CSPRNG so
// that a rule's crypto/rand is not deterministic. Start code runs under ctx.
// entry is the exported function calls run (entryExport).
func (e *Engine) newInstance(ctx context.Context, cm wazero.CompiledModule, entry string) (*instance, error) {
	console := &capbuf.Buffer{Max: 4 << 10}
	gr := &guestRand{}
	if st, ok := ctx.(*callState); ok {
		gr.deadline = st.deadline
	} else if d, ok := ctx.Deadline(); ok {
		gr.deadline = d
	}
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: instances of one module must not collide
		WithStartFunctions(startReactor).
		WithStdout(console).
		WithStderr(console).
		WithRandSource(gr)
	mod, err := e.rt.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		return nil, withConsole(err, console)
	}
	in := &instance{
		mod:     mod,
		mem:     mod.ExportedMemory(exportMemory),
		alloc:   mod.ExportedFunction(exportAlloc),
		run:     mod.ExportedFunction(entry),
		version: mod.ExportedFunction(exportABIVersion),
		console: console,
		rand:    gr,
	}
	if in.mem == nil || in.alloc == nil || in.run == nil || in.version == nil {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("%w: ABI exports missing after instantiation", ErrInvalidModule)
	}
	return in, nil
}

func (in *instance) close(ctx context.Context) { _ = in.mod.Close(ctx) }

func (in *instance) abiVersion(ctx context.Context) (int32, error) {
	if err := in.version.CallWithStack(ctx, in.stack[:]); err != nil {
		return 0, err
	}
	return int32(uint32(in.stack[0])), nil
}

// call passes event through guest memory and returns a copy of the result.
// Any error leaves the instance unusable.
func (in *instance) call(st *callState, event []byte, maxOutput int) ([]byte, error) {
	var ctx context.Context = st
	in.calls++
	in.rand.deadline = st.deadline
	in.console.Reset()
	in.stack[0] = uint64(len(event))
	if err := in.alloc.CallWithStack(ctx, in.stack[:]); err != nil {
		return nil, fmt.Errorf("%s: %w", exportAlloc, err)
	}
	ptr := api.DecodeU32(in.stack[0])
	if !in.mem.Write(ptr, event) {
		return nil, fmt.Errorf("%w: %s returned %d, outside linear memory for %d bytes", ErrBadResult, exportAlloc, ptr, len(event))
	}
	in.stack[0], in.stack[1] = uint64(ptr), uint64(len(event))
	if err := in.run.CallWithStack(ctx, in.stack[:]); err != nil {
		return nil, err
	}
	outPtr, outLen := uint32(in.stack[0]>>32), uint32(in.stack[0])
	if int(outLen) > maxOutput {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrOutputTooLarge, outLen, maxOutput)
	}
	out, ok := in.mem.Read(outPtr, outLen)
	if !ok {
		return nil, fmt.Errorf("%w: result range [%d, +%d) is outside linear memory", ErrBadResult, outPtr, outLen)
	}
	return append([]byte(nil), out...), nil // Read is a view into guest memory
}

// guestRand is an instance's WASI random source: the host CSPRNG, read in
// chunks with the deadline checked in between, because one random_get may
// ask for the whole linear memory (tens of milliseconds) and host time is
// not metered by the fuel.
type guestRand struct {
	deadline time.Time // zero: none
}

func (g *guestRand) Read(p []byte) (int, error) {
	const chunk = 64 << 10
	n := 0
	for n < len(p) {
		if n > 0 && !g.deadline.IsZero() && time.Now().After(g.deadline) {
			return n, errors.New("random_get: time limit exceeded")
		}
		m, err := rand.Read(p[n:min(len(p), n+chunk)])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func withConsole(err error, console *capbuf.Buffer) error {
	if s := console.String(); s != "" {
		return fmt.Errorf("%w (guest output: %s)", err, s)
	}
	return err
}
