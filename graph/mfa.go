package graph

import (
	"context"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/graph/model"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/mfa"
)

// Scopes of the MFA operations (docs/SCOPES.md): Auth0's names for the
// tenant's factors and enrollment tickets, the users' scopes for their
// authenticators.
const (
	ScopeReadUsers                  = "read:users"
	ScopeUpdateUsers                = "update:users"
	ScopeReadMfaSettings            = "read:guardian_factors"
	ScopeUpdateMfaSettings          = "update:guardian_factors"
	ScopeCreateMfaEnrollmentTickets = "create:guardian_enrollment_tickets"
)

// mfaUser checks scope, then finds the user by node id or user_id (as the
// system: the scope is what the operation needs).
func (r *Resolver) mfaUser(ctx context.Context, scope string, id pulid.ID) (*ent.User, error) {
	if err := requireScope(ctx, scope); err != nil {
		return nil, err
	}
	return identity.Resolve(authz.SystemContext(ctx), r.Ent, string(id))
}

func factorOut(f mfa.Factor) model.MfaFactor { return model.MfaFactor(strings.ToUpper(string(f))) }

func settingsOut(st mfa.Settings) *model.MfaSettings {
	out := &model.MfaSettings{Policy: model.MfaPolicy(strings.ToUpper(string(st.Policy))),
		Factors: make([]model.MfaFactor, len(st.Factors)), RememberBrowserDays: st.RememberBrowserDays}
	for i, f := range st.Factors {
		out.Factors[i] = factorOut(f)
	}
	return out
}

// badInput is a BAD_USER_INPUT error naming the input field.
func badInput(field, msg string) error {
	e := newError(CodeBadUserInput, msg)
	e.Extensions["field"] = field
	return e
}
