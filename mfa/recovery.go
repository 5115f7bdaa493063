package mfa

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/recoverycode"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
)

// Recovery codes are 16 characters from an alphabet without look-alikes
// (no 0/O, 1/I), 80 random bits each, shown as XXXX-XXXX-XXXX-XXXX. Being
// random and long, they are stored as plain SHA-256.
const (
	recoveryAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	recoveryLen      = 16
)

func newRecoveryCode() string {
	b := randomBytes(recoveryLen)
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(recoveryAlphabet[int(c)%len(recoveryAlphabet)]) // 256 is a multiple of 32: no bias
	}
	return sb.String()
}

// normalizeRecoveryCode uppercases a typed code and drops separators.
func normalizeRecoveryCode(code string) string {
	return strings.ToUpper(normalizeCode(code))
}

func hashRecoveryCode(normalized string) []byte { return sha("recovery-code", normalized) }

// newRecoveryCodes replaces the user's recovery codes with new ones (in
// db, a transaction's client) and returns them.
func (s *Service) newRecoveryCodes(ctx context.Context, db *ent.Client, userID pulid.ID) ([]string, error) {
	if _, err := db.Authenticator.Delete().Where(authenticator.UserRef(userID),
		authenticator.TypeEQ(authenticator.TypeRecoveryCode)).Exec(sys(ctx)); err != nil {
		return nil, err
	}
	a, err := db.Authenticator.Create().SetUserRef(userID).SetType(authenticator.TypeRecoveryCode).
		SetName("Recovery codes").SetConfirmed(true).Save(sys(ctx))
	if err != nil {
		return nil, err
	}
	codes := make([]string, RecoveryCodeCount)
	rows := make([]*ent.RecoveryCodeCreate, RecoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		rows[i] = db.RecoveryCode.Create().SetAuthenticatorRef(a.ID).
			SetCodeHash(hashRecoveryCode(normalizeRecoveryCode(codes[i])))
	}
	if err := db.RecoveryCode.CreateBulk(rows...).Exec(sys(ctx)); err != nil {
		return nil, err
	}
	return codes, nil
}

// RegenerateRecoveryCodes replaces the user's recovery codes with 10 new
// ones, returned once.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID pulid.ID) ([]string, error) {
	st, err := s.Settings(ctx)
	if err != nil {
		return nil, err
	}
	if !st.Enabled(FactorRecoveryCode) {
		return nil, ErrFactorDisabled
	}
	u, err := s.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	var codes []string
	err = s.withTx(ctx, func(tx *ent.Client) error {
		codes, err = s.newRecoveryCodes(ctx, tx, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mfa: storing recovery codes: %w", err)
	}
	s.log(ctx, event(logs.TypeMFAEnrollmentComplete, "Recovery codes generated", u, LoginContext{}))
	return codes, nil
}

// RecoveryCodesLeft returns how many unused recovery codes the user has.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID pulid.ID) (int, error) {
	n, err := s.cfg.DB.RecoveryCode.Query().Where(recoverycode.UsedAtIsNil(),
		recoverycode.HasAuthenticatorWith(authenticator.UserRef(userID))).Count(sys(ctx))
	if err != nil {
		return 0, fmt.Errorf("mfa: counting recovery codes: %w", err)
	}
	return n, nil
}

// VerifyRecoveryCode consumes one unused recovery code.
func (s *Service) VerifyRecoveryCode(ctx context.Context, userID pulid.ID, code string, lc LoginContext) error {
	u, err := s.attempt(ctx, userID, FactorRecoveryCode)
	if err != nil {
		return err
	}
	codes, err := s.cfg.DB.RecoveryCode.Query().Where(recoverycode.UsedAtIsNil(),
		recoverycode.HasAuthenticatorWith(authenticator.UserRef(userID))).All(sys(ctx))
	if err != nil {
		return fmt.Errorf("mfa: loading recovery codes: %w", err)
	}
	h := hashRecoveryCode(normalizeRecoveryCode(code))
	var match *ent.RecoveryCode
	for _, c := range codes {
		if subtle.ConstantTimeCompare(c.CodeHash, h) == 1 {
			match = c
		}
	}
	if match != nil {
		now := s.now()
		// Conditional: a code sent twice at once is used once.
		n, err := s.cfg.DB.RecoveryCode.Update().Where(recoverycode.ID(match.ID), recoverycode.UsedAtIsNil()).
			SetUsedAt(now).Save(sys(ctx))
		if err != nil {
			return fmt.Errorf("mfa: using a recovery code: %w", err)
		}
		if n == 1 {
			if err := s.cfg.DB.Authenticator.UpdateOneID(match.AuthenticatorRef).SetLastUsedAt(now).Exec(sys(ctx)); err != nil {
				return fmt.Errorf("mfa: using a recovery code: %w", err)
			}
			if err := s.succeeded(ctx, userID); err != nil {
				return fmt.Errorf("mfa: resetting the attempt count: %w", err)
			}
			e := event(logs.TypeMFARecoverySucceed, "Recovery code used", u, lc)
			e.Details = map[string]any{"codes_left": len(codes) - 1}
			s.log(ctx, e)
			return nil
		}
	}
	return s.failed(ctx, u, lc, logs.TypeMFARecoveryFailed, "Wrong recovery code", logs.TypeMFARecoveryTooManyFailures)
}
