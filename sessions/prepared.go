package sessions

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"sync"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// Sessions prepared by a login's own transaction. A password login writes
// its bookkeeping and log event in one transaction (dbauth); the session the
// login page creates right after can be part of it, saving a commit. The
// page asks for that explicitly, with a Prepared value it hands to the login
// and then to CreatePrepared:
//
//	login page    pre := m.Prepare()
//	dbauth.Login  pre.In(ctx, tx, user, params)      the row is inserted in the login's transaction
//	login page    m.CreatePrepared(ctx, w, r, params, pre)  sets the cookie of that row instead of inserting another
//
// CreatePrepared uses the prepared session only when it is what Create would
// have made (same user, connection, AMR, client address and agent,
// auth_time within a second or two); otherwise it revokes the prepared row
// and inserts as usual. A prepared row whose request never reaches
// CreatePrepared (an error in between) is a session nobody holds the token
// of: it cannot be used and expires like any other.

// Prepared is the session a login may store with its own bookkeeping, for
// one login request. A nil *Prepared prepares nothing.
type Prepared struct {
	m  *Manager
	mu sync.Mutex
	s  *ent.Session // prepared, not yet taken by CreatePrepared
	// token is the prepared session's cookie value.
	token string
	// taken is set once CreatePrepared took the session.
	taken bool
}

// maxAuthTimeSkew is how far the auth_time CreatePrepared is given may be
// from the prepared one (the login page reads its clock after the login
// returns).
const maxAuthTimeSkew = 2 * time.Second

// Prepare returns a Prepared for one login request of the login page.
func (m *Manager) Prepare() *Prepared { return &Prepared{m: m} }

// In inserts, in tx, the session of the login of user, for CreatePrepared to
// hand out once tx commits. It reports false, doing nothing, when pre is nil
// or a session was already prepared.
func (pre *Prepared) In(ctx context.Context, tx *ent.Tx, user *ent.User, p Params) (bool, error) {
	row, err := pre.Row(p)
	if err != nil || row == nil {
		return false, err
	}
	if row.Session, err = save(ctx, tx.Client(), row.Session); err != nil {
		return false, err
	}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			if err == nil {
				row.Written(user)
			}
			return err
		})
	})
	return true, nil
}

// take returns the session prepared in pre when it is the one Create(p)
// would make, with its cookie value. A prepared session that does not match
// is revoked.
func (m *Manager) take(ctx context.Context, pre *Prepared, p Params) (*ent.Session, string) {
	if pre == nil || pre.m != m {
		return nil, ""
	}
	pre.mu.Lock()
	defer pre.mu.Unlock()
	s := pre.s
	if s == nil {
		return nil, ""
	}
	pre.s = nil
	d := s.AuthTime.Sub(p.AuthTime)
	if s.UserRef != p.UserID || s.Connection != p.Connection || !slices.Equal(s.Amr, nonNil(p.AMR)) ||
		s.IP != p.IP || s.UserAgent != truncateUA(p.UserAgent) || d > maxAuthTimeSkew || d < -maxAuthTimeSkew {
		_ = m.revoke(ctx, s.ID)
		return nil, ""
	}
	pre.taken = true
	return s, pre.token
}

// Row is a prepared session that the login writes with its own statement
// (dbauth's one-statement login on Postgres) instead of through In's
// transaction.
type Row struct {
	// Session is the row to insert, as Create would have inserted it.
	Session *ent.Session
	token   string
	pre     *Prepared
}

// Row is In for a caller that inserts the row itself: it returns the
// session of the login, nil when pre is nil or a session was already
// prepared. Once the row is committed, the caller calls Written with the
// user as the login left it.
func (pre *Prepared) Row(p Params) (*Row, error) {
	if pre == nil {
		return nil, nil
	}
	pre.mu.Lock()
	done := pre.s != nil || pre.taken
	pre.mu.Unlock()
	if done {
		return nil, nil
	}
	token, s, err := pre.m.newRow(p)
	if err != nil {
		return nil, err
	}
	return &Row{Session: s, token: token, pre: pre}, nil
}

// Written hands the committed row, of user, to the login page's
// CreatePrepared.
func (r *Row) Written(user *ent.User) {
	r.Session.Edges.User = user
	r.pre.mu.Lock()
	r.pre.s, r.pre.token = r.Session, r.token
	r.pre.mu.Unlock()
}

// newRow returns a new session of p, not stored yet, and its cookie value.
func (m *Manager) newRow(p Params) (string, *ent.Session, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := m.now()
	return token, &ent.Session{
		ID: pulid.MustNew("ses_"), CreatedAt: now, UpdatedAt: now,
		UserRef: p.UserID, TokenHash: hash(token), AuthTime: p.AuthTime, Amr: nonNil(p.AMR),
		Connection: p.Connection, IP: p.IP, UserAgent: truncateUA(p.UserAgent),
		LastSeenAt: now, IdleExpiresAt: now.Add(m.idle()), ExpiresAt: now.Add(m.absolute()),
	}, nil
}

// insert stores a new session of p through db and returns its cookie value.
func (m *Manager) insert(ctx context.Context, db *ent.Client, p Params) (string, *ent.Session, error) {
	token, r, err := m.newRow(p)
	if err != nil {
		return "", nil, err
	}
	s, err := save(ctx, db, r)
	if err != nil {
		return "", nil, err
	}
	return token, s, nil
}

// save inserts the session row r through db.
func save(ctx context.Context, db *ent.Client, r *ent.Session) (*ent.Session, error) {
	return db.Session.Create().
		SetID(r.ID).
		SetCreatedAt(r.CreatedAt).
		SetUpdatedAt(r.UpdatedAt).
		SetUserRef(r.UserRef).
		SetTokenHash(r.TokenHash).
		SetAuthTime(r.AuthTime).
		SetAmr(r.Amr).
		SetConnection(r.Connection).
		SetIP(r.IP).
		SetUserAgent(r.UserAgent).
		SetLastSeenAt(r.LastSeenAt).
		SetIdleExpiresAt(r.IdleExpiresAt).
		SetExpiresAt(r.ExpiresAt).
		Save(authz.SystemContext(ctx))
}

func truncateUA(ua string) string {
	if len(ua) > 512 {
		return ua[:512]
	}
	return ua
}
