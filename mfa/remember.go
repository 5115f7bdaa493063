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

// A "remember this browser" value is the user id, its issue time and
// expiry and the user's MFA generation, sealed with the master key and
// bound to the user (secretbox associated data): it cannot be read, forged,
// or moved to another user. Removing authenticators (Delete, Reset) and
// setting a password (ForgetBrowsers) bump the generation, which voids
// every value issued before. The tenant's current setting bounds every
// value: switched off, none works; shortened, a value works that many days
// from its issue, whatever it was issued for.
type remembered struct {
	User       string `json:"u"`
	Issued     int64  `json:"i"`
	Expires    int64  `json:"e"`
	Generation int64  `json:"g"`
}

func rememberAD(userID pulid.ID) string { return "mfa-remember:" + string(userID) }

// ForgetBrowsers voids the user's "remember this browser" values, in db
// (a transaction's client, or the service's): the password's owner must
// pass the second factor again in every browser. Every password change
// calls it.
func ForgetBrowsers(ctx context.Context, db *ent.Client, userID pulid.ID) error {
	if err := db.MfaState.Create().SetUserRef(userID).
		OnConflictColumns(mfastate.FieldUserRef).Ignore().Exec(sys(ctx)); err != nil {
		return fmt.Errorf("mfa: forgetting remembered browsers: %w", err)
	}
	if err := db.MfaState.Update().Where(mfastate.UserRef(userID)).AddGeneration(1).Exec(sys(ctx)); err != nil {
		return fmt.Errorf("mfa: forgetting remembered browsers: %w", err)
	}
	return nil
}

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
	now := s.cfg.Now()
	exp := now.Add(time.Duration(days) * 24 * time.Hour).Unix()
	plain, err := json.Marshal(remembered{User: string(userID), Issued: now.Unix(), Expires: exp, Generation: g})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.cfg.Box.Seal(plain, rememberAD(userID))), nil
}

// Remembered reports whether value, from RememberBrowser, is still valid
// for this user under the tenant's current RememberBrowserDays.
func (s *Service) Remembered(ctx context.Context, userID pulid.ID, value string) bool {
	if value == "" || len(value) > 512 {
		return false
	}
	st, err := s.Settings(ctx)
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "mfa: reading the settings", "err", err)
		return false
	}
	if st.RememberBrowserDays <= 0 {
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
	now := s.cfg.Now().Unix()
	if json.Unmarshal(plain, &r) != nil || r.User != string(userID) || r.Issued <= 0 || now >= r.Expires ||
		now >= r.Issued+int64(st.RememberBrowserDays)*24*3600 {
		return false
	}
	g, err := s.generation(ctx, userID)
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "mfa: reading the MFA generation", "err", err)
		return false
	}
	return g == r.Generation
}
