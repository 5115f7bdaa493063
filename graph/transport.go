package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// jsonPOST is gqlgen's POST transport behind a strict reading of the body:
// one JSON object {query, operationName, variables, extensions}. gqlgen
// itself answers a malformed body with an untyped error that echoes the
// whole body (passwords in variables included) and turns an oversized one
// into a 500; here they are a 400 BAD_REQUEST and a 413 PAYLOAD_TOO_LARGE
// that say what is wrong without repeating the body. Batched requests (a
// JSON array) are refused: each operation is one request, so the limits on
// complexity, lists and body size bound the work a request can cause.
type jsonPOST struct{ transport.POST }

var _ graphql.Transport = jsonPOST{}

func (t jsonPOST) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeRequestError(w, http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			fmt.Sprintf("the request body exceeds %d bytes", tooBig.Limit))
		return
	case err != nil:
		writeRequestError(w, http.StatusBadRequest, CodeBadRequest, "the request body could not be read")
		return
	}
	if msg := checkRequestBody(body); msg != "" {
		writeRequestError(w, http.StatusBadRequest, CodeBadRequest, msg)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	t.POST.Do(w, r, exec)
}

// checkRequestBody returns why body is not one GraphQL request, or "".
func checkRequestBody(body []byte) string {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return `the request body is empty: send one JSON object {"query": …}`
	case trimmed[0] == '[':
		return "batched requests are not supported: send one operation per request"
	case trimmed[0] != '{':
		return `the request body must be one JSON object {"query": …}`
	}
	var p struct {
		Query         *string         `json:"query"`
		OperationName *string         `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return fmt.Sprintf("%s must be a %s", typeErr.Field, typeErr.Type)
		case errors.As(err, &syntaxErr):
			return fmt.Sprintf("the request body is not valid JSON (at byte %d)", syntaxErr.Offset)
		default:
			return "the request body is not valid JSON"
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return "the request body holds more than one JSON value"
	}
	for name, raw := range map[string]json.RawMessage{"variables": p.Variables, "extensions": p.Extensions} {
		if len(raw) > 0 && raw[0] != '{' && string(raw) != "null" {
			return name + " must be a JSON object"
		}
	}
	return ""
}

// unsupportedRequest answers what no other transport takes: a POST that is
// not application/json (415), any other method (405).
type unsupportedRequest struct{}

var _ graphql.Transport = unsupportedRequest{}

func (unsupportedRequest) Supports(*http.Request) bool { return true }
func (unsupportedRequest) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	if r.Method == http.MethodPost {
		writeRequestError(w, http.StatusUnsupportedMediaType, CodeBadRequest, "send the request as Content-Type: application/json")
		return
	}
	w.Header().Set("Allow", "POST, OPTIONS")
	writeRequestError(w, http.StatusMethodNotAllowed, CodeBadRequest, "use POST with a JSON body")
}

// writeRequestError answers a request that never reached GraphQL execution
// with a GraphQL-shaped error, so clients read extensions.code as usual.
func writeRequestError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []any{map[string]any{"message": msg, "extensions": map[string]any{"code": code}}},
		"data":   nil,
	})
}
