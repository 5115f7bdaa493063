package jsvm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// classify turns what the binding reported (a JavaScript exception as an
// error "Name: message\n<stack>", or a trap of the wasm module) into one of
// the execution sentinels, with a message the script's author can act on.
func (r *runtime) classify(parent context.Context, timedOut bool, err error, timeout time.Duration) error {
	for _, known := range []error{ErrBadResult, ErrOutputTooLarge, ErrClosed, ErrBusy, ErrTimeout, ErrMemoryLimit, ErrStackOverflow, ErrThrown, ErrSyntax} {
		if errors.Is(err, known) {
			return err
		}
	}
	switch {
	case parent.Err() != nil:
		return fmt.Errorf("%w: cancelled (%w)", ErrTimeout, parent.Err())
	case timedOut:
		return fmt.Errorf("%w: stopped after %s", ErrTimeout, timeout)
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "wasm error: ") || strings.Contains(msg, "exit_code(") {
		// A trap. This QuickJS build has no stack checks of its own: its C
		// stack sits at the bottom of linear memory (--stack-first), so
		// deep recursion (in JavaScript, or in JSON.stringify of a deeply
		// nested value) runs past address 0 and faults. The runtime is
		// discarded, so nothing it left behind survives.
		line := firstLine(strings.TrimPrefix(msg, "wasm error: "))
		if !strings.Contains(msg, "exit_code(") {
			// Out of bounds access, invalid table access, or an abort()
			// (unreachable) of the C code after running off its stack.
			return fmt.Errorf("%w (the JavaScript engine faulted: %s)", ErrStackOverflow, line)
		}
		return fmt.Errorf("%w: the JavaScript engine trapped: %s", ErrThrown, line)
	}
	head, stack, _ := strings.Cut(msg, "\n")
	switch {
	case strings.Contains(head, "out of memory"):
		return fmt.Errorf("%w (%d MiB)", ErrMemoryLimit, r.vm.cfg.MemoryLimit>>20)
	case strings.HasPrefix(head, "RangeError: Maximum call stack size exceeded"), strings.HasPrefix(head, "InternalError: stack overflow"):
		return fmt.Errorf("%w: %s", ErrStackOverflow, head)
	}
	if at := firstStackLine(stack); at != "" {
		head += " (" + at + ")"
	}
	return fmt.Errorf("%w: %s", ErrThrown, head)
}

// firstStackLine returns the first frame of a QuickJS stack ("at f (file:1:2)"),
// skipping frames of the host's own code.
func firstStackLine(stack string) string {
	for _, l := range strings.Split(stack, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "at ") || strings.Contains(l, "setup.js") || strings.Contains(l, "<native>") {
			continue
		}
		return l
	}
	return ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
