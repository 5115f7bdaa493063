package jsvm

import (
	"errors"
	"fmt"
)

// ErrSyntax is wrapped by every *SyntaxError.
var ErrSyntax = errors.New("javascript syntax error")

// Execution errors of Run. The runtime that produced one is discarded.
var (
	ErrTimeout        = errors.New("time limit exceeded")
	ErrMemoryLimit    = errors.New("memory limit exceeded")
	ErrStackOverflow  = errors.New("stack overflow")
	ErrThrown         = errors.New("uncaught exception")
	ErrOutputTooLarge = errors.New("result too large")
	ErrBadResult      = errors.New("invalid result")
	ErrClosed         = errors.New("javascript runtime closed")
	ErrBusy           = errors.New("javascript runtime busy")
)

// SyntaxError is a compile error in untrusted source, positioned in that
// source (1-based line and column), whatever wrapper the caller added.
type SyntaxError struct {
	Message string
	Line    int
	Column  int
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
}

func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// Wrap turns untrusted source into an expression that evaluates to a
// factory function: Prefix + source + Suffix. Prefix must not contain a
// newline, so that line numbers in errors are the source's own (columns on
// the first line are corrected by len(Prefix)).
type Wrap struct {
	Prefix, Suffix string
}
