package mfa

import (
	"context"
	"fmt"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/mfastate"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/ticket"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/manage"
	"github.com/authgraph/authgraph/sessions"
)

// withTx runs fn in a transaction, or in the caller's (manage.InTx).
func (s *Service) withTx(ctx context.Context, fn func(tx *ent.Client) error) error {
	return manage.InTx(ctx, s.cfg.DB, fn)
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

// ConfirmedFactors returns the types of the user's confirmed authenticators
// (recovery codes included), each once: what the challenge page offers.
// It reads one column, not the authenticators' rows.
func (s *Service) ConfirmedFactors(ctx context.Context, userID pulid.ID) ([]Factor, error) {
	var types []authenticator.Type
	err := s.cfg.DB.Authenticator.Query().Where(authenticator.UserRef(userID), authenticator.Confirmed(true)).
		Unique(true).Select(authenticator.FieldType).Scan(sys(ctx), &types)
	if err != nil {
		return nil, fmt.Errorf("mfa: reading authenticators: %w", err)
	}
	out := make([]Factor, len(types))
	for i, t := range types {
		out[i] = Factor(t)
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

// HasFactor reports whether the user has any confirmed authenticator
// (recovery codes included): such a user may not set one up at login or
// with an enrollment ticket.
func (s *Service) HasFactor(ctx context.Context, userID pulid.ID) (bool, error) {
	return s.hasFactor(ctx, s.cfg.DB, userID)
}

// hasFactor reports whether the user has any confirmed authenticator, of
// any type (recovery codes included), in db.
// LockUser takes user userID's row lock in tx (Postgres; a no-op for other
// databases, whose write transactions are serialised anyway) before a
// first factor is stored: two first enrollments of one user finishing at
// the same instant then run one after the other, and the second sees the
// first's factor and is refused, instead of both reading "no factor yet".
func LockUser(ctx context.Context, tx *ent.Client, postgres bool, userID pulid.ID) error {
	if !postgres {
		return nil
	}
	_, err := tx.User.Query().Where(user.ID(userID)).ForUpdate().Only(sys(ctx))
	if err != nil && !ent.IsNotFound(err) {
		return fmt.Errorf("mfa: locking the user: %w", err)
	}
	return nil
}

func (s *Service) hasFactor(ctx context.Context, db *ent.Client, userID pulid.ID) (bool, error) {
	ok, err := db.Authenticator.Query().Where(authenticator.UserRef(userID), authenticator.Confirmed(true)).Exist(sys(ctx))
	if err != nil {
		return false, fmt.Errorf("mfa: reading authenticators: %w", err)
	}
	return ok, nil
}

// Delete removes one authenticator of the user (recovery codes: all of
// them). Browsers the user had remembered must pass the challenge again.
// The user's own removal (the account page) keeps their sessions; an
// administrator's (Manager.Delete) ends them when no factor is left.
func (s *Service) Delete(ctx context.Context, userID pulid.ID, authenticatorID string) error {
	return s.withTx(ctx, func(tx *ent.Client) error {
		u, err := s.userIn(ctx, tx, userID)
		if err != nil {
			return err
		}
		return s.delete(ctx, tx, u, authenticatorID)
	})
}

// delete removes the authenticator in db (a transaction's client) and logs
// gd_unenroll with it.
func (s *Service) delete(ctx context.Context, db *ent.Client, u *ent.User, authenticatorID string) error {
	a, err := db.Authenticator.Query().Where(authenticator.ID(pulid.ID(authenticatorID)), authenticator.UserRef(u.ID)).
		Only(sys(ctx))
	if ent.IsNotFound(err) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("mfa: deleting an authenticator: %w", err)
	}
	if err := db.Authenticator.DeleteOne(a).Exec(sys(ctx)); err != nil {
		return fmt.Errorf("mfa: deleting an authenticator: %w", err)
	}
	if err := s.bumpGeneration(ctx, db, u.ID); err != nil {
		return fmt.Errorf("mfa: deleting an authenticator: %w", err)
	}
	e := event(logs.TypeMFAUnenroll, "Authenticator removed", u, LoginContext{})
	e.Details = map[string]any{"authenticator_id": authenticatorID, "authenticator_type": string(a.Type)}
	return logs.Write(ctx, db, e)
}

// endSessionsWithoutFactor ends the user's sessions (in db) when no factor
// that answers a challenge is left (recovery codes alone do not): after an
// administrator removed the factor, a session that passed it would go on
// skipping the challenge through single sign-on.
func (s *Service) endSessionsWithoutFactor(ctx context.Context, db *ent.Client, userID pulid.ID) error {
	left, err := db.Authenticator.Query().Where(authenticator.UserRef(userID), authenticator.Confirmed(true),
		authenticator.TypeNEQ(authenticator.TypeRecoveryCode)).Exist(sys(ctx))
	if err != nil {
		return fmt.Errorf("mfa: reading authenticators: %w", err)
	}
	if left {
		return nil
	}
	if err := sessions.RevokeUser(ctx, db, userID); err != nil {
		return fmt.Errorf("mfa: ending the user's sessions: %w", err)
	}
	return nil
}

// Reset removes all of the user's authenticators and recovery codes (the
// user enrolls again at the next login that needs a factor), their unused
// enrollment tickets and lockout, voids remembered browsers and ends the
// user's sessions (one that passed a factor would skip the challenge
// through SSO).
func (s *Service) Reset(ctx context.Context, userID pulid.ID) error {
	return s.withTx(ctx, func(tx *ent.Client) error {
		u, err := s.userIn(ctx, tx, userID)
		if err != nil {
			return err
		}
		return s.reset(ctx, tx, u)
	})
}

func (s *Service) reset(ctx context.Context, db *ent.Client, u *ent.User) error {
	// Recovery codes go with their authenticator (ON DELETE CASCADE).
	n, err := db.Authenticator.Delete().Where(authenticator.UserRef(u.ID)).Exec(sys(ctx))
	if err != nil {
		return fmt.Errorf("mfa: resetting: %w", err)
	}
	if _, err := db.Ticket.Delete().Where(ticket.UserRef(u.ID), ticket.KindEQ(ticket.KindMfaEnrollment)).Exec(sys(ctx)); err != nil {
		return fmt.Errorf("mfa: resetting: %w", err)
	}
	if err := s.bumpGeneration(ctx, db, u.ID); err != nil {
		return fmt.Errorf("mfa: resetting: %w", err)
	}
	if err := sessions.RevokeUser(ctx, db, u.ID); err != nil {
		return fmt.Errorf("mfa: ending the user's sessions: %w", err)
	}
	if err := db.MfaState.Update().Where(mfastate.UserRef(u.ID)).
		SetFailures(0).ClearLastFailureAt().ClearLockedUntil().Exec(sys(ctx)); err != nil {
		return fmt.Errorf("mfa: resetting: %w", err)
	}
	e := event(logs.TypeMFAUserReset, "All authenticators removed", u, LoginContext{})
	e.Details = map[string]any{"authenticators": n}
	return logs.Write(ctx, db, e)
}
