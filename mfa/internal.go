package mfa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/mfastate"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
)

func (s *Service) now() time.Time { return s.cfg.Now().Truncate(time.Microsecond) }

func sys(ctx context.Context) context.Context { return authz.SystemContext(ctx) }

// user loads the user, ErrNotFound when there is none.
func (s *Service) user(ctx context.Context, id pulid.ID) (*ent.User, error) {
	return s.userIn(ctx, s.cfg.DB, id)
}

func (s *Service) userIn(ctx context.Context, db *ent.Client, id pulid.ID) (*ent.User, error) {
	u, err := db.User.Get(sys(ctx), id)
	if ent.IsNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("mfa: loading the user: %w", err)
	}
	return u, nil
}

// event is a log event about u during lc.
func event(typ, desc string, u *ent.User, lc LoginContext) logs.Event {
	e := logs.Event{Type: typ, Description: desc, ClientID: lc.ClientID, ClientName: lc.ClientName, Connection: lc.Connection}
	if u != nil {
		e.UserID = u.UserID
		if u.Email != nil {
			e.UserName = *u.Email
		}
	}
	return e
}

// log writes a tenant log event; a failure to write is the server log's
// business, not the user's.
func (s *Service) log(ctx context.Context, e logs.Event) {
	if err := logs.Write(ctx, s.cfg.DB, e); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "mfa: writing a log event", "type", e.Type, "err", err)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return b
}

func sha(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// Lockout. Every code checked is first reserved: one atomic update counts
// it unless the user is locked or MaxFailures attempts are already counted,
// so parallel guesses cannot all be checked while the count still reads
// low. A correct code sets the count back to zero; the MaxFailures-th wrong
// one locks the MFA step for LockFor.

// attempt starts the verification of a code of factor f: the factor is
// enabled, the user exists, and the attempt is counted towards the lockout
// before the code is checked (so parallel guesses cannot exceed it).
func (s *Service) attempt(ctx context.Context, userID pulid.ID, f Factor) (*ent.User, error) {
	if err := s.enabled(ctx, f); err != nil {
		return nil, err
	}
	u, err := s.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	if err := s.reserve(ctx, userID); err != nil {
		return nil, err
	}
	return u, nil
}

// enabled returns ErrFactorDisabled unless the administrator enabled f.
func (s *Service) enabled(ctx context.Context, f Factor) error {
	st, err := s.Settings(ctx)
	if err != nil {
		return err
	}
	if !st.Enabled(f) {
		return ErrFactorDisabled
	}
	return nil
}

// reserve counts an attempt of the user, or returns a *LockedError. On
// Postgres it is one upsert (reserveSQL); elsewhere one transaction of the
// same three steps: the state row made when there is none, a count that ran
// out started over, the attempt counted unless the user is locked or
// MaxFailures attempts are counted.
func (s *Service) reserve(ctx context.Context, userID pulid.ID) error {
	if db := s.pgDB(); db != nil {
		return s.reservePostgres(ctx, db, userID)
	}
	now := s.now()
	var counted bool
	var until *time.Time
	err := s.withTx(ctx, func(tx *ent.Client) error {
		if err := tx.MfaState.Create().SetUserRef(userID).
			OnConflictColumns(mfastate.FieldUserRef).Ignore().Exec(sys(ctx)); err != nil {
			return err
		}
		// A lock that ran out, or a count whose last attempt is older than
		// LockFor, starts over.
		if _, err := tx.MfaState.Update().
			Where(mfastate.UserRef(userID), mfastate.Or(
				mfastate.LockedUntilLTE(now),
				mfastate.And(mfastate.LockedUntilIsNil(), mfastate.LastFailureAtLTE(now.Add(-LockFor))),
			)).
			SetFailures(0).ClearLockedUntil().Save(sys(ctx)); err != nil {
			return err
		}
		n, err := tx.MfaState.Update().
			Where(mfastate.UserRef(userID), mfastate.LockedUntilIsNil(), mfastate.FailuresLT(MaxFailures)).
			AddFailures(1).SetLastFailureAt(now).Save(sys(ctx))
		if err != nil || n == 1 {
			counted = n == 1
			return err
		}
		st, err := tx.MfaState.Query().Where(mfastate.UserRef(userID)).Only(sys(ctx))
		if err != nil {
			return err
		}
		until = st.LockedUntil
		return nil
	})
	if err != nil {
		return fmt.Errorf("mfa: counting an attempt: %w", err)
	}
	if !counted {
		return s.lockedError(until, now)
	}
	return nil
}

// Locked returns the end of the user's lockout, or the zero time when the
// user may enter a code.
func (s *Service) Locked(ctx context.Context, userID pulid.ID) (time.Time, error) {
	st, err := s.cfg.DB.MfaState.Query().Where(mfastate.UserRef(userID)).Only(sys(ctx))
	if ent.IsNotFound(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("mfa: reading the lockout: %w", err)
	}
	if st.LockedUntil != nil && st.LockedUntil.After(s.now()) {
		return *st.LockedUntil, nil
	}
	return time.Time{}, nil
}

// succeeded forgets the user's count (not a lock set meanwhile).
func (s *Service) succeeded(ctx context.Context, userID pulid.ID) error {
	return s.succeededIn(ctx, s.cfg.DB, userID)
}

// succeededIn is succeeded in db (a transaction's client).
func (s *Service) succeededIn(ctx context.Context, db *ent.Client, userID pulid.ID) error {
	_, err := db.MfaState.Update().
		Where(mfastate.UserRef(userID), mfastate.LockedUntilIsNil()).
		SetFailures(0).ClearLastFailureAt().Save(sys(ctx))
	return err
}

// failed reports a wrong code: it logs failType, and locks the user when the
// count reached MaxFailures (logging lockType). It returns the error for the
// caller: ErrInvalidCode, or a *LockedError when this code locked.
func (s *Service) failed(ctx context.Context, u *ent.User, lc LoginContext, failType, desc, lockType string) error {
	s.log(ctx, event(failType, desc, u, lc))
	until := s.now().Add(LockFor)
	n, err := s.cfg.DB.MfaState.Update().
		Where(mfastate.UserRef(u.ID), mfastate.LockedUntilIsNil(), mfastate.FailuresGTE(MaxFailures)).
		SetLockedUntil(until).Save(sys(ctx))
	if err != nil {
		return fmt.Errorf("mfa: locking: %w", err)
	}
	if n == 0 {
		return ErrInvalidCode
	}
	e := event(lockType, fmt.Sprintf("Too many wrong codes: MFA locked for %d minutes", int(LockFor/time.Minute)), u, lc)
	e.Details = map[string]any{"locked_until": until.UTC().Format(time.RFC3339)}
	s.log(ctx, e)
	s.cfg.Logger.WarnContext(ctx, "mfa: user locked after too many wrong codes", "user_id", u.UserID, "until", until)
	return &LockedError{Until: until}
}

// bumpGeneration voids the user's "remember this browser" values.
func (s *Service) bumpGeneration(ctx context.Context, db *ent.Client, userID pulid.ID) error {
	return ForgetBrowsers(ctx, db, userID)
}
