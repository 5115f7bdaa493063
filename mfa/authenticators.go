package mfa

import (
	"context"
	"fmt"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/mfastate"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/ticket"
	"github.com/authgraph/authgraph/logs"
)

func (s *Service) withTx(ctx context.Context, fn func(tx *ent.Client) error) error {
	tx, err := s.cfg.DB.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func toAuthenticator(a *ent.Authenticator) Authenticator {
	return Authenticator{ID: string(a.ID), Type: Factor(a.Type), Name: a.Name, CreatedAt: a.CreatedAt,
		LastUsedAt: a.LastUsedAt, Confirmed: a.Confirmed}
}

// Authenticators lists a user's authenticators (confirmed and pending),
// oldest first; recovery codes appear as one authenticator.
func (s *Service) Authenticators(ctx context.Context, userID pulid.ID) ([]Authenticator, error) {
	as, err := s.cfg.DB.Authenticator.Query().Where(authenticator.UserRef(userID)).
		Order(ent.Asc(authenticator.FieldCreatedAt), ent.Asc(authenticator.FieldID)).All(sys(ctx))
	if err != nil {
		return nil, fmt.Errorf("mfa: listing authenticators: %w", err)
	}
	out := make([]Authenticator, len(as))
	for i, a := range as {
		out[i] = toAuthenticator(a)
	}
	return out, nil
}

// Enrolled reports whether the user has a confirmed factor that can answer a
// challenge (TOTP, WebAuthn or email; recovery codes alone do not count).
// Only factors the administrator enabled count.
func (s *Service) Enrolled(ctx context.Context, userID pulid.ID) (bool, error) {
	st, err := s.Settings(ctx)
	if err != nil {
		return false, err
	}
	var types []authenticator.Type
	for _, f := range []Factor{FactorTOTP, FactorWebAuthn, FactorEmail} {
		if st.Enabled(f) {
			types = append(types, authenticator.Type(f))
		}
	}
	if len(types) == 0 {
		return false, nil
	}
	ok, err := s.cfg.DB.Authenticator.Query().Where(authenticator.UserRef(userID), authenticator.Confirmed(true),
		authenticator.TypeIn(types...)).Exist(sys(ctx))
	if err != nil {
		return false, fmt.Errorf("mfa: reading authenticators: %w", err)
	}
	return ok, nil
}

// Delete removes one authenticator of the user (recovery codes: all of
// them). Browsers the user had remembered must pass the challenge again.
func (s *Service) Delete(ctx context.Context, userID pulid.ID, authenticatorID string) error {
	u, err := s.user(ctx, userID)
	if err != nil {
		return err
	}
	var typ authenticator.Type
	err = s.withTx(ctx, func(tx *ent.Client) error {
		a, err := tx.Authenticator.Query().Where(authenticator.ID(pulid.ID(authenticatorID)), authenticator.UserRef(userID)).
			Only(sys(ctx))
		if ent.IsNotFound(err) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		typ = a.Type
		if err := tx.Authenticator.DeleteOne(a).Exec(sys(ctx)); err != nil {
			return err
		}
		return s.bumpGeneration(ctx, tx, userID)
	})
	if err == ErrNotFound {
		return err
	}
	if err != nil {
		return fmt.Errorf("mfa: deleting an authenticator: %w", err)
	}
	e := event(logs.TypeMFAUnenroll, "Authenticator removed", u, LoginContext{})
	e.Details = map[string]any{"authenticator_id": authenticatorID, "authenticator_type": string(typ)}
	s.log(ctx, e)
	return nil
}

// Reset removes all of the user's authenticators and recovery codes (the
// user enrolls again at the next login that needs a factor), their unused
// enrollment tickets and lockout, and voids remembered browsers.
func (s *Service) Reset(ctx context.Context, userID pulid.ID) error {
	u, err := s.user(ctx, userID)
	if err != nil {
		return err
	}
	var n int
	err = s.withTx(ctx, func(tx *ent.Client) error {
		// Recovery codes go with their authenticator (ON DELETE CASCADE).
		if n, err = tx.Authenticator.Delete().Where(authenticator.UserRef(userID)).Exec(sys(ctx)); err != nil {
			return err
		}
		if _, err := tx.Ticket.Delete().Where(ticket.UserRef(userID), ticket.KindEQ(ticket.KindMfaEnrollment)).Exec(sys(ctx)); err != nil {
			return err
		}
		if err := s.bumpGeneration(ctx, tx, userID); err != nil {
			return err
		}
		return tx.MfaState.Update().Where(mfastate.UserRef(userID)).
			SetFailures(0).ClearLastFailureAt().ClearLockedUntil().Exec(sys(ctx))
	})
	if err != nil {
		return fmt.Errorf("mfa: resetting: %w", err)
	}
	e := event(logs.TypeMFAUserReset, "All authenticators removed", u, LoginContext{})
	e.Details = map[string]any{"authenticators": n}
	s.log(ctx, e)
	return nil
}
