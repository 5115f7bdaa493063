package dbauth

import (
	"context"
	"slices"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/store"
)

// What Login reads besides the identity, kept to as few statements as
// possible: the connection comes from a cache. (A correct password's
// writes are the login's record, authn.Store.)

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
		s.conns = store.NewCache[struct{}, []*ent.Connection](s.DB, clients.CacheTTL, 1, ent.TypeConnection).Named("dbauth_connections")
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
