package dbauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth/policy"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/passwords"
)

// CheckNewPassword applies conn's password policy to a new password for u
// (nil u at signup: pass the profile in p), and the password history of idn
// (nil at signup). Failures are *policy.Error (Code: PasswordStrengthError,
// PasswordDictionaryError, PasswordNoUserInfoError, PasswordHistoryError),
// or ErrBusy when a history verification was not admitted.
func (s *Service) CheckNewPassword(ctx context.Context, conn *ent.Connection, p policy.Personal, idn *ent.Identity, password string) error {
	opts := policy.FromConnection(conn.Options)
	if err := opts.Check(password, p); err != nil {
		return err
	}
	if idn != nil && opts.History > 0 {
		switch used, err := s.inHistory(ctx, idn, opts.History, password); {
		case err != nil:
			return err
		case used:
			return &policy.Error{Code: policy.CodeHistory, Message: policy.MsgHistory}
		}
	}
	return nil
}

// PersonalOf returns the profile fields the personal-information rule uses.
func PersonalOf(u *ent.User) policy.Personal {
	p := policy.Personal{UserMetadata: u.UserMetadata}
	for _, f := range []struct {
		dst *string
		src *string
	}{{&p.Email, u.Email}, {&p.Username, u.Username}, {&p.Name, u.Name}, {&p.Nickname, u.Nickname}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	return p
}

// inHistory reports whether password matches the current password or one of
// the previous ones, size in all (the current one counts, as in Auth0).
func (s *Service) inHistory(ctx context.Context, idn *ent.Identity, size int, password string) (bool, error) {
	var hashes []string
	if idn.PasswordHash != nil && *idn.PasswordHash != "" {
		hashes = append(hashes, *idn.PasswordHash)
	}
	hashes = append(hashes, idn.PasswordHistory...)
	if len(hashes) > size {
		hashes = hashes[:size]
	}
	for _, h := range hashes {
		switch err := s.Passwords.Verify(ctx, h, password); {
		case err == nil:
			return true, nil
		case !errors.Is(err, passwords.ErrMismatch) && !errors.Is(err, passwords.ErrUnsupported):
			return false, err
		}
	}
	return false, nil
}

// ChangePassword sets the password of u's database identity, as the
// management API does (updateUser with a password): the connection's policy
// and history apply; on success the user's sessions and grants are revoked, the
// brute-force blocks of their email and username in that connection lifted,
// last_password_reset set, and scp logged (fcp on failure). db may be a
// transaction's client: ChangePassword opens none itself.
//
// For a custom-database user the policy applies the same way; then the
// change_password script changes the legacy password, or, in import mode,
// the hash is stored here.
func (s *Service) ChangePassword(ctx context.Context, db *ent.Client, u *ent.User, newPassword string) error {
	idn, err := s.passwordIdentity(ctx, db, u.ID)
	if err != nil {
		return err
	}
	return s.changePassword(ctx, db, u, idn, idn.Edges.Connection, newPassword, "")
}

func (s *Service) changePassword(ctx context.Context, db *ent.Client, u *ent.User, idn *ent.Identity, conn *ent.Connection, pw, clientID string) error {
	ev := logs.Event{ClientID: clientID, Connection: conn.Name, ConnectionID: string(conn.ID),
		Strategy: "auth0", StrategyType: "database", UserID: u.UserID, UserName: deref(u.Email)}
	err := s.CheckNewPassword(ctx, conn, PersonalOf(u), idn, pw)
	if err == nil {
		err = s.storePassword(ctx, db, u, idn, conn, pw)
	}
	if err != nil {
		if !errors.Is(err, ErrBusy) { // a busy limiter refused nothing
			ev.Type, ev.Description = logs.TypeFailedChangePwd, err.Error()
			_ = logs.Write(ctx, db, ev)
		}
		return err
	}
	ev.Type, ev.Description = logs.TypeSuccessChangePwd, "Password changed"
	return logs.Write(ctx, db, ev)
}

// storePassword sets the new password where it lives — the legacy
// database of a custom-database connection without import mode (its
// change_password script), else Authgraph's store — then revokes sessions
// and brute-force blocks.
func (s *Service) storePassword(ctx context.Context, db *ent.Client, u *ent.User, idn *ent.Identity, conn *ent.Connection, pw string) error {
	if IsCustomDB(conn) {
		if s.CustomDB == nil {
			return ErrNoDatabaseIdentity
		}
		local, err := s.CustomDB.ChangePassword(ctx, conn, idn, deref(u.Email), pw)
		if err != nil {
			return err
		}
		if !local {
			return passwordChanged(ctx, db, u, idn, conn)
		}
	}
	return s.setPassword(ctx, db, u, idn, conn, pw)
}

// setPassword stores the new hash (rotating the history), and revokes
// sessions and brute-force blocks.
func (s *Service) setPassword(ctx context.Context, db *ent.Client, u *ent.User, idn *ent.Identity, conn *ent.Connection, pw string) error {
	sys := authz.SystemContext(ctx)
	opts := policy.FromConnection(conn.Options)
	hash, err := s.Passwords.Hash(ctx, pw)
	if err != nil {
		return err
	}
	upd := db.Identity.UpdateOne(idn).SetPasswordHash(hash)
	if hist := opts.KeptHistory(deref(idn.PasswordHash), idn.PasswordHistory); hist != nil {
		upd.SetPasswordHistory(hist)
	} else {
		upd.ClearPasswordHistory()
	}
	if err := upd.Exec(sys); err != nil {
		return fmt.Errorf("dbauth: storing password: %w", err)
	}
	return passwordChanged(ctx, db, u, idn, conn)
}

// passwordChanged stamps last_password_reset, ends everything the user
// holds — SSO sessions, grants, and so refresh and access tokens
// (identity.RevokeAccess), browsers remembered for the second factor — and lifts the brute-force blocks of their
// identifiers. Every password change goes through here: a ticket,
// forgot-password, the management API, a custom database's change_password.
func passwordChanged(ctx context.Context, db *ent.Client, u *ent.User, idn *ent.Identity, conn *ent.Connection) error {
	sys := authz.SystemContext(ctx)
	if err := db.User.UpdateOneID(u.ID).SetLastPasswordReset(time.Now()).Exec(sys); err != nil {
		return err
	}
	if err := identity.RevokeAccess(ctx, db, u.ID, identity.RevokePasswordChanged); err != nil {
		return fmt.Errorf("dbauth: revoking the user's sessions and grants: %w", err)
	}
	// Browsers remembered for the second factor were remembered for the
	// old password's owner.
	if err := mfa.ForgetBrowsers(ctx, db, u.ID); err != nil {
		return err
	}
	return clearIdentifiers(ctx, db, conn.Name, deref(idn.EmailLower), deref(idn.Username))
}

// IsPolicyError reports whether err is a refused password, and returns it.
func IsPolicyError(err error) (*policy.Error, bool) {
	var pe *policy.Error
	ok := errors.As(err, &pe)
	return pe, ok
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
