package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Engine runs rule modules. It is safe for concurrent use; create one per
// process and Close it on shutdown.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	rt    wazero.Runtime
	cache wazero.CompilationCache
	exec  chan struct{} // execution slots, Config.MaxConcurrent

	mu      sync.Mutex
	closed  bool
	modules map[string]*ruleModule // by RuleVersion.key()

	js jsEngine // JavaScript rules (js.go)
}

// RuleVersion is one immutable version of a rule, as stored. A new module
// must come with a new Version: compiled modules and pools are keyed by
// (ID, Version).
type RuleVersion struct {
	ID      string
	Name    string
	Version string
	Module  []byte
	// Secrets are this rule's decrypted secrets, passed in the event and
	// redacted from its log lines.
	Secrets map[string]string
	// Timeout overrides the engine's default; clamped to MaxTimeout.
	Timeout time.Duration
	// JavaScript, when not empty, is the rule's JavaScript source (an Auth0
	// Action or legacy Rule, or for a Script one Auth0 custom-database
	// script); Module is then unused. It runs on rules/jsvm with the same
	// limits, event and result as a module.
	JavaScript string
	// Script marks a custom-database script (script.go): it exports
	// on_script instead of on_post_login and may import the database and
	// password host functions that rules may not.
	Script bool
}

func (rv *RuleVersion) key() string {
	if rv.Script { // scripts and rules never share a compiled module
		return "script:" + rv.ID + "@" + rv.Version
	}
	return rv.ID + "@" + rv.Version
}

// New creates an engine: one wazero runtime with the compilation cache and
// memory limit of cfg, and the host modules instantiated once.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("rules: compilation cache %s: %w", cfg.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithMemoryLimitPages(cfg.MemoryLimit / wasmPage).
		// No WithCloseOnContextDone: the time limit is enforced by the fuel
		// checks instrument adds (RATIONALE.md, "Time limit"), and no host
		// function blocks (the WASI clocks and sleep are fake).
		// Offsets in DWARF no longer match after instrument.
		WithDebugInfoEnabled(false)
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("rules: instantiate WASI: %w", err)
	}
	if err := instantiateHostModules(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("rules: %w", err)
	}
	return &Engine{
		cfg: cfg, log: cfg.Logger, rt: rt, cache: cache,
		exec:    make(chan struct{}, cfg.MaxConcurrent),
		modules: map[string]*ruleModule{},
	}, nil
}

// Close releases every instance, compiled module and the runtime.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	mods := e.modules
	e.modules = nil
	e.mu.Unlock()
	for _, m := range mods {
		m.close(ctx)
	}
	return errors.Join(e.closeJS(ctx), e.rt.Close(ctx), e.cache.Close(ctx))
}

// Config returns the effective configuration (defaults applied).
func (e *Engine) Config() Config { return e.cfg }

// Validate checks a module at upload: size, compilation, imports, exports,
// and that it instantiates within the limits and reports ABI version 1.
// Errors wrap ErrInvalidModule and say what to fix.
func (e *Engine) Validate(ctx context.Context, module []byte) error {
	return e.validate(ctx, module, false)
}

// validate is Validate for a rule (script false) or a custom-database
// script (ValidateScript).
func (e *Engine) validate(ctx context.Context, module []byte, script bool) error {
	if len(module) > e.cfg.MaxModuleSize {
		return invalid(ErrModuleTooLarge, "%d bytes, the limit is %d", len(module), e.cfg.MaxModuleSize)
	}
	cm, err := e.compile(ctx, module, script)
	if err != nil {
		return err
	}
	defer cm.Close(ctx)
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	in, err := e.newInstance(ctx, cm, entryExport(script))
	if err != nil {
		return invalid(ErrTrap, "instantiation failed (a Go rule must be built with -buildmode=c-shared): %v", err)
	}
	defer in.close(ctx)
	v, err := in.abiVersion(ctx)
	if err != nil {
		return invalid(ErrTrap, "%s failed: %v", exportABIVersion, err)
	}
	if v != abiVersion {
		return invalid(ErrABIVersion, "module implements ABI v%d, this host implements v%d", v, abiVersion)
	}
	return nil
}

// compile compiles (or loads from the cache) and checks the ABI statically.
func (e *Engine) compile(ctx context.Context, module []byte, script bool) (wazero.CompiledModule, error) {
	instrumented, err := instrument(module)
	if err != nil {
		if errors.Is(err, ErrInvalidModule) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidModule, err)
	}
	cm, err := e.rt.CompileModule(ctx, instrumented)
	if err != nil {
		return nil, fmt.Errorf("%w: compile: %v", ErrInvalidModule, err)
	}
	if err := checkModule(cm, script); err != nil {
		_ = cm.Close(ctx)
		return nil, err
	}
	return cm, nil
}

// Evict drops a rule version's compiled module and pooled instances, for
// example after the rule was updated or deleted. In-flight calls finish.
func (e *Engine) Evict(ctx context.Context, id, version string) {
	key := (&RuleVersion{ID: id, Version: version}).key()
	e.mu.Lock()
	m := e.modules[key]
	delete(e.modules, key)
	e.mu.Unlock()
	if m != nil {
		m.close(ctx)
	}
	e.evictJS(id, version)
}

// module returns the compiled, pooled module for rv, compiling it once.
func (e *Engine) module(ctx context.Context, rv *RuleVersion) (*ruleModule, error) {
	key := rv.key()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	m := e.modules[key]
	if m != nil && m.size != len(rv.Module) {
		// Same version, different bytes: the caller reused a version. Do
		// not run stale code.
		e.log.Warn("rules: module changed without a new version; recompiling", "rule_id", rv.ID, "version", rv.Version)
		delete(e.modules, key)
		go m.close(context.WithoutCancel(ctx))
		m = nil
	}
	if m == nil {
		m = &ruleModule{size: len(rv.Module), ready: make(chan struct{}), entry: entryExport(rv.Script)}
		e.modules[key] = m
		e.mu.Unlock()
		m.init(ctx, e, rv)
	} else {
		e.mu.Unlock()
		select {
		case <-m.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	return m, nil
}

// Prepare compiles rule versions ahead of their first login (at startup or
// right after an upload), so that no login pays for a compilation. With a
// CacheDir, a restart loads them from disk instead of compiling.
func (e *Engine) Prepare(ctx context.Context, rules ...RuleVersion) error {
	var errs []error
	for i := range rules {
		if rules[i].JavaScript != "" {
			if err := e.prepareJS(ctx, &rules[i]); err != nil {
				errs = append(errs, fmt.Errorf("rule %q (%s): %w", rules[i].Name, rules[i].ID, err))
			}
			continue
		}
		if _, err := e.module(ctx, &rules[i]); err != nil {
			errs = append(errs, fmt.Errorf("rule %q (%s): %w", rules[i].Name, rules[i].ID, err))
		}
	}
	return errors.Join(errs...)
}
