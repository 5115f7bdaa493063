// Package identity is the domain of user profiles: creating, patching (with
// Auth0's metadata merge), deleting and finding users. It decides; server/
// and graph/ only translate its errors.
package identity

import (
	"errors"
	"fmt"
)

// Sentinel errors; the edges map them to GraphQL/HTTP codes.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// ValidationError is bad input on one field; nothing was written.
type ValidationError struct {
	Field   string // the GraphQL input field, e.g. "appMetadata"
	Message string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ConflictError names what collided.
type ConflictError struct{ Field, Message string }

func (e *ConflictError) Error() string { return e.Message }
func (e *ConflictError) Unwrap() error { return ErrConflict }

// NotFoundError names what was missing.
type NotFoundError struct{ What, ID string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.What, e.ID) }
func (e *NotFoundError) Unwrap() error { return ErrNotFound }
