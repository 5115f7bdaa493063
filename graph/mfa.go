package graph

import (
	"strings"

	"github.com/authgraph/authgraph/graph/model"
	"github.com/authgraph/authgraph/mfa"
)

// The MFA resolvers call mfa.Manager, which checks scopes and audits (the
// REST API v2 calls the same use cases).

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
