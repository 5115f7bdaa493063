package graph

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/authgraph/authgraph/apierror"
	"github.com/authgraph/authgraph/rules"
	"github.com/authgraph/authgraph/rules/jsvm"
)

// Error codes in extensions.code.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeConflict        = "CONFLICT"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
	// CodeUnavailable: a connection's script or upstream failed, or the
	// server had too many password hashes running or could not reach its
	// database (extensions.retryAfter, in seconds); nothing was written.
	// Retrying later may succeed.
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
		// gqlgen hands resolver errors over wrapped with their path and
		// position; the message is the error's own ("javascript: line 2,
		// column 15: …"), not gqlgen's "input:1:35: createRule …" rendering,
		// which the error's path and locations already carry.
		cause := err
		if errors.As(err, &gerr) && gerr.Err != nil {
			cause = gerr.Err
		}
		code, msg, ext := classify(cause)
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

// classify maps a use case's error (apierror.Classify) to a GraphQL code.
// Errors GraphQL itself raised keep their code.
func classify(err error) (code, msg string, ext map[string]any) {
	var gqlErr *gqlerror.Error
	c := apierror.Classify(err)
	if c.Kind == apierror.Internal && errors.As(err, &gqlErr) && gqlErr.Extensions["code"] != nil {
		code, _ := gqlErr.Extensions["code"].(string)
		return code, gqlErr.Message, nil
	}
	ext = map[string]any{}
	switch c.Kind {
	case apierror.Invalid:
		code = CodeBadUserInput
		if c.Field != "" {
			ext["field"] = c.Field
		}
		if c.Line > 0 {
			ext["line"], ext["column"] = c.Line, c.Column
		}
	case apierror.Conflict:
		code = CodeConflict
		if c.Field != "" {
			ext["field"] = c.Field
		}
	case apierror.NotFound:
		code = CodeNotFound
	case apierror.Forbidden:
		code = CodeForbidden
		if c.Scope != "" {
			ext["scope"] = c.Scope
		}
	case apierror.Unavailable:
		code = CodeUnavailable
		if c.Connection == "" { // the database is down or restarting
			ext["retryAfter"] = 1
		} else {
			ext["connection"], ext["script"] = c.Connection, c.Script
		}
	case apierror.Busy:
		// Too many password hashes at once: nothing was written, and the
		// same request may succeed in retryAfter seconds.
		code = CodeUnavailable
		ext["retryAfter"] = int(apierror.RetryAfter.Seconds())
	default:
		code = CodeInternal
	}
	// A JavaScript rule refused at upload points at its place in the
	// source: a syntax error, or a require() of a module not available.
	var (
		syn   *jsvm.SyntaxError
		shape *rules.JSShapeError
	)
	switch {
	case code != CodeBadUserInput:
	case errors.As(err, &syn):
		ext["line"], ext["column"] = syn.Line, syn.Column
	case errors.As(err, &shape) && shape.Line > 0:
		ext["line"], ext["column"] = shape.Line, shape.Column
	}
	if len(ext) == 0 {
		ext = nil
	}
	return code, c.Message, ext
}

// newError returns a typed GraphQL error.
func newError(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
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
