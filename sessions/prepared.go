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
// login page creates right after can be part of it, saving a commit, when
// the request was marked with WithLogin:
//
//	login page    ctx = m.WithLogin(ctx)
//	dbauth.Login  PrepareIn(ctx, tx, params)   the row is inserted in the login's transaction
//	login page    m.Create(ctx, w, r, params)  sets the cookie of that row instead of inserting another
//
// Create uses the prepared session only when it is what Create would have
// made (same user, connection, AMR, client address and agent, auth_time
// within a second or two); otherwise it revokes the prepared row and inserts
// as usual. A prepared row whose request never reaches Create (an error in
// between) is a session nobody holds the token of: it cannot be used and
// expires like any other.

type loginKey struct{}

// pendingLogin is the state of one WithLogin request.
type pendingLogin struct {
	m  *Manager
	mu sync.Mutex
	s  *ent.Session // prepared, not yet taken by Create
	// token is the prepared session's cookie value.
	token string
	// id is the prepared session's, once Create took it.
	id pulid.ID
}

// maxAuthTimeSkew is how far the auth_time Create is given may be from the
// prepared one (the login page reads its clock after the login returns).
const maxAuthTimeSkew = 2 * time.Second

// WithLogin marks ctx as a login request in which m creates the session
// (the hosted login page's password POSTs).
func (m *Manager) WithLogin(ctx context.Context) context.Context {
	return context.WithValue(ctx, loginKey{}, &pendingLogin{m: m})
}

// PrepareIn inserts, in tx, the session of the login of user that ctx's
// request is recording, for Create to hand out once tx commits. It reports
// false, doing nothing, when ctx does not come from WithLogin or a session
// was already prepared.
func PrepareIn(ctx context.Context, tx *ent.Tx, user *ent.User, p Params) (bool, error) {
	row, err := PrepareRow(ctx, p)
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

// takePrepared returns the session prepared in ctx's request when it is the
// one Create(p) would make, with its cookie value. A prepared session that
// does not match is revoked.
func (m *Manager) takePrepared(ctx context.Context, p Params) (*ent.Session, string) {
	pl, _ := ctx.Value(loginKey{}).(*pendingLogin)
	if pl == nil || pl.m != m {
		return nil, ""
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	s := pl.s
	if s == nil {
		return nil, ""
	}
	pl.s = nil
	d := s.AuthTime.Sub(p.AuthTime)
	if s.UserRef != p.UserID || s.Connection != p.Connection || !slices.Equal(s.Amr, nonNil(p.AMR)) ||
		s.IP != p.IP || s.UserAgent != truncateUA(p.UserAgent) || d > maxAuthTimeSkew || d < -maxAuthTimeSkew {
		_ = m.revoke(ctx, s.ID)
		return nil, ""
	}
	pl.id = s.ID
	return s, pl.token
}

// Row is a prepared session that the login writes with its own statement
// (dbauth's one-statement login on Postgres) instead of through PrepareIn's
// transaction.
type Row struct {
	// Session is the row to insert, as Create would have inserted it.
	Session *ent.Session
	token   string
	pl      *pendingLogin
}

// PrepareRow is PrepareIn for a caller that inserts the row itself: it
// returns the session of the login that ctx's request is recording, nil
// when ctx does not come from WithLogin or a session was already prepared.
// Once the row is committed, the caller calls Written with the user as the
// login left it.
func PrepareRow(ctx context.Context, p Params) (*Row, error) {
	pl, _ := ctx.Value(loginKey{}).(*pendingLogin)
	if pl == nil {
		return nil, nil
	}
	pl.mu.Lock()
	done := pl.s != nil || pl.id != ""
	pl.mu.Unlock()
	if done {
		return nil, nil
	}
	token, s, err := pl.m.newRow(p)
	if err != nil {
		return nil, err
	}
	return &Row{Session: s, token: token, pl: pl}, nil
}

// Written hands the committed row, of user, to the login page's Create.
func (r *Row) Written(user *ent.User) {
	r.Session.Edges.User = user
	r.pl.mu.Lock()
	r.pl.s, r.pl.token = r.Session, r.token
	r.pl.mu.Unlock()
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
