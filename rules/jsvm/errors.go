package jsvm

import (
	"errors"
	"fmt"
)

// ErrSyntax is wrapped by every *SyntaxError.
var ErrSyntax = errors.New("javascript syntax error")

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
