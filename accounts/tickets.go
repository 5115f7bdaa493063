package accounts

import (
	"context"
	"time"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/manage"
)

// MaxTicketTTL bounds a ticket's lifetime (TicketOptions.TTL; 0 is
// dbauth.DefaultTicketTTL).
const MaxTicketTTL = 30 * 24 * time.Hour

// PasswordChangeTicket returns a single-use link that lets the user with
// userID (a node id or a user_id) choose a new password, and its expiry.
// Older password-change tickets of the user stop working.
func (s *Service) PasswordChangeTicket(ctx context.Context, userID string, o dbauth.TicketOptions) (link string, expires time.Time, err error) {
	err = manage.Write(ctx, s.DB, manage.Op{Scope: ScopeTickets, Operation: "createPasswordChangeTicket", Description: "Create a password change ticket"},
		func(tx *ent.Client) (manage.Audit, error) {
			us, err := resolveControlled(ctx, tx, userID)
			if err != nil {
				return manage.Audit{}, err
			}
			if err := checkTTL(o.TTL); err != nil {
				return manage.Audit{}, err
			}
			if link, expires, err = s.Auth.PasswordChangeTicket(ctx, tx, us[0], o); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{UserID: us[0].UserID}, nil
		})
	if err != nil {
		return "", time.Time{}, err
	}
	return link, expires, nil
}

// EmailVerificationTicket returns a single-use link that marks the user's
// email verified, and its expiry. Older verification tickets of the user
// stop working.
func (s *Service) EmailVerificationTicket(ctx context.Context, userID string, o dbauth.TicketOptions) (string, time.Time, error) {
	var link string
	var expires time.Time
	err := manage.Write(ctx, s.DB, manage.Op{Scope: ScopeTickets, Operation: "createEmailVerificationTicket", Description: "Create an email verification ticket"},
		func(tx *ent.Client) (manage.Audit, error) {
			us, err := resolveControlled(ctx, tx, userID)
			if err != nil {
				return manage.Audit{}, err
			}
			if err := checkTTL(o.TTL); err != nil {
				return manage.Audit{}, err
			}
			if link, expires, err = s.Auth.EmailVerificationTicket(ctx, tx, us[0], o); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{UserID: us[0].UserID}, nil
		})
	if err != nil {
		return "", time.Time{}, err
	}
	return link, expires, nil
}

// checkTTL refuses a lifetime out of 1 minute to 30 days (0 is the
// default).
func checkTTL(ttl time.Duration) error {
	if ttl != 0 && (ttl < time.Minute || ttl > MaxTicketTTL) {
		return &identity.ValidationError{Field: "ttlSec", Message: "must be 60 to 2592000 seconds"}
	}
	return nil
}

// UnblockAttempts lifts the brute-force blocks of identifier (an email or a
// username) in every connection and from every IP, and returns how many
// were in force. Blocks of an administrator's identifier need control of
// their grants (admins.RequireControlOfIdentifier).
func (s *Service) UnblockAttempts(ctx context.Context, identifier string) (int, error) {
	var n int
	err := manage.Write(ctx, s.DB, manage.Op{Scope: ScopeUpdate, Operation: "unblockUserAttempts", Description: "Unblock a user's login attempts"},
		func(tx *ent.Client) (manage.Audit, error) {
			if err := admins.RequireControlOfIdentifier(ctx, tx, identifier); err != nil {
				return manage.Audit{}, err
			}
			var err error
			n, err = dbauth.UnblockAttempts(ctx, tx, identifier)
			return manage.Audit{}, err
		})
	if err != nil {
		return 0, err
	}
	return n, nil
}
