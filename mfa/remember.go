package mfa

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/mfastate"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// A "remember this browser" value is the user id, an expiry and the user's
// MFA generation, sealed with the master key and bound to the user
// (secretbox associated data): it cannot be read, forged, or moved to
// another user. Removing authenticators (Delete, Reset) bumps the
// generation, which voids every value issued before.
type remembered struct {
	User       string `json:"u"`
	Expires    int64  `json:"e"`
	Generation int64  `json:"g"`
}

func rememberAD(userID pulid.ID) string { return "mfa-remember:" + string(userID) }

func (s *Service) generation(ctx context.Context, userID pulid.ID) (int64, error) {
	st, err := s.cfg.DB.MfaState.Query().Where(mfastate.UserRef(userID)).Only(sys(ctx))
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return st.Generation, nil
}

// RememberBrowser returns an opaque cookie value that lets this user skip
// the challenge in this browser for days (the "remember this browser"
// option). Resetting or deleting the user's authenticators invalidates it.
func (s *Service) RememberBrowser(ctx context.Context, userID pulid.ID, days int) (string, error) {
	if days <= 0 {
		return "", errors.New("mfa: RememberBrowser needs days > 0")
	}
	g, err := s.generation(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("mfa: reading the MFA generation: %w", err)
	}
	exp := s.cfg.Now().Add(time.Duration(days) * 24 * time.Hour).Unix()
	plain, err := json.Marshal(remembered{User: string(userID), Expires: exp, Generation: g})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.cfg.Box.Seal(plain, rememberAD(userID))), nil
}

// Remembered reports whether value, from RememberBrowser, is still valid
// for this user.
func (s *Service) Remembered(ctx context.Context, userID pulid.ID, value string) bool {
	if value == "" || len(value) > 512 {
		return false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return false
	}
	plain, err := s.cfg.Box.Open(sealed, rememberAD(userID))
	if err != nil {
		return false
	}
	var r remembered
	if json.Unmarshal(plain, &r) != nil || r.User != string(userID) || s.cfg.Now().Unix() >= r.Expires {
		return false
	}
	g, err := s.generation(ctx, userID)
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "mfa: reading the MFA generation", "err", err)
		return false
	}
	return g == r.Generation
}
