package rules

import (
	"context"
	"errors"
)

// reasons are the short names of the execution errors, in the order
// Reason tests them.
var reasons = []struct {
	err  error
	name string
}{
	{ErrTimeout, "timeout"}, {ErrMemoryLimit, "memory_limit"}, {ErrOutputTooLarge, "output_too_large"},
	{ErrBadResult, "bad_result"}, {ErrRuleReported, "rule_reported"}, {ErrInvalidMetadata, "invalid_metadata"},
	{ErrClaimsTooLarge, "claims_too_large"}, {ErrTrap, "trap"}, {ErrBusy, "busy"}, {ErrClosed, "closed"},
	{ErrInvalidModule, "invalid_module"}, {context.Canceled, "canceled"}, {context.DeadlineExceeded, "deadline"},
}

// Reason is the short, fixed name of the execution error err wraps
// ("timeout", "memory_limit", "trap", …; "internal" for anything else):
// a label for metrics, where the error's text (which may quote the guest)
// does not belong.
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "internal"
}
