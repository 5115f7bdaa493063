package jsvm

// A thin binding of the QuickJS-NG WebAssembly build that
// github.com/fastschema/qjs ships. Its Go API cannot be used as is with
// wazero v1.12: every qjs.Runtime has its own wazero runtime but
// instantiates one module compiled in another runtime, which v1.12 refuses
// (function type ids are per runtime). Here one wazero runtime per VM
// compiles the module once and instantiates it per QuickJS runtime, with no
// file system at all, fake sleeps (nothing can block a goroutine) and the
// exported functions looked up once (a lookup allocates a call stack).

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
	_ "unsafe" // go:linkname

	_ "github.com/fastschema/qjs" // the QuickJS-NG wasm build
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/authgraph/authgraph/internal/capbuf"
)

//go:linkname quickjsWasm github.com/fastschema/qjs.wasmBytes
var quickjsWasm []byte

// quickjsSHA256 pins the QuickJS build: the binding below calls its exports
// by name and signature, and the lockdown relies on what it defines, so a
// different build (another qjs version) must be reviewed, not picked up.
const quickjsSHA256 = "88fcbeead33cca3ec8394feb0fb3eec8047ec9ac5062aba7a63799cee11989b7"

// checkQuickJSModule verifies that the linked bytes are the pinned build.
func checkQuickJSModule(b []byte) error {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return errors.New("jsvm: the QuickJS module from github.com/fastschema/qjs is missing or not WebAssembly")
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != quickjsSHA256 {
		return fmt.Errorf("jsvm: the QuickJS module from github.com/fastschema/qjs is not the reviewed build (sha256 %x)", sum)
	}
	return nil
}

// Exported functions of the module, looked up once per instance.
const (
	fnMalloc = iota
	fnFree
	fnNewQJS
	fnGetContext
	fnEval
	fnCreateEvalOption
	fnCompile2
	fnCall
	fnAwait
	fnToCString
	fnFreeCString
	fnIsString
	fnNewString
	fnFreeValue
	fnGetException
	fnHasException
	fnGetGlobalObject
	fnGetPropertyStr
	fnGetPropertyUint32
	fnIsNumber
	fnToFloat64
	fnNewFloat64
	fnCreateFunctionProxy
	fnIsFunction
	fnIsUndefined
	fnIsNull
	fnIsBool
	fnIsObject
	fnIsArray
	fnNewUndefined
	numFns
)

var fnNames = [numFns]string{
	"malloc", "free", "New_QJS", "QJS_GetContext", "QJS_Eval", "QJS_CreateEvalOption", "QJS_Compile2",
	"QJS_Call", "js_std_await", "QJS_ToCString", "JS_FreeCString", "QJS_IsString", "QJS_NewString",
	"QJS_FreeValue", "JS_GetException", "JS_HasException", "JS_GetGlobalObject", "JS_GetPropertyStr",
	"QJS_GetPropertyUint32", "QJS_IsNumber", "QJS_ToFloat64", "QJS_NewFloat64", "QJS_CreateFunctionProxy",
	"QJS_IsFunction", "QJS_IsUndefined", "QJS_IsNull", "QJS_IsBool", "QJS_IsObject", "QJS_IsArray",
	"JS_NewUndefined",
}

// QuickJS eval flags (quickjs.h).
const (
	evalTypeGlobal  = 0
	evalFlagStrict  = 1 << 3
	evalCompileOnly = 1 << 5
)

// engine is the wazero runtime shared by a VM's QuickJS instances.
type engine struct {
	rt      wazero.Runtime
	cache   wazero.CompilationCache // nil: the process's (never closed)
	cm      wazero.CompiledModule
	metered bool // instrumented: the deadline is checked by refuel

	mu        sync.Mutex
	instances map[api.Module]*quickjs // for jsFunctionProxy
}

