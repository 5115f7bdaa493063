package jsvm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// classify turns what qjs reported (a JavaScript exception as an error
// "Name: message\n<stack>", or a panic of a failed wasm call) into one of
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
	// A failed wasm call: qjs appends the Go stack of the panic.
	if i := strings.Index(msg, "\nstack: "); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.TrimPrefix(msg, "failed to create QJS runtime: ")
	if strings.HasPrefix(msg, "failed to call ") {
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		switch {
		case strings.Contains(msg, "out of bounds memory access"), strings.Contains(msg, "stack overflow"), strings.Contains(msg, "call stack exhausted"):
			// QuickJS's C stack is at the bottom of linear memory: running
			// past it faults.
			return fmt.Errorf("%w: %s", ErrStackOverflow, firstLine(msg))
		case strings.Contains(msg, "exit_code"):
			return fmt.Errorf("%w: the script exited the runtime (%s)", ErrThrown, firstLine(msg))
		}
		return fmt.Errorf("%w: runtime trapped: %s", ErrThrown, firstLine(msg))
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
