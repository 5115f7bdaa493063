package mfa

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mail"
)

// An emailed code has 6 digits: guessing is bounded by the lockout (5
// tries in 10^6) and its 5 minutes. Its hash is salted with the
// authenticator id.
func hashEmailCode(a pulid.ID, code string) []byte { return sha("email-code", string(a), code) }

// maskEmail shows enough of an address for its owner to recognise it.
func maskEmail(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" {
		return "email"
	}
	return local[:1] + "***@" + domain
}

// emailUser returns the user and their verified address.
func (s *Service) emailUser(ctx context.Context, userID pulid.ID) (*ent.User, string, error) {
	u, err := s.user(ctx, userID)
	if err != nil {
		return nil, "", err
	}
	if u.Email == nil || *u.Email == "" || !u.EmailVerified {
		return nil, "", ErrNoVerifiedEmail
	}
	return u, *u.Email, nil
}

// SendEmailCode emails a 6-digit one-time code (valid 5 minutes) to the
// user's verified email address; enrolling the email factor is implicit.
// A request within EmailResendAfter of the previous email sends nothing
// (the code already sent still works); after EmailSendsPerHour emails in
// the last hour, ErrTooManyEmails. A locked user gets a *LockedError.
func (s *Service) SendEmailCode(ctx context.Context, userID pulid.ID, lc LoginContext) error {
	st, err := s.Settings(ctx)
	if err != nil {
		return err
	}
	if !st.Enabled(FactorEmail) {
		return ErrFactorDisabled
	}
	u, addr, err := s.emailUser(ctx, userID)
	if err != nil {
		return err
	}
	if until, err := s.Locked(ctx, userID); err != nil {
		return err
	} else if !until.IsZero() {
		return &LockedError{Until: until}
	}
	now := s.now()
	// The hourly cap counts the sends logged (mfa_send_email events): a
	// failed log write lets one more through, the 30-second gap still
	// holds.
	sends, err := s.cfg.DB.LogEvent.Query().Where(logevent.Type(logs.TypeMFASendEmail), logevent.UserID(u.UserID),
		logevent.DateGT(now.Add(-time.Hour))).Count(sys(ctx))
	if err != nil {
		return fmt.Errorf("mfa: counting emailed codes: %w", err)
	}
	if sends >= EmailSendsPerHour {
		return ErrTooManyEmails
	}
	a, err := s.cfg.DB.Authenticator.Query().Where(authenticator.UserRef(userID),
		authenticator.TypeEQ(authenticator.TypeEmail)).First(sys(ctx))
	if ent.IsNotFound(err) {
		a, err = s.cfg.DB.Authenticator.Create().SetUserRef(userID).SetType(authenticator.TypeEmail).
			SetName(maskEmail(addr)).Save(sys(ctx))
	}
	if err != nil {
		return fmt.Errorf("mfa: loading the email authenticator: %w", err)
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return err
	}
	code := fmt.Sprintf("%06d", n.Int64())
	// Conditional on the last send: two requests at once send one email.
	upd := s.cfg.DB.Authenticator.Update().Where(authenticator.ID(a.ID))
	if a.OtpSentAt != nil {
		upd.Where(authenticator.OtpSentAtLTE(now.Add(-EmailResendAfter)))
	}
	sent, err := upd.SetOtpHash(hashEmailCode(a.ID, code)).SetOtpExpiresAt(now.Add(EmailCodeTTL)).
		SetOtpSentAt(now).SetName(maskEmail(addr)).Save(sys(ctx))
	if err != nil {
		return fmt.Errorf("mfa: storing an email code: %w", err)
	}
	if sent == 0 {
		return nil
	}
	if err := s.cfg.Mail.Send(ctx, mail.MFACodeEmail(mail.CodeData{Email: addr, Code: code, Expires: now.Add(EmailCodeTTL)})); err != nil {
		return fmt.Errorf("mfa: sending an email code: %w", err)
	}
	e := event(logs.TypeMFASendEmail, "MFA code emailed", u, lc)
	e.Date = now // the hourly cap counts on the service's clock
	s.log(ctx, e)
	return nil
}

// VerifyEmailCode checks the last emailed code (single use).
func (s *Service) VerifyEmailCode(ctx context.Context, userID pulid.ID, code string, lc LoginContext) error {
	u, err := s.attempt(ctx, userID, FactorEmail)
	if err != nil {
		return err
	}
	a, err := s.cfg.DB.Authenticator.Query().Where(authenticator.UserRef(userID),
		authenticator.TypeEQ(authenticator.TypeEmail)).First(sys(ctx))
	if err != nil && !ent.IsNotFound(err) {
		return fmt.Errorf("mfa: loading the email authenticator: %w", err)
	}
	code = normalizeCode(code)
	now := s.now()
	if a != nil && a.OtpHash != nil && a.OtpExpiresAt != nil && a.OtpExpiresAt.After(now) && sixDigits(code) &&
		subtle.ConstantTimeCompare(*a.OtpHash, hashEmailCode(a.ID, code)) == 1 {
		// Conditional on the code: it is used once.
		n, err := s.cfg.DB.Authenticator.Update().Where(authenticator.ID(a.ID), authenticator.OtpHash(*a.OtpHash)).
			ClearOtpHash().ClearOtpExpiresAt().SetConfirmed(true).SetLastUsedAt(now).Save(sys(ctx))
		if err != nil {
			return fmt.Errorf("mfa: using an email code: %w", err)
		}
		if n == 1 {
			if err := s.succeeded(ctx, userID); err != nil {
				return fmt.Errorf("mfa: resetting the attempt count: %w", err)
			}
			typ, desc := logs.TypeMFAAuthSucceed, "Email code accepted"
			if !a.Confirmed {
				typ, desc = logs.TypeMFAEnrollmentComplete, "Email factor enrolled"
			}
			e := event(typ, desc, u, lc)
			e.Details = map[string]any{"authenticator_id": string(a.ID), "authenticator_type": string(FactorEmail)}
			s.log(ctx, e)
			return nil
		}
	}
	return s.failed(ctx, u, lc, logs.TypeMFAAuthFailed, "Wrong or expired email code", logs.TypeMFATooManyFailures)
}
