package rules

import (
	"context"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
)

// ruleModule is a compiled rule version and its instance pool. Instances are
// reused because a Go guest costs milliseconds and megabytes to instantiate.
type ruleModule struct {
	size  int
	entry string        // exported function called: on_post_login or on_script
	ready chan struct{} // closed once cm/err are set
	cm    wazero.CompiledModule
	err   error

	idle  chan *instance // bounded: at most Config.MaxIdle idle instances
	slots chan struct{}  // at most Config.MaxInstances live instances
	mu    sync.Mutex
	done  bool
}

func (m *ruleModule) init(ctx context.Context, e *Engine, rv *RuleVersion) {
	defer close(m.ready)
	start := time.Now()
	if len(rv.Module) > e.cfg.MaxModuleSize {
		m.err = invalid(ErrModuleTooLarge, "%d bytes, the limit is %d", len(rv.Module), e.cfg.MaxModuleSize)
	} else {
		m.cm, m.err = e.compile(ctx, rv.Module, rv.Script)
	}
	if m.err != nil {
		// Do not keep the failure: it may come from a cancelled context.
		e.mu.Lock()
		if e.modules[rv.key()] == m {
			delete(e.modules, rv.key())
		}
		e.mu.Unlock()
		return
	}
	m.idle = make(chan *instance, e.cfg.MaxIdle)
	e.log.Debug("rules: module ready", "rule_id", rv.ID, "version", rv.Version, "compile", time.Since(start))
}

// acquire returns an idle instance or a new one. Instantiation runs guest
// start code, so it is bounded by ctx, the rule's time limit.
func (m *ruleModule) acquire(ctx context.Context, e *Engine) (*instance, error) {
	select {
	case in := <-m.idle:
		return in, nil
	default:
	}
	return e.newInstance(ctx, m.cm, m.entry)
}

// release returns a healthy instance to the pool, or closes it when it
// failed, reached its call budget, the pool is full or closed.
func (m *ruleModule) release(ctx context.Context, in *instance, healthy bool, recycleAfter int) {
	if healthy && in.calls < recycleAfter {
		m.mu.Lock()
		if !m.done {
			select {
			case m.idle <- in:
				m.mu.Unlock()
				return
			default:
			}
		}
		m.mu.Unlock()
	}
	in.close(context.WithoutCancel(ctx))
}

func (m *ruleModule) close(ctx context.Context) {
	<-m.ready
	if m.err != nil {
		return
	}
	m.mu.Lock()
	m.done = true
	m.mu.Unlock()
	for {
		select {
		case in := <-m.idle:
			in.close(ctx)
		default:
			_ = m.cm.Close(ctx)
			return
		}
	}
}
