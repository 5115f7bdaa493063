package rules

import (
	"encoding/json"
	"fmt"
)

// Handler is a post-login rule. Returning an error fails the login with
// rule_failed; use API.Deny to refuse the user instead.
type Handler func(e *Event, api *API) error

var handler Handler

// Handle registers the rule's handler. Call it once, from init.
func Handle(h Handler) {
	handler = h
}

// Run invokes h on e as the host would, without WebAssembly, so that a rule's
// logic can be unit-tested natively. A panic becomes a Result.Error.
func Run(h Handler, e *Event) (res *Result) {
	api := &API{}
	defer func() {
		if r := recover(); r != nil {
			res = &Result{Error: &Error{Message: fmt.Sprintf("panic: %v", r)}}
		}
	}()
	if h == nil {
		return &Result{Error: &Error{Message: "no handler registered: call rules.Handle in init"}}
	}
	if err := h(e, api); err != nil {
		return &Result{Error: &Error{Message: err.Error()}}
	}
	return api.Result()
}

// process is the whole guest side of on_post_login: JSON in, JSON out.
func process(eventJSON []byte) []byte {
	return appendProcess(nil, eventJSON)
}

// appendProcess appends the result of eventJSON's call to dst (the guest
// reuses its output buffer from call to call).
func appendProcess(dst, eventJSON []byte) []byte {
	var e Event
	var res *Result
	if err := decodeEvent(eventJSON, &e); err != nil {
		res = &Result{Error: &Error{Message: "decode event: " + err.Error()}}
	} else {
		res = Run(handler, &e)
	}
	if out, ok := appendResult(dst, res); ok {
		return out
	}
	out, err := json.Marshal(res)
	if err != nil {
		out, _ = json.Marshal(Result{Error: &Error{Message: "encode result: " + err.Error()}})
	}
	return append(dst, out...)
}
