package mfa

import (
	"context"
	"fmt"
	"slices"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/mfaconfig"
	"github.com/authgraph/authgraph/logs"
)

// singleton is the key of the settings' one row.
const singleton = "tenant"

// DefaultSettings are the settings of a tenant that never set them.
func DefaultSettings() Settings {
	return Settings{Policy: PolicyNever, Factors: []Factor{FactorTOTP, FactorRecoveryCode}}
}

// Settings returns the tenant's settings (policy NEVER, factors TOTP and
// RECOVERY_CODE, when never set).
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	st, err := s.settings.Get(ctx, struct{}{}, func(ctx context.Context) (Settings, error) {
		row, err := s.cfg.DB.MfaConfig.Query().Where(mfaconfig.Singleton(singleton)).Only(authz.SystemContext(ctx))
		if ent.IsNotFound(err) {
			return DefaultSettings(), nil
		}
		if err != nil {
			return Settings{}, err
		}
		out := Settings{Policy: Policy(row.ChallengePolicy), RememberBrowserDays: row.RememberBrowserDays}
		for _, f := range row.Factors {
			out.Factors = append(out.Factors, Factor(f))
		}
		return out, nil
	})
	if err != nil {
		return Settings{}, fmt.Errorf("mfa: reading settings: %w", err)
	}
	st.Factors = slices.Clone(st.Factors) // the cached value is shared
	return st, nil
}

// Enabled reports whether the factor is enabled.
func (st Settings) Enabled(f Factor) bool { return slices.Contains(st.Factors, f) }

// validate checks settings and returns them normalized (factors unique, in
// a fixed order).
func (st Settings) validate() (Settings, error) {
	switch st.Policy {
	case PolicyNever, PolicyOptIn, PolicyAlways:
	default:
		return st, &SettingsError{Field: "policy", Message: fmt.Sprintf("unknown policy %q", st.Policy)}
	}
	var factors []Factor
	for _, f := range []Factor{FactorTOTP, FactorWebAuthn, FactorEmail, FactorRecoveryCode} {
		if slices.Contains(st.Factors, f) {
			factors = append(factors, f)
		}
	}
	for _, f := range st.Factors {
		if !slices.Contains(factors, f) {
			return st, &SettingsError{Field: "factors", Message: fmt.Sprintf("unknown factor %q", f)}
		}
	}
	if st.Policy != PolicyNever && !slices.Contains(factors, FactorTOTP) && !slices.Contains(factors, FactorEmail) &&
		!slices.Contains(factors, FactorWebAuthn) {
		return st, &SettingsError{Field: "factors", Message: "a policy other than NEVER needs TOTP, WEBAUTHN or EMAIL enabled (recovery codes alone cannot be enrolled)"}
	}
	if st.RememberBrowserDays < 0 || st.RememberBrowserDays > MaxRememberBrowserDays {
		return st, &SettingsError{Field: "rememberBrowserDays", Message: fmt.Sprintf("must be between 0 and %d", MaxRememberBrowserDays)}
	}
	st.Factors = factors
	if st.Factors == nil {
		st.Factors = []Factor{}
	}
	return st, nil
}

// UpdateSettings replaces the tenant's settings. The change applies to the
// next login on this node at once, on other nodes within seconds.
func (s *Service) UpdateSettings(ctx context.Context, in Settings) (Settings, error) {
	var out Settings
	err := s.withTx(ctx, func(tx *ent.Client) (err error) {
		out, err = s.updateSettings(ctx, tx, in)
		return err
	})
	s.settings.Forget()
	return out, err
}

// updateSettings writes the settings and their gd_tenant_update event in db.
func (s *Service) updateSettings(ctx context.Context, db *ent.Client, in Settings) (Settings, error) {
	st, err := in.validate()
	if err != nil {
		return Settings{}, err
	}
	factors := make([]string, len(st.Factors))
	for i, f := range st.Factors {
		factors[i] = string(f)
	}
	err = db.MfaConfig.Create().
		SetSingleton(singleton).
		SetChallengePolicy(mfaconfig.ChallengePolicy(st.Policy)).
		SetFactors(factors).
		SetRememberBrowserDays(st.RememberBrowserDays).
		OnConflictColumns(mfaconfig.FieldSingleton).
		UpdateNewValues().
		Exec(authz.SystemContext(ctx))
	if err != nil {
		return Settings{}, fmt.Errorf("mfa: storing settings: %w", err)
	}
	err = logs.Write(ctx, db, logs.Event{Type: logs.TypeMFATenantUpdate, Description: "MFA settings updated",
		Details: map[string]any{"policy": string(st.Policy), "factors": factors, "remember_browser_days": st.RememberBrowserDays}})
	return st, err
}