func newEngine(ctx context.Context, cfg Config) (*engine, error) {
	// Without a directory, VMs of one process share an in-memory cache: the
	// module compiles once per process (tests and servers may create several
	// engines). Metered and unmetered modules differ in bytes, so in keys.
	cache, ownCache := processCache(), false
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("jsvm: compilation cache %s: %w", cfg.CacheDir, err)
		}
		cache, ownCache = c, true
	}
	// The QuickJS heap limit is enforced by QuickJS (an "out of memory"
	// exception); the linear memory cap adds room for the C stack, the
	// allocator's slack and the module's data. Memory grows as QuickJS asks
	// (a copy per growth, a few per runtime): reserving the whole cap up
	// front cost a zeroed 64 MiB or more per runtime, at every recycle, and
	// as resident memory for every idle runtime.
	pages := uint32(min((int64(cfg.MemoryLimit)+(32<<20))/65536, 65536))
	module := quickjsWasm
	if err := checkQuickJSModule(module); err != nil {
		return nil, err
	}
	metered := cfg.Instrument != nil
	if metered {
		var err error
		if module, err = cfg.Instrument(module); err != nil {
			if ownCache {
				_ = cache.Close(ctx)
			}
			return nil, fmt.Errorf("jsvm: instrument QuickJS: %w", err)
		}
	}
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithCloseOnContextDone(!metered).
		WithMemoryLimitPages(pages).
		WithMemoryCapacityFromMax(false)
	e := &engine{rt: wazero.NewRuntimeWithConfig(ctx, rc), metered: metered, instances: map[api.Module]*quickjs{}}
	if ownCache {
		e.cache = cache
	}
	fail := func(err error) (*engine, error) {
		_ = e.close(ctx)
		return nil, err
	}
	if metered {
		refill := cfg.Refill
		_, err := e.rt.NewHostModuleBuilder("idp").NewFunctionBuilder().
			WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) { refuel(ctx, stack, refill) }), nil, []api.ValueType{api.ValueTypeI64}).
			Export("__refuel").Instantiate(ctx)
		if err != nil {
			return fail(fmt.Errorf("jsvm: host module: %w", err))
		}
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.rt); err != nil {
		return fail(fmt.Errorf("jsvm: WASI: %w", err))
	}
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	_, err := e.rt.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(e.functionProxy), []api.ValueType{i32, i64, i32, i32}, []api.ValueType{i64}).
		Export("jsFunctionProxy").Instantiate(ctx)
	if err != nil {
		return fail(fmt.Errorf("jsvm: host module: %w", err))
	}
	if e.cm, err = e.rt.CompileModule(ctx, module); err != nil {
		return fail(fmt.Errorf("jsvm: compile QuickJS: %w", err))
	}
	return e, nil
}

func (e *engine) close(ctx context.Context) error {
	err := e.rt.Close(ctx)
	if e.cache != nil {
		err = errors.Join(err, e.cache.Close(ctx))
	}
	return err
}

var memCache struct {
	once  sync.Once
	cache wazero.CompilationCache
}

func processCache() wazero.CompilationCache {
	memCache.once.Do(func() { memCache.cache = wazero.NewCompilationCache() })
	return memCache.cache
}

// deadlineCtx is the context of the calls of one guarded operation when the
// module is metered: refuel compares the clock with deadline (no timer, no
// goroutine per call).
type deadlineCtx struct {
	context.Context
	deadline time.Time
	timedOut bool
}

// refuel is idp.__refuel() -> i64, entered when the module's fuel runs out.
func refuel(ctx context.Context, stack []uint64, refill int64) {
	if d, ok := ctx.(*deadlineCtx); ok {
		if d.Context.Err() == nil && time.Now().Before(d.deadline) {
			stack[0] = uint64(refill)
			return
		}
		d.timedOut = true
		panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
	}
	if ctx.Err() != nil {
		panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
	}
	stack[0] = uint64(refill) // instantiation: no deadline of its own
}

// goFunc is a Go function callable from JavaScript: it gets the raw
// argument values (owned by the caller) and returns a new value.
type goFunc func(q *quickjs, args []uint64) uint64

// quickjs is one module instance with one QuickJS runtime and context.
type quickjs struct {
	e     *engine
	mod   api.Module
	mem   api.Memory
	fns   [numFns]api.Function
	ctx   uint64 // JSContext*
	undef uint64 // JS_UNDEFINED
	funcs []goFunc
	// cctx is the context of calls that may run JavaScript: a Run's
	// deadline, or Background between calls.
	cctx context.Context
}

func (e *engine) instantiate(ctx context.Context, cfg Config, stderr *capbuf.Buffer) (*quickjs, error) {
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // the module is used as a library; _start runs a shell
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(func(int64) {}). // nothing may block: a sleep returns at once
		WithRandSource(rand.Reader).
		WithStdout(stderr).
		WithStderr(stderr)
	mod, err := e.rt.InstantiateModule(ctx, e.cm, mc)
	if err != nil {
		return nil, err
	}
	q := &quickjs{e: e, mod: mod, mem: mod.Memory(), cctx: context.Background()}
	for i, n := range fnNames {
		if q.fns[i] = mod.ExportedFunction(n); q.fns[i] == nil {
			_ = mod.Close(ctx)
			return nil, fmt.Errorf("jsvm: QuickJS export %s missing", n)
		}
	}
	e.mu.Lock()
	e.instances[mod] = q
	e.mu.Unlock()
	rt, err := q.call(fnNewQJS, uint64(cfg.MemoryLimit), uint64(cfg.MaxStackSize), 0, 0)
	if err == nil && rt == 0 {
		err = errors.New("QuickJS runtime creation failed")
	}
	if err == nil {
		q.ctx, err = q.call(fnGetContext, rt)
	}
	if err == nil {
		q.undef, err = q.call(fnNewUndefined)
	}
	if err != nil {
		q.close()
		return nil, fmt.Errorf("jsvm: %w", err)
	}
	return q, nil
}

