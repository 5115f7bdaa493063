package sessions

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
)

// A login opens its session in two steps, so that the row can be written
// with the rest of the login's record (authn.Store, one transaction or one
// statement) instead of on its own:
//
//	o, _ := m.Opening(params)   the row and its cookie value, nothing stored
//	store.Record(…, o.Session)  the row is inserted with the login record
//	m.Open(ctx, w, r, o)        the browser's previous session ends, the cookie is set
//
// An Opening whose row was never written is simply dropped; one written but
// never opened is a session nobody holds the token of: it cannot be used
// and expires like any other.

// Opening is a new session not handed to the browser yet.
type Opening struct {
	// Session is the row to insert.
	Session *ent.Session
	token   string
}

// Opening returns a new session of p: its row, not stored, and the cookie
// value that only the browser will hold (the row keeps its SHA-256).
func (m *Manager) Opening(p Params) (*Opening, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := m.now()
	return &Opening{token: token, Session: &ent.Session{
		ID: pulid.MustNew("ses_"), CreatedAt: now, UpdatedAt: now,
		UserRef: p.UserID, TokenHash: hash(token), AuthTime: p.AuthTime, Amr: nonNil(p.AMR),
		Connection: p.Connection, IP: p.IP, UserAgent: truncateUA(p.UserAgent),
		LastSeenAt: now, IdleExpiresAt: now.Add(m.idle()), ExpiresAt: now.Add(m.absolute()),
	}}, nil
}

// Open hands a stored session to the browser: the session the request
// carried, if any, is ended (a new login is a new session: no fixation) and
// the cookie of o is set on w.
func (m *Manager) Open(ctx context.Context, w http.ResponseWriter, r *http.Request, o *Opening) {
	if old, err := m.Current(ctx, r); err == nil && old.ID != o.Session.ID {
		_ = m.revoke(ctx, old.ID)
	}
	m.setCookie(w, o.token, m.absolute())
}

// Insert stores the session row s through db (a client or a transaction's
// client).
func Insert(ctx context.Context, db *ent.Client, s *ent.Session) (*ent.Session, error) {
	return db.Session.Create().
		SetID(s.ID).
		SetCreatedAt(s.CreatedAt).
		SetUpdatedAt(s.UpdatedAt).
		SetUserRef(s.UserRef).
		SetTokenHash(s.TokenHash).
		SetAuthTime(s.AuthTime).
		SetAmr(s.Amr).
		SetConnection(s.Connection).
		SetIP(s.IP).
		SetUserAgent(s.UserAgent).
		SetLastSeenAt(s.LastSeenAt).
		SetIdleExpiresAt(s.IdleExpiresAt).
		SetExpiresAt(s.ExpiresAt).
		Save(authz.SystemContext(ctx))
}

func truncateUA(ua string) string { return logs.Truncate(ua, 512) }
