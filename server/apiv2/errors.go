package apiv2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/authgraph/authgraph/apierror"
)

// httpError is an error in Auth0's shape:
// {"statusCode": 404, "error": "Not Found", "message": "…", "errorCode": "…"}.
type httpError struct {
	Status     int
	Message    string
	ErrorCode  string
	Attributes map[string]any
	// RetryAfter, in seconds, is sent as the Retry-After header.
	RetryAfter int
}

func (e *httpError) Error() string { return e.Message }

// body is the JSON error object; the field order is Auth0's.
type errorBody struct {
	StatusCode int            `json:"statusCode"`
	Error      string         `json:"error"`
	Message    string         `json:"message"`
	ErrorCode  string         `json:"errorCode,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

var errNotFoundRoute = &httpError{Status: http.StatusNotFound, Message: "Not Found"}

// badRequest is a 400 invalid_body: the body did not validate.
func badRequest(format string, args ...any) error {
	return &httpError{Status: http.StatusBadRequest, ErrorCode: "invalid_body",
		Message: "Payload validation error: " + fmt.Sprintf(format, args...)}
}

// badQuery is a 400 invalid_query_string.
func badQuery(format string, args ...any) error {
	return &httpError{Status: http.StatusBadRequest, ErrorCode: "invalid_query_string",
		Message: "Query validation error: " + fmt.Sprintf(format, args...)}
}

// notFound is Auth0's 404 for an object of kind what ("user", "client"…).
func notFound(what string) error {
	return &httpError{Status: http.StatusNotFound, ErrorCode: "inexistent_" + strings.ReplaceAll(what, " ", "_"),
		Message: "The " + what + " does not exist."}
}

// asConflict turns a use case's conflict into Auth0's 409 with errorCode
// code and message msg ("user_exists", "The user already exists."); other
// errors pass through.
func asConflict(err error, code, msg string) error {
	if err == nil {
		return nil
	}
	if c := apierror.Classify(err); c.Kind == apierror.Conflict {
		return &httpError{Status: http.StatusConflict, ErrorCode: code, Message: msg}
	}
	return err
}

// writeError maps err to Auth0's error shape. Use-case errors are sorted by
// apierror; an internal error is logged and answered without detail.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	he := toHTTPError(err)
	if he.Status >= 500 && he.Status != http.StatusServiceUnavailable {
		logger.ErrorContext(r.Context(), "management API v2 request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if he.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(he.RetryAfter))
	}
	writeJSON(w, he.Status, errorBody{StatusCode: he.Status, Error: http.StatusText(he.Status),
		Message: he.Message, ErrorCode: he.ErrorCode, Attributes: he.Attributes})
}

func toHTTPError(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &httpError{Status: http.StatusRequestEntityTooLarge, Message: "Request entity too large", ErrorCode: "payload_too_large"}
	}
	c := apierror.Classify(err)
	switch c.Kind {
	case apierror.Invalid:
		msg := c.Message
		if c.Field != "" && !strings.Contains(msg, c.Field) {
			msg += " on property " + c.Field
		}
		return &httpError{Status: http.StatusBadRequest, ErrorCode: "invalid_body", Message: "Payload validation error: " + msg}
	case apierror.Conflict:
		return &httpError{Status: http.StatusConflict, ErrorCode: "conflict", Message: c.Message}
	case apierror.NotFound:
		if c.What != "" {
			return notFound(c.What).(*httpError)
		}
		return &httpError{Status: http.StatusNotFound, ErrorCode: "inexistent_resource", Message: "The resource does not exist."}
	case apierror.Forbidden:
		msg := c.Message
		if c.Scope != "" && !strings.Contains(msg, c.Scope) {
			msg = "Insufficient scope, expected all of: " + c.Scope
		}
		return &httpError{Status: http.StatusForbidden, ErrorCode: "insufficient_scope", Message: msg}
	case apierror.Unavailable:
		code := "connection_unavailable"
		if c.Connection == "" { // the database, not a connection's script
			code = "temporarily_unavailable"
		}
		return &httpError{Status: http.StatusServiceUnavailable, ErrorCode: code, Message: c.Message, RetryAfter: 1}
	case apierror.Busy:
		return &httpError{Status: http.StatusServiceUnavailable, ErrorCode: "server_busy", Message: c.Message,
			RetryAfter: int(apierror.RetryAfter.Seconds())}
	}
	return &httpError{Status: http.StatusInternalServerError, Message: "Internal error"}
}

// maxBody bounds a request body (a rule's WASM module, base64, is the
// largest legitimate one; the server caps bodies before this too).
const maxBody = 12 << 20

// Decode reads the JSON body into v, refusing unknown properties, trailing
// data and wrong types with Auth0's 400 invalid_body, naming the property.
func (r *Request) Decode(v any) error {
	body := http.MaxBytesReader(nil, r.Body, maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("Invalid request payload JSON format")
	}
	return nil
}

func decodeError(err error) error {
	var (
		te  *json.UnmarshalTypeError
		se  *json.SyntaxError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &te) && te.Field == "": // the body itself
		return badRequest("Expected type %s but found type %s.", jsonType(te.Type.Kind().String()), te.Value)
	case errors.As(err, &te):
		return badRequest("Expected type %s but found type %s on property %s.", jsonType(te.Type.Kind().String()), te.Value, te.Field)
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("Invalid request payload JSON format")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest("Additional properties not allowed: %s", name)
	}
	return badRequest("%s", err.Error())
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}