func (q *quickjs) close() {
	q.e.mu.Lock()
	delete(q.e.instances, q.mod)
	q.e.mu.Unlock()
	_ = q.mod.Close(context.Background())
}

// call calls an export. Pointers and 32-bit values are passed as uint64.
func (q *quickjs) call(fn int, args ...uint64) (uint64, error) {
	var stack [8]uint64
	copy(stack[:], args)
	if err := q.fns[fn].CallWithStack(q.cctx, stack[:]); err != nil {
		return 0, err
	}
	return stack[0], nil
}

// must is call for functions that run no JavaScript and cannot fail but by
// a trap (the module closed at the deadline): a trap panics, recovered by
// runtime.guard.
func (q *quickjs) must(fn int, args ...uint64) uint64 {
	v, err := q.call(fn, args...)
	if err != nil {
		panic(err)
	}
	return v
}

func float64frombits(b uint64) float64 { return math.Float64frombits(b) }

func (q *quickjs) free(v uint64) { q.must(fnFreeValue, q.ctx, v) }

func (q *quickjs) bool(fn int, v uint64) bool {
	if fn == fnIsFunction {
		return uint32(q.must(fn, q.ctx, v)) != 0
	}
	return uint32(q.must(fn, v)) != 0
}

// cstring copies s into a malloc'd NUL-terminated buffer (free it with
// freePtr).
func (q *quickjs) cstring(s string) uint64 {
	p := q.must(fnMalloc, uint64(len(s)+1))
	if p == 0 {
		panic(errOutOfMemory)
	}
	if !q.mem.WriteString(uint32(p), s) || !q.mem.WriteByte(uint32(p)+uint32(len(s)), 0) {
		panic(errors.New("jsvm: string outside linear memory"))
	}
	return p
}

var errOutOfMemory = errors.New("InternalError: out of memory")

func (q *quickjs) freePtr(p uint64) { q.must(fnFree, p) }

// newString returns a JavaScript string (s must not contain NUL).
func (q *quickjs) newString(s string) uint64 {
	p := q.cstring(s)
	defer q.freePtr(p)
	return q.must(fnNewString, q.ctx, p)
}

func (q *quickjs) newNumber(f float64) uint64 {
	return q.must(fnNewFloat64, q.ctx, math.Float64bits(f))
}

// toString converts v with JavaScript's String() (which may run code: an
// object's toString) and copies it out.
func (q *quickjs) toString(v uint64) (string, error) {
	box, err := q.call(fnToCString, q.ctx, v)
	if err != nil {
		return "", err
	}
	if box == 0 {
		if q.hasException() {
			return "", q.exception()
		}
		return "", nil
	}
	defer q.freePtr(box)
	packed, ok := q.mem.ReadUint64Le(uint32(box))
	if !ok {
		return "", errors.New("jsvm: string outside linear memory")
	}
	addr, size := uint32(packed>>32), uint32(packed)
	b, ok := q.mem.Read(addr, size)
	if !ok {
		return "", errors.New("jsvm: string outside linear memory")
	}
	s := string(b)
	q.must(fnFreeCString, q.ctx, uint64(addr))
	return s, nil
}

func (q *quickjs) hasException() bool { return uint32(q.must(fnHasException, q.ctx)) != 0 }

// exception takes the pending exception as an error "Name: message\nstack".
func (q *quickjs) exception() error {
	exc := q.must(fnGetException, q.ctx)
	defer q.free(exc)
	msg, err := q.toString(exc)
	if err != nil {
		return fmt.Errorf("an exception that cannot be converted to a string (%w)", err)
	}
	if q.bool(fnIsObject, exc) {
		if stack := q.getProp(exc, "stack"); stack != 0 {
			defer q.free(stack)
			if !q.bool(fnIsUndefined, stack) {
				if s, err := q.toString(stack); err == nil && s != "" {
					msg += "\n" + s
				}
			}
		}
	}
	return errors.New(msg)
}

// check returns the pending exception if v is JS_EXCEPTION.
func (q *quickjs) check(v uint64) (uint64, error) {
	if uint32(v>>32) == jsTagException {
		return 0, q.exception()
	}
	return v, nil
}

// JS_TAG_EXCEPTION in the NaN-boxed JSValue of the wasm32 build.
const jsTagException = 6

