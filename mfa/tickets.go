package mfa

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/ticket"
)

// Enrollment tickets are Ticket rows of kind mfa_enrollment: only the
// SHA-256 of the token is stored (as for the other tickets), and only the
// user's newest one works.

func hashTicket(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateEnrollmentTicket creates a single-use link token with which the user
// enrolls a factor without logging in first (an administrator's
// createMfaEnrollmentTicket); the page is {issuer}login/mfa/enroll?ticket=T.
// ttl <= 0 means EnrollmentTicketTTL. The user's older enrollment tickets
// stop working. As Auth0's, a ticket is for a user who has not enrolled: a
// user with a confirmed factor gets ErrAlreadyEnrolled (reset first).
func (s *Service) CreateEnrollmentTicket(ctx context.Context, userID pulid.ID, ttl time.Duration) (token string, expiresAt time.Time, err error) {
	err = s.withTx(ctx, func(tx *ent.Client) error {
		if _, err := s.userIn(ctx, tx, userID); err != nil {
			return err
		}
		token, expiresAt, err = s.createTicket(ctx, tx, userID, ttl)
		return err
	})
	return token, expiresAt, err
}

func (s *Service) createTicket(ctx context.Context, db *ent.Client, userID pulid.ID, ttl time.Duration) (string, time.Time, error) {
	if has, err := s.hasFactor(ctx, db, userID); err != nil {
		return "", time.Time{}, err
	} else if has {
		return "", time.Time{}, ErrAlreadyEnrolled
	}
	if ttl <= 0 {
		ttl = EnrollmentTicketTTL
	}
	token := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	expiresAt := s.now().Add(ttl)
	if _, err := db.Ticket.Delete().Where(ticket.UserRef(userID), ticket.KindEQ(ticket.KindMfaEnrollment)).Exec(sys(ctx)); err != nil {
		return "", time.Time{}, fmt.Errorf("mfa: storing an enrollment ticket: %w", err)
	}
	if err := db.Ticket.Create().SetUserRef(userID).SetKind(ticket.KindMfaEnrollment).
		SetTokenHash(hashTicket(token)).SetExpiresAt(expiresAt).Exec(sys(ctx)); err != nil {
		return "", time.Time{}, fmt.Errorf("mfa: storing an enrollment ticket: %w", err)
	}
	return token, expiresAt, nil
}

// EnrollmentTicketURL is the page a ticket's token opens.
func (s *Service) EnrollmentTicketURL(token string) string {
	base := s.cfg.Issuer
	if base[len(base)-1] != '/' {
		base += "/"
	}
	return base + EnrollPath + "?ticket=" + token // base64url: nothing to escape
}

// EnrollmentTicketUser returns the user of a valid, unused enrollment
// ticket (ErrNotFound otherwise). The ticket's user may have enrolled since
// it was made: StartTOTP and ConfirmTOTP refuse then.
func (s *Service) EnrollmentTicketUser(ctx context.Context, token string) (pulid.ID, error) {
	if token == "" || len(token) > 128 {
		return "", ErrNotFound
	}
	t, err := s.cfg.DB.Ticket.Query().Where(ticket.TokenHash(hashTicket(token)), ticket.KindEQ(ticket.KindMfaEnrollment),
		ticket.UsedAtIsNil(), ticket.ExpiresAtGT(s.now())).Only(sys(ctx))
	if ent.IsNotFound(err) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("mfa: reading an enrollment ticket: %w", err)
	}
	return t.UserRef, nil
}

// ConsumeEnrollmentTicket marks the ticket used (after the enrollment is
// confirmed); a second call fails with ErrNotFound.
func (s *Service) ConsumeEnrollmentTicket(ctx context.Context, token string) error {
	if token == "" || len(token) > 128 {
		return ErrNotFound
	}
	now := s.now()
	n, err := s.cfg.DB.Ticket.Update().Where(ticket.TokenHash(hashTicket(token)), ticket.KindEQ(ticket.KindMfaEnrollment),
		ticket.UsedAtIsNil(), ticket.ExpiresAtGT(now)).SetUsedAt(now).Save(sys(ctx))
	if err != nil {
		return fmt.Errorf("mfa: using an enrollment ticket: %w", err)
	}
	if n != 1 {
		return ErrNotFound
	}
	return nil
}
