package graph

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"entgo.io/ent/privacy"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/connectors/upstream"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
)

// Error codes in extensions.code.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeConflict        = "CONFLICT"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
	// CodeUnavailable: a connection's script or upstream failed; nothing
	// was written. Retrying later may succeed.
	CodeUnavailable = "SERVICE_UNAVAILABLE"
	// CodeBadRequest: the HTTP request is not one GraphQL request (malformed
	// or batched JSON, wrong content type); it was not executed.
	CodeBadRequest = "BAD_REQUEST"
	// CodePayloadTooLarge: the request body is over the size cap (HTTP 413).
	CodePayloadTooLarge = "PAYLOAD_TOO_LARGE"
)

// ErrorPresenter translates domain errors into typed GraphQL errors. Anything
// unrecognised becomes a generic internal error: its text may hold details
// (SQL, paths) that must not reach callers, so it is logged instead.
func ErrorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var gerr *gqlerror.Error
		if errors.As(err, &gerr) && gerr.Extensions != nil && gerr.Extensions["code"] != nil && gerr.Err == nil {
			return gqlErr // parse and validation errors keep gqlgen's codes
		}
		code, msg, ext := classify(err)
		if code == CodeInternal {
			if rec := internalErrorsFrom(ctx); rec != nil {
				rec.add(gqlErr.Path.String(), err) // logged once per request
			} else {
				logger.ErrorContext(ctx, "graphql resolver failed", "path", gqlErr.Path.String(), "err", err)
			}
			msg = "internal error"
		}
		gqlErr.Message = msg
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		gqlErr.Extensions["code"] = code
		for k, v := range ext {
			gqlErr.Extensions[k] = v
		}
		return gqlErr
	}
}

func classify(err error) (code, msg string, ext map[string]any) {
	var (
		verr   *identity.ValidationError
		cerr   *identity.ConflictError
		nerr   *identity.NotFoundError
		operr  *connections.OptionError
		gqlErr *gqlerror.Error
		serr   *authz.ScopeError
		eerr   *authz.EscalationError
		sfe    *upstream.ScriptFailedError

		clientField *clients.FieldError
	)
	switch {
	case errors.As(err, &verr):
		return CodeBadUserInput, verr.Error(), map[string]any{"field": verr.Field}
	case errors.As(err, &operr):
		return CodeBadUserInput, operr.Error(), map[string]any{"field": operr.Key}
	case errors.As(err, &cerr):
		ext := map[string]any{}
		if cerr.Field != "" {
			ext["field"] = cerr.Field
		}
		return CodeConflict, cerr.Message, ext
	case errors.Is(err, connections.ErrNameTaken):
		return CodeConflict, err.Error(), map[string]any{"field": "name"}
	case errors.As(err, &nerr):
		return CodeNotFound, nerr.Error(), nil
	case errors.As(err, &serr):
		ext := map[string]any{}
		if serr.Scope != "" {
			ext["scope"] = serr.Scope
		}
		return CodeForbidden, serr.Error(), ext
	case errors.As(err, &eerr):
		return CodeForbidden, eerr.Error(), map[string]any{"scope": eerr.Scope}
	case errors.As(err, &sfe):
		return CodeUnavailable, sfe.Error(), map[string]any{"connection": sfe.Connection, "script": sfe.Op}
	case errors.Is(err, privacy.Deny):
		return CodeForbidden, "forbidden", nil
	case isPolicy(err):
		return CodeBadUserInput, err.Error(), map[string]any{"field": "password"}
	case errors.Is(err, dbauth.ErrNoDatabaseIdentity):
		return CodeBadUserInput, "the user has no database identity to hold a password", map[string]any{"field": "userId"}
	case errors.Is(err, apis.ErrSystem):
		return CodeForbidden, err.Error(), nil
	case errors.Is(err, apis.ErrTaken):
		return CodeConflict, err.Error(), map[string]any{"field": "identifier"}
	case errors.Is(err, apis.ErrInvalid):
		return CodeBadUserInput, err.Error(), nil
	case errors.Is(err, clients.ErrSystemClient):
		return CodeForbidden, err.Error(), nil
	case errors.As(err, &clientField):
		return CodeBadUserInput, err.Error(), map[string]any{"field": clientField.Field}
	case errors.Is(err, clients.ErrInvalid):
		return CodeBadUserInput, err.Error(), nil
	case ent.IsNotFound(err):
		return CodeNotFound, "not found", nil
	case ent.IsConstraintError(err):
		return CodeConflict, "the change conflicts with an existing record", nil
	case errors.As(err, &gqlErr) && gqlErr.Extensions["code"] != nil:
		c, _ := gqlErr.Extensions["code"].(string)
		return c, gqlErr.Message, nil
	}
	return CodeInternal, err.Error(), nil
}

// newError returns a typed GraphQL error.
func newError(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}

func isPolicy(err error) bool {
	_, ok := dbauth.IsPolicyError(err)
	return ok
}

// internalErrors collects a request's internal errors so that the request
// logs one line however many of its fields fail (a list of 100 ids against
// a failing database must not write 100 lines).
type internalErrors struct {
	mu    sync.Mutex
	count int
	path  string
	first error
}

func (r *internalErrors) add(path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count == 0 {
		r.path, r.first = path, err
	}
	r.count++
}

type internalErrorsKey struct{}

func internalErrorsFrom(ctx context.Context) *internalErrors {
	r, _ := ctx.Value(internalErrorsKey{}).(*internalErrors)
	return r
}

// requestErrorLog logs a request's internal errors as one line: how many,
// and the first one with its path.
type requestErrorLog struct{ logger *slog.Logger }

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = requestErrorLog{}

func (requestErrorLog) ExtensionName() string                   { return "RequestErrorLog" }
func (requestErrorLog) Validate(graphql.ExecutableSchema) error { return nil }
func (l requestErrorLog) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	rec := &internalErrors{}
	resp := next(context.WithValue(ctx, internalErrorsKey{}, rec))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.count > 0 {
		op := ""
		if oc := graphql.GetOperationContext(ctx); oc != nil {
			op = oc.OperationName
		}
		l.logger.ErrorContext(ctx, "graphql request failed", "errors", rec.count, "operation", op, "path", rec.path, "err", rec.first)
	}
	return resp
}
