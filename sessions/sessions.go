// Package sessions keeps browser single sign-on sessions server-side. The
// cookie carries only a random 256-bit token; the database keeps its SHA-256,
// so a leaked database row cannot be replayed as a cookie, and revoking a row
// ends the session everywhere at once.
package sessions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/session"
)

// Default lifetimes (issue: 3 days idle, 7 days absolute).
const (
	DefaultIdle     = 3 * 24 * time.Hour
	DefaultAbsolute = 7 * 24 * time.Hour
)

// CookieName is the SSO session cookie.
const CookieName = "authgraph_session"

// ErrNoSession is returned when the request has no live session.
var ErrNoSession = errors.New("no session")

// Manager creates, finds and ends sessions.
type Manager struct {
	DB *ent.Client
	// Secure is true for an https issuer: the cookie is then
	// `Secure; SameSite=None`, so a silent prompt=none request from the
	// client's site still carries it. On a loopback http issuer it is
	// `SameSite=Lax` (browsers refuse SameSite=None without Secure).
	Secure bool
	// Path scopes the cookie to the issuer's path.
	Path     string
	Idle     time.Duration
	Absolute time.Duration
	Now      func() time.Time
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) idle() time.Duration {
	if m.Idle > 0 {
		return m.Idle
	}
	return DefaultIdle
}

func (m *Manager) absolute() time.Duration {
	if m.Absolute > 0 {
		return m.Absolute
	}
	return DefaultAbsolute
}

// Params describe a new session.
type Params struct {
	UserID     pulid.ID
	AuthTime   time.Time
	AMR        []string
	Connection string
	IP         string
	UserAgent  string
}

// Create stores a session and sets its cookie on w. Any session the request
// already carried is ended first (a new login is a new session: no fixation).
// Logins open theirs through authn's record instead (Opening, Open).
func (m *Manager) Create(ctx context.Context, w http.ResponseWriter, r *http.Request, p Params) (*ent.Session, error) {
	o, err := m.Opening(p)
	if err != nil {
		return nil, err
	}
	s, err := Insert(ctx, m.DB, o.Session)
	if err != nil {
		return nil, err
	}
	m.Open(ctx, w, r, o)
	return s, nil
}

// Current returns the live session of the request: not revoked, within its
// idle and absolute lifetimes, and belonging to a user who is not blocked.
// Using a session extends its idle lifetime.
func (m *Manager) Current(ctx context.Context, r *http.Request) (*ent.Session, error) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, ErrNoSession
	}
	sys := authz.SystemContext(ctx)
	s, err := m.DB.Session.Query().Where(session.TokenHash(hash(c.Value))).WithUser().Only(sys)
	if ent.IsNotFound(err) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	now := m.now()
	if s.RevokedAt != nil || now.After(s.ExpiresAt) || now.After(s.IdleExpiresAt) || s.Edges.User == nil || s.Edges.User.Blocked {
		return nil, ErrNoSession
	}
	// Extend the idle window at most once a minute: a session in use should
	// not write on every request.
	if now.Sub(s.LastSeenAt) > time.Minute {
		idle := now.Add(m.idle())
		if idle.After(s.ExpiresAt) {
			idle = s.ExpiresAt
		}
		if err := m.DB.Session.UpdateOne(s).SetLastSeenAt(now).SetIdleExpiresAt(idle).Exec(sys); err == nil {
			s.LastSeenAt, s.IdleExpiresAt = now, idle
		}
	}
	return s, nil
}

// AddAMR records authentication methods passed during session id (a second
// factor: "otp", "mfa") after those of its login, which it keeps, and
// returns the session's methods. A revoked or expired session is
// ErrNoSession.
func (m *Manager) AddAMR(ctx context.Context, id pulid.ID, methods ...string) ([]string, error) {
	sys := authz.SystemContext(ctx)
	s, err := m.DB.Session.Get(sys, id)
	if ent.IsNotFound(err) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	now := m.now()
	if s.RevokedAt != nil || now.After(s.ExpiresAt) || now.After(s.IdleExpiresAt) {
		return nil, ErrNoSession
	}
	amr := slices.Clone(s.Amr)
	for _, v := range methods {
		if !slices.Contains(amr, v) {
			amr = append(amr, v)
		}
	}
	if len(amr) == len(s.Amr) {
		return amr, nil
	}
	n, err := m.DB.Session.Update().
		Where(session.ID(id), session.RevokedAtIsNil()).
		SetAmr(amr).
		Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, ErrNoSession
	}
	return amr, nil
}

// End revokes the request's session (if any) and clears the cookie.
func (m *Manager) End(ctx context.Context, w http.ResponseWriter, r *http.Request) (*ent.Session, error) {
	m.setCookie(w, "", -1)
	s, err := m.Current(ctx, r)
	if err != nil {
		return nil, err
	}
	return s, m.revoke(ctx, s.ID)
}

// RevokeUser ends every session of a user (block, delete, password change).
func RevokeUser(ctx context.Context, db *ent.Client, userID pulid.ID) error {
	return db.Session.Update().
		Where(session.UserRef(userID), session.RevokedAtIsNil()).
		SetRevokedAt(time.Now()).
		Exec(authz.SystemContext(ctx))
}

func (m *Manager) revoke(ctx context.Context, id pulid.ID) error {
	return m.DB.Session.UpdateOneID(id).SetRevokedAt(m.now()).Exec(authz.SystemContext(ctx))
}

func (m *Manager) setCookie(w http.ResponseWriter, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     CookieName,
		Value:    value,
		Path:     m.Path,
		HttpOnly: true,
		Secure:   m.Secure,
		SameSite: http.SameSiteLaxMode,
	}
	if m.Secure {
		c.SameSite = http.SameSiteNoneMode
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge.Seconds())
	}
	http.SetCookie(w, c)
}

func hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