func (q *quickjs) getProp(obj uint64, name string) uint64 {
	p := q.cstring(name)
	defer q.freePtr(p)
	return q.must(fnGetPropertyStr, q.ctx, obj, p)
}

func (q *quickjs) index(arr uint64, i uint32) uint64 {
	return q.must(fnGetPropertyUint32, q.ctx, arr, uint64(i))
}

// invoke calls fn(...args) with this undefined; args stay owned by the
// caller, the result by the callee's caller.
func (q *quickjs) invoke(fn uint64, args ...uint64) (uint64, error) {
	var argv uint64
	if len(args) > 0 {
		argv = q.must(fnMalloc, uint64(8*len(args)))
		if argv == 0 {
			panic(errOutOfMemory)
		}
		defer q.freePtr(argv)
		buf := make([]byte, 8*len(args))
		for i, a := range args {
			binary.LittleEndian.PutUint64(buf[8*i:], a)
		}
		q.mem.Write(uint32(argv), buf)
	}
	v, err := q.call(fnCall, q.ctx, fn, q.undef, uint64(len(args)), argv)
	if err != nil {
		return 0, err
	}
	return q.check(v)
}

// await runs the job queue until promise settles and returns its value.
func (q *quickjs) await(promise uint64) (uint64, error) {
	v, err := q.call(fnAwait, q.ctx, promise) // takes ownership of promise
	if err != nil {
		return 0, err
	}
	return q.check(v)
}

// eval evaluates source (or, with bytecode, runs it) as a global script
// named file. QJS_Eval also runs the job queue to its end.
func (q *quickjs) eval(file, source string, bytecode []byte, flags uint64) (uint64, error) {
	f := q.cstring(file)
	defer q.freePtr(f)
	var src, bc uint64
	if bytecode != nil {
		bc = q.must(fnMalloc, uint64(len(bytecode)))
		if bc == 0 {
			panic(errOutOfMemory)
		}
		defer q.freePtr(bc)
		q.mem.Write(uint32(bc), bytecode)
	} else {
		src = q.cstring(source)
		defer q.freePtr(src)
	}
	opt := q.must(fnCreateEvalOption, src, bc, uint64(len(bytecode)), f, flags)
	defer q.freePtr(opt)
	v, err := q.call(fnEval, q.ctx, opt)
	if err != nil {
		return 0, err
	}
	return q.check(v)
}

// compile compiles source as a sloppy-mode global script (as Node runs a
// CommonJS module) to bytecode, without running it.
func (q *quickjs) compile(file, source string) ([]byte, error) {
	f := q.cstring(file)
	defer q.freePtr(f)
	src := q.cstring(source)
	defer q.freePtr(src)
	opt := q.must(fnCreateEvalOption, src, 0, 0, f, evalTypeGlobal|evalCompileOnly)
	defer q.freePtr(opt)
	box := q.must(fnCompile2, q.ctx, opt)
	if box == 0 {
		if q.hasException() {
			return nil, q.exception()
		}
		return nil, errors.New("compilation failed")
	}
	defer q.freePtr(box)
	packed, _ := q.mem.ReadUint64Le(uint32(box))
	addr, size := uint32(packed>>32), uint32(packed)
	b, ok := q.mem.Read(addr, size)
	if !ok || size == 0 {
		return nil, errors.New("compilation produced no bytecode")
	}
	out := append([]byte(nil), b...)
	q.freePtr(uint64(addr))
	return out, nil
}

// function returns a JavaScript function that calls f.
func (q *quickjs) function(f goFunc) uint64 {
	q.funcs = append(q.funcs, f)
	id := uint64(len(q.funcs)) // 0 is never a function
	return q.must(fnCreateFunctionProxy, q.ctx, id, 0, 0)
}

// functionProxy is env.jsFunctionProxy(ctx, this, argc, argv) -> JSValue:
// argv holds the function id, the context id, the async flag, a promise
// (unused) and the JavaScript arguments.
func (e *engine) functionProxy(ctx context.Context, mod api.Module, stack []uint64) {
	e.mu.Lock()
	q := e.instances[mod]
	e.mu.Unlock()
	argc, argv := uint32(stack[2]), uint32(stack[3])
	if q == nil || argc < 4 {
		stack[0] = 0
		return
	}
	buf, ok := mod.Memory().Read(argv, 8*argc)
	if !ok {
		panic(errors.New("jsvm: arguments outside linear memory"))
	}
	args := make([]uint64, argc)
	for i := range args {
		args[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	id := uint32(args[0]) // a small integer: its NaN-boxed value is itself
	if id == 0 || int(id) > len(q.funcs) {
		stack[0] = q.undef
		return
	}
	stack[0] = q.funcs[id-1](q, args[4:])
}
