package dbauth

import (
	"context"
	"slices"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/sessions"
	"github.com/authgraph/authgraph/store"
)

// What Login reads and writes besides the identity and the hash, kept to
// as few statements as possible: the connection comes from a cache, and a
// successful login's bookkeeping, counter reset and log event are one
// transaction.

// loginConnection is Connection through a cache (store.Cache: dropped by
// any local change to connections, at most clients.CacheTTL old). A name
// missing from the cached connections is looked up again before
// ErrUnknownConnection.
func (s *Service) loginConnection(ctx context.Context, name string) (*ent.Connection, error) {
	return s.cachedConnection(ctx, name, connection.StrategyDatabase)
}

// cachedConnection returns the password connection (database or customdb)
// called name from the cache, if its strategy is one of strategies.
func (s *Service) cachedConnection(ctx context.Context, name string, strategies ...connection.Strategy) (*ent.Connection, error) {
	// The Service is a plain struct (built as a literal): its cache is made
	// on first use.
	s.connsOnce.Do(func() {
		s.conns = store.NewCache[struct{}, []*ent.Connection](s.DB, clients.CacheTTL, 1, ent.TypeConnection)
	})
	cache := s.conns
	load := func(ctx context.Context) ([]*ent.Connection, error) {
		return s.DB.Connection.Query().
			Where(connection.StrategyIn(connection.StrategyDatabase, connection.StrategyCustomdb)).
			All(authz.SystemContext(ctx))
	}
	find := func(all []*ent.Connection) *ent.Connection {
		for _, c := range all {
			if c.Name == name && slices.Contains(strategies, c.Strategy) {
				return c
			}
		}
		return nil
	}
	all, err := cache.Get(ctx, struct{}{}, load)
	if err != nil {
		return nil, err
	}
	if conn := find(all); conn != nil {
		return conn, nil
	}
	if all, err = cache.Refresh(ctx, struct{}{}, load); err != nil {
		return nil, err
	}
	if conn := find(all); conn != nil {
		return conn, nil
	}
	return nil, ErrUnknownConnection
}

// recordLogin records a correct password in one transaction: the user's
// last_login, last_ip and logins_count (also for a blocked user, docs/PROFILE.md),
// the end of this (identifier, IP)'s failure counter when there is one, a
// re-hashed password when upgrade is set, the log event (s, or f when the
// user is blocked) and, when the login page asked for it, the session
// (pre, sessions.Prepared). Whether the user is blocked is decided by the
// update itself, so a block made during the hash counts. It returns u and
// idn as they now are. ctx is a system context.
func (s *Service) recordLogin(ctx context.Context, ev logs.Event, u *ent.User, idn *ent.Identity, clear *attemptKey, upgrade string, pre *sessions.Prepared) (*ent.User, *ent.Identity, bool, error) {
	if db := store.Of(s.DB); db.Postgres() && upgrade == "" {
		v, blocked, err := s.recordLoginPostgres(ctx, db, ev, u, clear, pre) // loginrecord.go
		return v, idn, blocked, err
	}
	now := s.now()
	realIP := truncate(logs.RequestFrom(ctx).IP, 64)
	tx, err := s.DB.Tx(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	fail := func(err error) (*ent.User, *ent.Identity, bool, error) {
		_ = tx.Rollback()
		return nil, nil, false, err
	}
	bump := func(onlyUnblocked bool) (int, error) {
		q := tx.User.Update().Where(user.ID(u.ID))
		if onlyUnblocked {
			q.Where(user.Blocked(false))
		}
		q.SetLastLogin(now).AddLoginsCount(1)
		if realIP != "" {
			q.SetLastIP(realIP)
		}
		return q.Save(ctx)
	}
	blocked := false
	n, err := bump(true)
	if err == nil && n == 0 {
		// Blocked, or deleted meanwhile.
		blocked = true
		n, err = bump(false)
		if err == nil && n == 0 {
			err = &ent.NotFoundError{}
		}
	}
	if err != nil {
		return fail(err)
	}
	if clear != nil {
		_, err := tx.LoginAttempt.Delete().
			Where(loginattempt.Connection(clear.conn), loginattempt.Identifier(clear.ident), loginattempt.IP(clear.ip)).
			Exec(ctx)
		if err != nil {
			return fail(err)
		}
	}
	if upgrade != "" {
		up, err := tx.Identity.UpdateOne(idn).SetPasswordHash(upgrade).Save(ctx)
		if err != nil {
			return fail(err)
		}
		up.Edges = idn.Edges
		idn = up
	}
	if blocked {
		ev.Type, ev.Description = logs.TypeFailedLogin, blockedDescription
	} else {
		ev.Type, ev.Description = logs.TypeSuccessLogin, ""
	}
	if err := logs.Write(ctx, tx.Client(), ev); err != nil {
		return fail(err)
	}
	// The row as the update left it, without reading it back.
	v := *u
	v.Edges = ent.UserEdges{}
	v.LastLogin, v.UpdatedAt = &now, now
	v.LoginsCount++
	v.Blocked = v.Blocked || blocked
	if realIP != "" {
		v.LastIP = &realIP
	}
	if !blocked {
		// The login page's session, in this transaction when the page
		// asked for it (pre).
		req := logs.RequestFrom(ctx)
		if _, err := pre.In(ctx, tx, &v, sessions.Params{
			UserID: u.ID, AuthTime: now.Truncate(time.Second), AMR: []string{"pwd"}, Connection: ev.Connection,
			IP: req.IP, UserAgent: req.UserAgent,
		}); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, false, err
	}
	return &v, idn, blocked, nil
}
