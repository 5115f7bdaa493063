package jsvm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Host serves the synchronous host calls of one Run: JavaScript calls
// host(name, argJSON) and gets the returned string; an error becomes a
// thrown Error with its message. ctx carries the Run's deadline.
type Host func(ctx context.Context, name string, arg string) (string, error)

// Output is what one Run produced.
type Output struct {
	Result string
	// Logs are the console lines, at most MaxLogLines of at most
	// MaxLogLineBytes (longer ones are cut and marked); DroppedLogs counts
	// the lines beyond.
	Logs        []string
	DroppedLogs int
	Duration    time.Duration
}

// VM runs untrusted programs in pooled QuickJS runtimes. It is safe for
// concurrent use.
type VM struct {
	cfg    Config
	engine *engine
	slots  chan struct{} // Runs in progress, at most MaxConcurrent
	idle   chan *runtime // at most MaxIdle

	mu     sync.Mutex
	closed bool

	compileMu sync.Mutex
	compiler  *runtime // no prelude: compiles untrusted source, never runs it

	programs atomic.Uint64 // Program ids
}

// New creates a VM and its first runtime, which runs the prelude: an error
// in the prelude is reported here.
func New(ctx context.Context, cfg Config) (*VM, error) {
	cfg = cfg.withDefaults()
	e, err := newEngine(ctx, cfg)
	if err != nil {
		return nil, err
	}
	vm := &VM{
		cfg:    cfg,
		engine: e,
		slots:  make(chan struct{}, cfg.MaxConcurrent),
		idle:   make(chan *runtime, cfg.MaxIdle),
	}
	r, err := vm.newRuntime(ctx, true)
	if err != nil {
		_ = e.close(ctx)
		return nil, err
	}
	vm.idle <- r
	return vm, nil
}

// Close releases the idle runtimes; Runs in progress finish and their
// runtimes are then released. Later calls fail with ErrClosed.
func (vm *VM) Close(ctx context.Context) error {
	vm.mu.Lock()
	if vm.closed {
		vm.mu.Unlock()
		return nil
	}
	vm.closed = true
	vm.mu.Unlock()
	for {
		select {
		case r := <-vm.idle:
			r.close()
		default:
			vm.compileMu.Lock()
			if vm.compiler != nil {
				vm.compiler.close()
				vm.compiler = nil
			}
			vm.compileMu.Unlock()
			return vm.engine.close(ctx)
		}
	}
}

func (vm *VM) isClosed() bool {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.closed
}

// Run calls globalThis[entry](factory, input, host) in a pooled runtime,
// where factory is p's wrapped source evaluated, runs the jobs it left and
// returns the string it produced. The entry returns that string, a promise
// of it (awaited), or a pending result: an object whose result property
// holds the string once the job queue has run dry (so the entry can tell a
// call that can no longer finish without awaiting anything itself).
// timeout (Config.Timeout when ≤ 0) bounds the whole call, host calls
// included. Any error discards the runtime.
func (vm *VM) Run(ctx context.Context, p *Program, entry, input string, host Host, timeout time.Duration) (Output, error) {
	start := time.Now()
	if timeout <= 0 {
		timeout = vm.cfg.Timeout
	}
	if vm.isClosed() {
		return Output{}, ErrClosed
	}
	release, err := vm.admit(ctx, timeout)
	if err != nil {
		return Output{}, err
	}
	defer release()
	r, err := vm.acquire(ctx)
	if err != nil {
		return Output{Duration: time.Since(start)}, err
	}
	c := &call{ctx: ctx, host: host, maxLines: vm.cfg.MaxLogLines, maxLineBytes: vm.cfg.MaxLogLineBytes}
	res, err := r.call(c, p, entry, input, timeout)
	out := Output{Result: res, Logs: c.logs, DroppedLogs: c.dropped, Duration: time.Since(start)}
	if err == nil && len(res) > vm.cfg.MaxOutput {
		out.Result = ""
		err = fmt.Errorf("%w: %d bytes, the limit is %d", ErrOutputTooLarge, len(res), vm.cfg.MaxOutput)
	}
	vm.release(r, err == nil)
	return out, err
}

// admit takes one of the MaxConcurrent slots, waiting at most timeout.
func (vm *VM) admit(ctx context.Context, timeout time.Duration) (func(), error) {
	select {
	case vm.slots <- struct{}{}:
		return func() { <-vm.slots }, nil
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case vm.slots <- struct{}{}:
		return func() { <-vm.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, fmt.Errorf("%w: %d calls in progress", ErrBusy, vm.cfg.MaxConcurrent)
	}
}

func (vm *VM) acquire(ctx context.Context) (*runtime, error) {
	select {
	case r := <-vm.idle:
		return r, nil
	default:
	}
	return vm.newRuntime(ctx, true)
}

// release pools a healthy runtime under its call budget, else closes it.
func (vm *VM) release(r *runtime, healthy bool) {
	if healthy && !r.broken && r.calls < vm.cfg.RecycleAfter {
		vm.mu.Lock()
		if !vm.closed {
			select {
			case vm.idle <- r:
				vm.mu.Unlock()
				return
			default:
			}
		}
		vm.mu.Unlock()
	}
	r.close()
}

// errSetup wraps a failure to create a runtime (the host's fault or the
// prelude's, never a program's).
var errSetup = errors.New("jsvm: runtime setup")
