package mfa

import (
	"context"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/manage"
)

// Management actions on one user's MFA (Auth0's recovery-code-regeneration
// and invalidate-remember-browser): like the other writes of Manager, the
// scope is checked first and the change commits with its audit entry.

// RegenerateRecoveryCodes replaces a user's recovery codes with
// RecoveryCodeCount new ones, returned once (update:users): the earlier
// codes stop working. The user must have enrolled (a confirmed factor,
// recovery codes included); otherwise ErrNotFound, as there is no
// enrollment whose codes could be replaced. ErrFactorDisabled when the
// administrator has not enabled recovery codes.
func (m *Manager) RegenerateRecoveryCodes(ctx context.Context, operation, user string) ([]string, error) {
	if err := require(ctx, ScopeUpdateAuthenticators); err != nil {
		return nil, err
	}
	st, err := m.s.Settings(ctx)
	if err != nil {
		return nil, err
	}
	if !st.Enabled(FactorRecoveryCode) {
		return nil, ErrFactorDisabled
	}
	var codes []string
	err = manage.Write(ctx, m.s.cfg.DB, manage.Op{Scope: ScopeUpdateAuthenticators, Operation: operation,
		Description: "Regenerate the recovery codes of a user"}, func(tx *ent.Client) (manage.Audit, error) {
		u, err := identity.Resolve(authz.SystemContext(ctx), tx, user)
		if err != nil {
			return manage.Audit{}, err
		}
		enrolled, err := m.s.hasFactor(ctx, tx, u.ID)
		if err != nil {
			return manage.Audit{}, err
		}
		if !enrolled {
			return manage.Audit{}, ErrNotFound
		}
		if codes, err = m.s.newRecoveryCodes(ctx, tx, u.ID); err != nil {
			return manage.Audit{}, err
		}
		return manage.Audit{UserID: u.UserID},
			logs.Write(ctx, tx, event(logs.TypeMFAEnrollmentComplete, "Recovery codes generated", u, LoginContext{}))
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// ForgetBrowsers voids every "remember this browser" value of a user
// (update:users): each of their browsers must pass the challenge again.
// Their factors and sessions are kept.
func (m *Manager) ForgetBrowsers(ctx context.Context, operation, user string) error {
	return manage.Write(ctx, m.s.cfg.DB, manage.Op{Scope: ScopeUpdateAuthenticators, Operation: operation,
		Description: "Forget the remembered browsers of a user"}, func(tx *ent.Client) (manage.Audit, error) {
		u, err := identity.Resolve(authz.SystemContext(ctx), tx, user)
		if err != nil {
			return manage.Audit{}, err
		}
		return manage.Audit{UserID: u.UserID}, ForgetBrowsers(ctx, tx, u.ID)
	})
}
