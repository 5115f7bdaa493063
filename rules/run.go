package rules

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/sys"
)

// Invocation is one rule's raw outcome, before pipeline semantics.
type Invocation struct {
	Output   []byte // result JSON as returned by the guest
	Logs     []string
	Duration time.Duration
}

// Invoke runs one rule version on an already encoded event, with the
// engine's limits. Errors wrap the execution sentinels (ErrTimeout,
// ErrMemoryLimit, ErrTrap, ErrOutputTooLarge...). Most callers want
// RunPipeline; Invoke serves tests and tools.
func (e *Engine) Invoke(ctx context.Context, rv *RuleVersion, event []byte) (Invocation, error) {
	start := time.Now()
	st := &callState{
		Context:      ctx,
		maxLines:     e.cfg.MaxLogLines,
		maxLineBytes: e.cfg.MaxLogLineBytes,
		secrets:      rv.Secrets,
	}
	var out []byte
	var err error
	if rv.JavaScript != "" {
		out, err = e.invokeJS(ctx, rv, event, st)
	} else {
		out, err = e.invoke(ctx, rv, event, st)
	}
	inv := Invocation{Output: out, Logs: st.finishLogs(), Duration: time.Since(start)}
	return inv, err
}

func (e *Engine) invoke(parent context.Context, rv *RuleVersion, event []byte, st *callState) ([]byte, error) {
	limit := e.cfg.timeoutFor(rv)
	// Compiling is the host's work, not the rule's: it happens once per
	// version (or is loaded from the cache) and is not charged to the rule.
	m, err := e.module(parent, rv)
	if err != nil {
		return nil, e.classify(parent, err, nil, st, limit)
	}
	release, err := e.admit(parent)
	if err != nil {
		return nil, err
	}
	defer release()
	// st is the context of the guest code: hostRefuel stops it at the
	// deadline. No timer and no context allocation per call.
	st.Context = parent
	st.deadline = time.Now().Add(limit)
	in, err := m.acquire(st, e)
	if err != nil {
		return nil, e.classify(parent, err, nil, st, limit)
	}
	out, err := in.call(st, event, e.cfg.MaxOutput)
	if err != nil {
		err = e.classify(parent, err, in, st, limit)
		e.log.Debug("rules: instance discarded", "rule_id", rv.ID, "version", rv.Version, "err", err)
	}
	m.release(parent, in, err == nil, e.cfg.RecycleAfter)
	return out, err
}

// admit waits for one of the engine's MaxConcurrent execution slots. Rules
// are CPU-bound (no I/O inside), so running more at once than there are
// CPUs adds no throughput; it only stretches every rule's wall-clock time
// towards its limit. The wait is the host's load, not the rule's slowness,
// so it is outside the rule's timer, bounded by MaxTimeout.
func (e *Engine) admit(parent context.Context) (release func(), err error) {
	select {
	case e.exec <- struct{}{}:
		return func() { <-e.exec }, nil
	default:
	}
	timer := time.NewTimer(MaxTimeout)
	defer timer.Stop()
	select {
	case e.exec <- struct{}{}:
		return func() { <-e.exec }, nil
	case <-parent.Done():
		return nil, fmt.Errorf("login cancelled: %w", parent.Err())
	case <-timer.C:
		return nil, fmt.Errorf("%w: no execution slot free within %s", ErrBusy, MaxTimeout)
	}
}

// classify turns a wazero error into an execution sentinel with a message a
// rule author can act on.
func (e *Engine) classify(parent context.Context, err error, in *instance, st *callState, limit time.Duration) error {
	if errors.Is(err, ErrInvalidModule) || errors.Is(err, ErrOutputTooLarge) || errors.Is(err, ErrBadResult) || errors.Is(err, ErrClosed) || errors.Is(err, ErrBusy) {
		return err
	}
	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	switch {
	case parent.Err() != nil:
		return fmt.Errorf("login cancelled: %w", parent.Err())
	case st.timedOut, isExit && exit.ExitCode() == sys.ExitCodeDeadlineExceeded:
		return fmt.Errorf("%w: stopped after %s", ErrTimeout, limit)
	}
	var console string
	if in != nil {
		console = st.redact(in.console.String())
	}
	if in != nil && nearMemoryLimit(in, e.cfg.MemoryLimit) || strings.Contains(console, "out of memory") {
		return fmt.Errorf("%w (%d MiB): %s", ErrMemoryLimit, e.cfg.MemoryLimit>>20, firstLine(orElse(console, err.Error())))
	}
	if st.abort != "" {
		return fmt.Errorf("%w: %s", ErrTrap, st.abort)
	}
	if isExit {
		return fmt.Errorf("%w: exited with code %d: %s", ErrTrap, exit.ExitCode(), orElse(console, "no output"))
	}
	msg := firstLine(err.Error())
	if console != "" {
		msg += " (guest output: " + console + ")"
	}
	return fmt.Errorf("%w: %s", ErrTrap, msg)
}

// nearMemoryLimit reports whether the instance's memory is within 1 MiB of
// the cap: allocators trap (unreachable) when memory.grow fails, so a trap
// at the cap is the limit's doing.
func nearMemoryLimit(in *instance, limit uint32) bool {
	return in.mem.Size()+(1<<20) > limit
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
