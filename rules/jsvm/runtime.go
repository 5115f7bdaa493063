package jsvm

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authgraph/authgraph/internal/capbuf"
)

//go:embed setup.js
var setupJS string

// setupTimeout bounds creating a runtime and running the (trusted) prelude.
const setupTimeout = 10 * time.Second

// maxFactories bounds the programs whose factory a runtime keeps; beyond it
// the runtime is retired (programs are few; this only bounds memory).
const maxFactories = 256

// runtime is one QuickJS instance, used by one call at a time.
type runtime struct {
	vm        *VM
	q         *quickjs
	run       uint64 // setup.js's run
	freeze    uint64 // setup.js's freezeAll
	drain     []byte // bytecode of an empty script: evaluating it runs the job queue dry
	factories map[uint64]uint64
	calls     int
	gen       uint64
	cur       *call
	broken    bool          // a call failed or timed out: never reused
	stderr    capbuf.Buffer // QuickJS's own diagnostics (uncaught errors in jobs)
}

// call is one Run's host-side state.
type call struct {
	ctx          context.Context
	deadline     time.Time
	host         Host
	maxLines     int
	maxLineBytes int
	logs         []string
	dropped      int
}

// newRuntime creates a QuickJS runtime. With prelude, it runs the setup,
// the prelude and the lockdown; without, it only compiles.
func (vm *VM) newRuntime(ctx context.Context, prelude bool) (*runtime, error) {
	r := &runtime{vm: vm, factories: map[uint64]uint64{}, stderr: capbuf.Buffer{Max: 4 << 10}}
	q, err := vm.engine.instantiate(ctx, vm.cfg, &r.stderr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSetup, err)
	}
	r.q = q
	if !prelude {
		return r, nil
	}
	err = r.guard(ctx, setupTimeout, func() error { return r.setup(vm.cfg.Prelude) })
	if err != nil {
		r.close()
		return nil, fmt.Errorf("%w: %w", errSetup, err)
	}
	return r, nil
}

func (r *runtime) close() { r.q.close() }

// guard runs f with the calls that may run JavaScript bound by timeout (and
// ctx). A trap panics inside the binding; it is recovered here. Any error
// marks the runtime broken.
func (r *runtime) guard(ctx context.Context, timeout time.Duration, f func() error) (err error) {
	dl := &deadlineCtx{Context: ctx, deadline: time.Now().Add(timeout)}
	var cctx context.Context = dl
	cancel := context.CancelFunc(func() {})
	if !r.vm.engine.metered {
		// wazero closes the module when this context is done.
		cctx, cancel = context.WithDeadline(ctx, dl.deadline)
	}
	r.q.cctx = cctx
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
		r.q.cctx = context.Background()
		if err != nil {
			r.broken = true
			timedOut := dl.timedOut || errors.Is(cctx.Err(), context.DeadlineExceeded)
			err = r.classify(ctx, timedOut, err, timeout)
		}
		cancel()
	}()
	return f()
}

func panicError(p any) error {
	if e, ok := p.(error); ok {
		return e
	}
	return fmt.Errorf("%v", p)
}

// setup runs setup.js, then the prelude, then lockdown.
func (r *runtime) setup(prelude string) error {
	q := r.q
	fn, err := q.eval("setup.js", setupJS, nil, evalTypeGlobal|evalFlagStrict)
	if err != nil {
		return err
	}
	defer q.free(fn)
	rawHost := q.function(r.hostFunc)
	defer q.free(rawHost)
	rawLog := q.function(r.logFunc)
	defer q.free(rawLog)
	caps, err := q.invoke(fn, rawHost, rawLog)
	if err != nil {
		return err
	}
	defer q.free(caps)
	r.run = q.index(caps, 0)
	r.freeze = q.index(caps, 2)
	lockdown := q.index(caps, 1)
	defer q.free(lockdown)
	if strings.TrimSpace(prelude) != "" {
		if strings.IndexByte(prelude, 0) >= 0 {
			return errors.New("prelude: contains a NUL character")
		}
		v, err := q.eval("prelude.js", prelude, nil, evalTypeGlobal)
		if err != nil {
			return fmt.Errorf("prelude: %w", err)
		}
		q.free(v)
	}
	v, err := q.invoke(lockdown)
	if err != nil {
		return fmt.Errorf("lockdown: %w", err)
	}
	q.free(v)
	// Compiled once: parsing it for every call is measurable.
	r.drain, err = q.compile("drain.js", "0")
	return err
}

