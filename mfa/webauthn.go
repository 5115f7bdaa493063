package mfa

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// WebAuthn credentials are registered and checked by package passkeys,
// which writes their Authenticator rows; this package lists, counts and
// removes them with the others.

// FirstRecoveryCodes creates the user's recovery codes after a first
// factor was enrolled elsewhere (a security key), as ConfirmTOTP does: when
// recovery codes are enabled and the user has none, it makes
// RecoveryCodeCount and returns them (shown once, stored hashed); nil
// otherwise.
func (s *Service) FirstRecoveryCodes(ctx context.Context, userID pulid.ID) ([]string, error) {
	st, err := s.Settings(ctx)
	if err != nil {
		return nil, err
	}
	if !st.Enabled(FactorRecoveryCode) {
		return nil, nil
	}
	var codes []string
	err = s.withTx(ctx, func(tx *ent.Client) error {
		has, err := tx.Authenticator.Query().Where(authenticator.UserRef(userID),
			authenticator.TypeEQ(authenticator.TypeRecoveryCode)).Exist(sys(ctx))
		if err != nil || has {
			return err
		}
		codes, err = s.newRecoveryCodes(ctx, tx, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mfa: creating recovery codes: %w", err)
	}
	return codes, nil
}

// MaxNameLength bounds an authenticator's name.
const MaxNameLength = 255

// ErrInvalidName: an authenticator's name must be 1 to MaxNameLength
// characters.
var ErrInvalidName = errors.New("mfa: an authenticator's name must be 1 to 255 characters")

// Rename names one of the user's authenticators (e.g. "Security key" to
// "Blue key"); ErrNotFound when the user has no such authenticator.
func (s *Service) Rename(ctx context.Context, userID pulid.ID, authenticatorID, name string) error {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxNameLength {
		return ErrInvalidName
	}
	n, err := s.cfg.DB.Authenticator.Update().Where(authenticator.ID(pulid.ID(authenticatorID)),
		authenticator.UserRef(userID), authenticator.TypeNEQ(authenticator.TypeRecoveryCode)).
		SetName(name).Save(sys(ctx))
	if err != nil {
		return fmt.Errorf("mfa: renaming an authenticator: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
