// Package apierror sorts the typed errors of the management use cases into
// a few transport-neutral kinds. Each transport maps a kind once: GraphQL to
// extensions.code, the REST API v2 to an HTTP status and Auth0's errorCode.
// Anything unrecognised is Internal: its text may hold details (SQL, paths)
// that must not reach a caller, so transports log it and say "internal error".
package apierror

import (
	"errors"

	"entgo.io/ent/privacy"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/connectors/upstream"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/passwords"
	"github.com/authgraph/authgraph/rules/jsvm"
	"github.com/authgraph/authgraph/store"
)

// Kind is what went wrong, from the caller's point of view.
type Kind int

const (
	Internal    Kind = iota // our fault; details are logged, never returned
	Invalid                 // the input is wrong (Field names it when known)
	Conflict                // the change conflicts with an existing record
	NotFound                // the object does not exist (or is not visible)
	Forbidden               // the caller lacks a scope or control of the target
	Unavailable             // a connection's script or upstream, or the database (Connection ""), failed; retry later
	Busy                    // too many password hashes at once (passwords.ErrBusy); retry after RetryAfter
)

// RetryAfter is how long a Busy caller should wait before retrying.
const RetryAfter = passwords.BusyRetryAfter

// Error is a classified error.
type Error struct {
	Kind    Kind
	Message string
	// Field is the input field at fault (Invalid, Conflict), if known.
	Field string
	// Scope is the scope the caller lacks (Forbidden), if one.
	Scope string
	// What is the kind of object not found (NotFound): "user", "connection"…
	What string
	// Connection and Script name a failed custom-database script (Unavailable).
	Connection, Script string
	// Line and Column place a JavaScript syntax error in its source
	// (Invalid), when that is the fault; 0 otherwise.
	Line, Column int
	// Cause is the original error.
	Cause error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Cause }

// Classify sorts err. Its Message is safe to return to the caller except
// for Internal, whose Message is the raw error text (for the log only).
func Classify(err error) *Error {
	var (
		verr  *identity.ValidationError
		cerr  *identity.ConflictError
		nerr  *identity.NotFoundError
		operr *connections.OptionError
		serr  *authz.ScopeError
		eerr  *authz.EscalationError
		sfe   *upstream.ScriptFailedError
		cfe   *clients.FieldError
		mse   *mfa.SettingsError
		done  *Error
	)
	e := &Error{Kind: Internal, Message: err.Error(), Cause: err}
	switch {
	case errors.As(err, &done):
		return done
	case errors.Is(err, passwords.ErrBusy):
		e.Kind, e.Message = Busy, "Too many password operations at once; try again shortly."
	case errors.As(err, &verr):
		e.Kind, e.Field = Invalid, verr.Field
	case errors.As(err, &operr):
		e.Kind, e.Field = Invalid, operr.Key
		var se *jsvm.SyntaxError
		if errors.As(err, &se) {
			e.Line, e.Column = se.Line, se.Column
		}
	case errors.As(err, &cerr):
		e.Kind, e.Message, e.Field = Conflict, cerr.Message, cerr.Field
	case errors.Is(err, connections.ErrNameTaken):
		e.Kind, e.Field = Conflict, "name"
	case errors.As(err, &nerr):
		e.Kind, e.What = NotFound, nerr.What
	case errors.As(err, &serr):
		e.Kind, e.Scope = Forbidden, serr.Scope
	case errors.As(err, &eerr):
		e.Kind, e.Scope = Forbidden, eerr.Scope
	case errors.As(err, &sfe):
		e.Kind, e.Connection, e.Script = Unavailable, sfe.Connection, sfe.Op
	case errors.Is(err, privacy.Deny):
		e.Kind, e.Message = Forbidden, "forbidden"
	case isPolicy(err):
		e.Kind, e.Field = Invalid, "password"
	case errors.Is(err, dbauth.ErrNoDatabaseIdentity):
		e.Kind, e.Message, e.Field = Invalid, "the user has no database identity to hold a password", "userId"
	case errors.Is(err, apis.ErrSystem), errors.Is(err, clients.ErrSystemClient):
		e.Kind = Forbidden
	case errors.Is(err, apis.ErrTaken):
		e.Kind, e.Field = Conflict, "identifier"
	case errors.As(err, &cfe): // before ErrInvalid, which it may wrap
		e.Kind, e.Field = Invalid, cfe.Field
	case errors.Is(err, apis.ErrInvalid), errors.Is(err, clients.ErrInvalid):
		e.Kind = Invalid
	case errors.As(err, &mse):
		e.Kind, e.Field, e.Message = Invalid, mse.Field, mse.Message
	case errors.Is(err, mfa.ErrNotFound):
		e.Kind, e.What, e.Message = NotFound, "authenticator", "authenticator not found"
	case errors.Is(err, mfa.ErrFactorDisabled):
		e.Kind, e.Message = Invalid, "this MFA factor is not enabled"
	case errors.Is(err, mfa.ErrAlreadyEnrolled):
		e.Kind, e.Field, e.Message = Invalid, "userId", "the user already has a second factor: reset it before enrolling another"
	case ent.IsNotFound(err):
		e.Kind, e.Message = NotFound, "not found"
	case ent.IsConstraintError(err):
		e.Kind, e.Message = Conflict, "the change conflicts with an existing record"
	case store.IsUnavailable(err):
		// The database is down or restarting: nothing the caller did. Last,
		// since a network error may also come from a connection's upstream
		// (a custom-database script's own database, an IdP), which the
		// cases above name.
		e.Kind, e.Message = Unavailable, "The database is temporarily unavailable; try again shortly."
	}
	return e
}

func isPolicy(err error) bool {
	_, ok := dbauth.IsPolicyError(err)
	return ok
}