// hostFunc is rawHost(gen, name, arg): the host of the call gen. It answers
// "1" + result, or "0" + an error message that setup.js throws.
func (r *runtime) hostFunc(q *quickjs, args []uint64) uint64 {
	answer := func(ok bool, s string) uint64 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD") // QuickJS strings cross as C strings
		if ok {
			return q.newString("1" + s)
		}
		return q.newString("0" + s)
	}
	if r.cur == nil || len(args) < 3 || !q.bool(fnIsNumber, args[0]) || uint64(math64(q, args[0])) != r.gen {
		return answer(false, "host function called outside its call")
	}
	if r.cur.host == nil {
		return answer(false, "no host functions in this context")
	}
	name, err1 := q.toString(args[1])
	arg, err2 := q.toString(args[2])
	if err := errors.Join(err1, err2); err != nil {
		return answer(false, err.Error())
	}
	hctx, cancel := context.WithDeadline(r.cur.ctx, r.cur.deadline)
	defer cancel()
	res, err := r.cur.host(hctx, name, arg)
	if err != nil {
		return answer(false, err.Error())
	}
	return answer(true, res)
}

func math64(q *quickjs, v uint64) float64 {
	bits := q.must(fnToFloat64, q.ctx, v)
	return float64frombits(bits)
}

// logFunc is rawLog(line), the console of the current call.
func (r *runtime) logFunc(q *quickjs, args []uint64) uint64 {
	if r.cur == nil || len(args) < 1 {
		return q.undef
	}
	if len(r.cur.logs) >= r.cur.maxLines {
		r.cur.dropped++
		return q.undef
	}
	if line, err := q.toString(args[0]); err == nil {
		r.cur.addLog(line)
	}
	return q.undef
}

func (c *call) addLog(line string) {
	if len(c.logs) >= c.maxLines {
		c.dropped++
		return
	}
	if len(line) > c.maxLineBytes {
		cut := c.maxLineBytes
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut] + "…[truncated]"
	}
	c.logs = append(c.logs, strings.ToValidUTF8(line, "\uFFFD"))
}

// call runs one program in this runtime.
func (r *runtime) call(c *call, p *Program, entry, input string, timeout time.Duration) (result string, err error) {
	r.calls++
	r.gen++
	r.cur = c
	r.stderr.Reset()
	c.deadline = time.Now().Add(timeout)
	defer func() { r.cur = nil }()
	if strings.IndexByte(input, 0) >= 0 {
		return "", fmt.Errorf("%w: the input contains a NUL character", ErrBadResult)
	}
	err = r.guard(c.ctx, timeout, func() error {
		q := r.q
		factory, err := r.factory(p)
		if err != nil {
			return err
		}
		entryV := q.newString(entry)
		defer q.free(entryV)
		inputV := q.newString(input)
		defer q.free(inputV)
		genV := q.newNumber(float64(r.gen))
		defer q.free(genV)
		ret, err := q.invoke(r.run, entryV, factory, inputV, genV)
		if err != nil {
			return err
		}
		// A promise is awaited (the job queue runs until it settles); a
		// string or a pending result comes back as it is.
		v, err := q.await(ret)
		if err != nil {
			return err
		}
		defer q.free(v)
		// Run what the call left in the job queue now, within its time
		// limit: nothing of it may run during the next call, and a pending
		// result is final once the queue is empty.
		drained, err := q.eval("drain.js", "", r.drain, evalTypeGlobal)
		if err != nil {
			return err
		}
		q.free(drained)
		if q.bool(fnIsObject, v) && !q.bool(fnIsArray, v) && !q.bool(fnIsFunction, v) {
			res := q.getProp(v, "result")
			defer q.free(res)
			if !q.bool(fnIsString, res) {
				return fmt.Errorf("%w: %s's pending result holds %s, not a string", ErrBadResult, entry, r.typeName(res))
			}
			result, err = q.toString(res)
			return err
		}
		if !q.bool(fnIsString, v) {
			return fmt.Errorf("%w: %s returned %s, not a string", ErrBadResult, entry, r.typeName(v))
		}
		result, err = q.toString(v)
		return err
	})
	return result, err
}

// factory returns p's factory in this runtime, evaluating its bytecode the
// first time. The factory is frozen: it is shared by the runtime's calls.
func (r *runtime) factory(p *Program) (uint64, error) {
	if f, ok := r.factories[p.id]; ok {
		return f, nil
	}
	if len(r.factories) >= maxFactories {
		r.broken = true // retire after this call
	}
	q := r.q
	f, err := q.eval(p.Name, "", p.bytecode, evalTypeGlobal)
	if err != nil {
		return 0, err
	}
	if !q.bool(fnIsFunction, f) {
		q.free(f)
		return 0, fmt.Errorf("%w: the wrapped source of %s is not a function", ErrBadResult, p.Name)
	}
	v, err := q.invoke(r.freeze, f)
	if err != nil {
		q.free(f)
		return 0, err
	}
	q.free(v)
	r.factories[p.id] = f
	return f, nil
}

func (r *runtime) typeName(v uint64) string {
	q := r.q
	switch {
	case q.bool(fnIsUndefined, v):
		return "undefined"
	case q.bool(fnIsNull, v):
		return "null"
	case q.bool(fnIsNumber, v):
		return "a number"
	case q.bool(fnIsBool, v):
		return "a boolean"
	case q.bool(fnIsArray, v):
		return "an array"
	case q.bool(fnIsFunction, v):
		return "a function"
	case q.bool(fnIsObject, v):
		return "an object"
	}
	return "a value of another type"
}
