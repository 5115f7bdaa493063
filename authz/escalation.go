package authz

import (
	"context"

	"entgo.io/ent/privacy"
)

// EscalationError refuses an operation that would let the caller reach power
// it does not hold: handing out a scope it lacks, or acting on a principal (a
// client, an administrator) that holds one. It wraps privacy.Deny; the
// GraphQL edge answers extensions.code FORBIDDEN with the scope.
type EscalationError struct {
	// Scope is a scope the caller lacks.
	Scope string
	// Target names the principal acted on ("client abc", "administrator
	// usr_…"); empty when the caller tried to hand the scope out.
	Target string
}

func (e *EscalationError) Error() string {
	if e.Target == "" {
		return "cannot grant scope " + e.Scope + ": the caller does not hold it"
	}
	return e.Target + " holds scope " + e.Scope + ", which the caller does not hold"
}

// Unwrap makes errors.Is(err, privacy.Deny) hold.
func (e *EscalationError) Unwrap() error { return privacy.Deny }

// RequireHeld returns an *EscalationError unless the caller (ctx's viewer)
// holds every one of scopes. It is the single rule behind every change of
// another principal's power: nobody grants, or acts on a principal holding,
// a scope they do not hold themselves. target is as in EscalationError.
func RequireHeld(ctx context.Context, scopes []string, target string) error {
	v := FromContext(ctx)
	for _, s := range scopes {
		if !v.HasScope(s) {
			return &EscalationError{Scope: s, Target: target}
		}
	}
	return nil
}
