package mfa

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/store"
)

// TOTP parameters: RFC 6238 as every authenticator app implements it.
const (
	TOTPPeriod = 30 * time.Second
	// TOTPSkew steps either side of the current one are accepted (clock
	// drift, a code typed as it changes).
	TOTPSkew = 1
	// qrSize is the QR code's width and height in pixels.
	qrSize = 256
)

var hotpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// step is the TOTP time step of t.
func step(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// sealAD binds a sealed seed to its authenticator and user.
func sealAD(authenticatorID, userID pulid.ID) string {
	return "authenticator:" + string(authenticatorID) + ":user:" + string(userID)
}

// normalizeCode strips the spaces and dashes people type in codes.
func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, strings.TrimSpace(code))
}

func sixDigits(code string) bool {
	if len(code) != 6 {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// StartTOTP creates a pending TOTP authenticator for the user, replacing an
// earlier pending one. accountName is shown in the authenticator app
// (usually the email). It adds a factor: only for a caller who has proved
// the user's existing factors (the account page); a login or an enrollment
// ticket uses StartFirstTOTP.
func (s *Service) StartTOTP(ctx context.Context, userID pulid.ID, accountName string) (*TOTPEnrollment, error) {
	return s.startTOTP(ctx, userID, accountName, false)
}

// StartFirstTOTP is StartTOTP for a user who has no factor yet: one with
// any confirmed factor (recovery codes included) gets ErrAlreadyEnrolled.
// Reaching a login's second step takes only the password, and a ticket
// only its link: neither may add a factor to an enrolled user.
func (s *Service) StartFirstTOTP(ctx context.Context, userID pulid.ID, accountName string) (*TOTPEnrollment, error) {
	return s.startTOTP(ctx, userID, accountName, true)
}

func (s *Service) startTOTP(ctx context.Context, userID pulid.ID, accountName string, first bool) (*TOTPEnrollment, error) {
	st, err := s.Settings(ctx)
	if err != nil {
		return nil, err
	}
	if !st.Enabled(FactorTOTP) {
		return nil, ErrFactorDisabled
	}
	u, err := s.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	if first {
		if has, err := s.hasFactor(ctx, s.cfg.DB, userID); err != nil {
			return nil, err
		} else if has {
			return nil, ErrAlreadyEnrolled
		}
	}
	if accountName == "" {
		accountName = u.UserID
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.issuerHost, AccountName: accountName, Period: uint(TOTPPeriod / time.Second),
		SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("mfa: generating a TOTP seed: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return nil, fmt.Errorf("mfa: rendering the QR code: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return nil, fmt.Errorf("mfa: rendering the QR code: %w", err)
	}
	id := pulid.MustNew("mfa_")
	err = s.withTx(ctx, func(tx *ent.Client) error {
		if _, err := tx.Authenticator.Delete().Where(authenticator.UserRef(userID),
			authenticator.TypeEQ(authenticator.TypeTotp), authenticator.Confirmed(false)).Exec(sys(ctx)); err != nil {
			return err
		}
		return tx.Authenticator.Create().SetID(id).SetUserRef(userID).SetType(authenticator.TypeTotp).
			SetName("Authenticator app").
			SetSecretSealed(s.cfg.Box.Seal([]byte(key.Secret()), sealAD(id, userID))).
			Exec(sys(ctx))
	})
	if err != nil {
		return nil, fmt.Errorf("mfa: storing a TOTP enrollment: %w", err)
	}
	s.log(ctx, event(logs.TypeMFAStartEnroll, "TOTP enrollment started", u, LoginContext{}))
	return &TOTPEnrollment{AuthenticatorID: string(id), Secret: key.Secret(), URL: key.URL(), QRCodePNG: qr.Bytes()}, nil
}

// matchTOTP returns the step within ±TOTPSkew of now whose code is code,
// or -1. Every candidate is computed and compared in constant time.
func (s *Service) matchTOTP(a *ent.Authenticator, code string) (int64, error) {
	if a.SecretSealed == nil {
		return -1, nil
	}
	seed, err := s.cfg.Box.Open(*a.SecretSealed, sealAD(a.ID, a.UserRef))
	if err != nil {
		return -1, fmt.Errorf("mfa: opening a TOTP seed: %w", err)
	}
	now := step(s.cfg.Now())
	match := int64(-1)
	for st := now - TOTPSkew; st <= now+TOTPSkew; st++ {
		want, err := hotp.GenerateCodeCustom(string(seed), uint64(st), hotpOpts)
		if err != nil {
			return -1, fmt.Errorf("mfa: computing a TOTP code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			match = st
		}
	}
	return match, nil
}

// acceptTOTP records step as a's last accepted one, if it is newer than
// the last: a conditional update, so that a code is accepted once even
// when sent twice at the same moment.
func (s *Service) acceptTOTP(ctx context.Context, db *ent.Client, a *ent.Authenticator, st int64) (bool, error) {
	n, err := db.Authenticator.Update().
		Where(authenticator.ID(a.ID), authenticator.TotpLastStepLT(st)).
		SetTotpLastStep(st).SetConfirmed(true).SetLastUsedAt(s.now()).
		Save(sys(ctx))
	return n == 1, err
}

// ConfirmTOTP confirms a pending TOTP authenticator with its first valid
// code. When the user had no recovery codes (and they are enabled), it
// creates 10 and returns them: shown once, stored hashed. As StartTOTP, it
// adds a factor; a login or a ticket uses ConfirmFirstTOTP.
func (s *Service) ConfirmTOTP(ctx context.Context, userID pulid.ID, authenticatorID, code string, lc LoginContext) (recoveryCodes []string, err error) {
	return s.confirmTOTP(ctx, userID, authenticatorID, code, lc, false)
}

// ConfirmFirstTOTP is ConfirmTOTP for a user who has no factor yet: one who
// has a confirmed factor by then (recovery codes included) gets
// ErrAlreadyEnrolled, and the pending key is dropped.
func (s *Service) ConfirmFirstTOTP(ctx context.Context, userID pulid.ID, authenticatorID, code string, lc LoginContext) (recoveryCodes []string, err error) {
	return s.confirmTOTP(ctx, userID, authenticatorID, code, lc, true)
}

func (s *Service) confirmTOTP(ctx context.Context, userID pulid.ID, authenticatorID, code string, lc LoginContext, first bool) (recoveryCodes []string, err error) {
	st, err := s.Settings(ctx)
	if err != nil {
		return nil, err
	}
	if !st.Enabled(FactorTOTP) {
		return nil, ErrFactorDisabled
	}
	u, err := s.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	a, err := s.cfg.DB.Authenticator.Query().Where(authenticator.ID(pulid.ID(authenticatorID)),
		authenticator.UserRef(userID), authenticator.TypeEQ(authenticator.TypeTotp), authenticator.Confirmed(false)).
		Only(sys(ctx))
	if ent.IsNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("mfa: loading a TOTP enrollment: %w", err)
	}
	if first {
		if has, err := s.hasFactor(ctx, s.cfg.DB, userID); err != nil {
			return nil, err
		} else if has {
			return nil, s.dropPending(ctx, a)
		}
	}
	if err := s.reserve(ctx, userID); err != nil {
		return nil, err
	}
	code = normalizeCode(code)
	match := int64(-1)
	if sixDigits(code) {
		if match, err = s.matchTOTP(a, code); err != nil {
			return nil, err
		}
	}
	if match < 0 {
		return nil, s.failed(ctx, u, lc, logs.TypeMFAAuthFailed, "Wrong TOTP code during enrollment", logs.TypeMFATooManyFailures)
	}
	err = s.withTx(ctx, func(tx *ent.Client) error {
		// Again in the transaction: a factor confirmed meanwhile (an
		// email code) wins.
		if first {
			if err := LockUser(ctx, tx, store.Of(s.cfg.DB).Postgres(), userID); err != nil {
				return err
			}
			if has, err := s.hasFactor(ctx, tx, userID); err != nil || has {
				if has {
					err = ErrAlreadyEnrolled
				}
				return err
			}
		}
		ok, err := s.acceptTOTP(ctx, tx, a, match)
		if err != nil {
			return err
		}
		if !ok {
			return ErrInvalidCode // confirmed concurrently with the same code
		}
		if !st.Enabled(FactorRecoveryCode) {
			return nil
		}
		has, err := tx.Authenticator.Query().Where(authenticator.UserRef(userID),
			authenticator.TypeEQ(authenticator.TypeRecoveryCode)).Exist(sys(ctx))
		if err != nil || has {
			return err
		}
		recoveryCodes, err = s.newRecoveryCodes(ctx, tx, userID)
		return err
	})
	if errors.Is(err, ErrInvalidCode) {
		return nil, s.failed(ctx, u, lc, logs.TypeMFAAuthFailed, "Replayed TOTP code during enrollment", logs.TypeMFATooManyFailures)
	}
	if errors.Is(err, ErrAlreadyEnrolled) {
		return nil, s.dropPending(ctx, a)
	}
	if err != nil {
		return nil, fmt.Errorf("mfa: confirming a TOTP enrollment: %w", err)
	}
	if err := s.succeeded(ctx, userID); err != nil {
		return nil, fmt.Errorf("mfa: resetting the attempt count: %w", err)
	}
	e := event(logs.TypeMFAEnrollmentComplete, "TOTP authenticator enrolled", u, lc)
	e.Details = map[string]any{"authenticator_id": authenticatorID, "authenticator_type": string(FactorTOTP)}
	s.log(ctx, e)
	return recoveryCodes, nil
}

// dropPending deletes the pending authenticator a of a user who turned out
// to be enrolled already, and returns ErrAlreadyEnrolled.
func (s *Service) dropPending(ctx context.Context, a *ent.Authenticator) error {
	if _, err := s.cfg.DB.Authenticator.Delete().Where(authenticator.ID(a.ID), authenticator.Confirmed(false)).Exec(sys(ctx)); err != nil {
		return fmt.Errorf("mfa: dropping a TOTP enrollment: %w", err)
	}
	return ErrAlreadyEnrolled
}

// VerifyTOTP checks a code against the user's confirmed TOTP
// authenticators (±1 step; a code is accepted once). Wrong codes count
// towards the lockout. On Postgres it takes two statements (statements.go):
// the attempt counted with the user and authenticators read, and, for a
// code that matches, the step accepted with the count forgotten and the log
// event written. Elsewhere ent does the same, the writes of each step in
// one transaction.
func (s *Service) VerifyTOTP(ctx context.Context, userID pulid.ID, code string, lc LoginContext) error {
	var (
		u   *ent.User
		as  []*ent.Authenticator
		err error
	)
	db := s.pgDB()
	if db != nil {
		if err := s.enabled(ctx, FactorTOTP); err != nil {
			return err
		}
		if u, as, err = s.attemptTOTPPostgres(ctx, db, userID); err != nil {
			return err
		}
	} else {
		if u, err = s.attempt(ctx, userID, FactorTOTP); err != nil {
			return err
		}
		as, err = s.cfg.DB.Authenticator.Query().Where(authenticator.UserRef(userID),
			authenticator.TypeEQ(authenticator.TypeTotp), authenticator.Confirmed(true)).All(sys(ctx))
		if err != nil {
			return fmt.Errorf("mfa: loading TOTP authenticators: %w", err)
		}
	}
	code = normalizeCode(code)
	for _, a := range as {
		if !sixDigits(code) {
			break
		}
		match, err := s.matchTOTP(a, code)
		if err != nil {
			return err
		}
		if match < 0 {
			continue
		}
		e := event(logs.TypeMFAAuthSucceed, "TOTP code accepted", u, lc)
		e.Details = map[string]any{"authenticator_id": string(a.ID), "authenticator_type": string(FactorTOTP)}
		var ok bool
		if db != nil {
			ok, err = s.acceptTOTPPostgres(ctx, db, u, a, match, e)
		} else {
			err = s.withTx(ctx, func(tx *ent.Client) error {
				if ok, err = s.acceptTOTP(ctx, tx, a, match); err != nil || !ok {
					return err
				}
				if err := s.succeededIn(ctx, tx, userID); err != nil {
					return err
				}
				return logs.Write(ctx, tx, e)
			})
		}
		if err != nil {
			return fmt.Errorf("mfa: recording a TOTP code: %w", err)
		}
		if !ok {
			break // replayed: this code was accepted before
		}
		return nil
	}
	return s.failed(ctx, u, lc, logs.TypeMFAAuthFailed, "Wrong TOTP code", logs.TypeMFATooManyFailures)
}
