package oidc

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/resourceserver"
)

// Read caches of the login and token paths. Clients, connections and APIs
// come from store.Cache: at most clients.CacheTTL old, dropped at once by
// any change made through this process. Cached entities are shared: never
// modify them.

// connectionsFor returns the connections enabled for clientID. When the
// cached connections enable none, they are read again: a client registered
// a moment ago by another process (the CLI enables new clients on every
// connection) must not find the login page empty.
func (p *Provider) connectionsFor(ctx context.Context, clientID string) ([]*ent.Connection, error) {
	load := func(ctx context.Context) ([]*ent.Connection, error) {
		return p.db.Connection.Query().All(authz.SystemContext(ctx))
	}
	all, err := p.conns.Get(ctx, struct{}{}, load)
	if err != nil {
		return nil, err
	}
	enabled := enabledFor(all, clientID)
	if len(enabled) == 0 {
		if all, err = p.conns.Refresh(ctx, struct{}{}, load); err != nil {
			return nil, err
		}
		enabled = enabledFor(all, clientID)
	}
	return enabled, nil
}

func enabledFor(conns []*ent.Connection, clientID string) []*ent.Connection {
	var out []*ent.Connection
	for _, c := range conns {
		if slices.Contains(c.EnabledClients, clientID) {
			out = append(out, c)
		}
	}
	return out
}

// resourceServer returns the registered API with this identifier, nil when
// none.
func (p *Provider) resourceServer(ctx context.Context, identifier string) (*ent.ResourceServer, error) {
	return p.apis.Get(ctx, identifier, func(ctx context.Context) (*ent.ResourceServer, error) {
		rs, err := p.db.ResourceServer.Query().Where(resourceserver.Identifier(identifier)).Only(authz.SystemContext(ctx))
		if ent.IsNotFound(err) {
			return nil, nil
		}
		return rs, err
	})
}

// pendingCache remembers the auth requests this node created while they
// wait for a login, so the login page and the login that follows (usually
// on the same node, within seconds) need not read them back; and, keyed by
// code hash, the requests whose code it issued, so the code exchange that
// follows need not either. It is safe because every state change of an auth
// request is a conditional update in the database (done = false,
// code_used_at IS NULL): a copy that missed a change made elsewhere can only
// lead to that update matching no row, which is answered exactly as a fresh
// read would have been (an expired request, a code already used). Entries
// leave when used here, at their expiry, or after pendingCacheTTL.
type pendingCache struct {
	mu sync.Mutex
	m  map[string]pendingEntry
}

type pendingEntry struct {
	ar      *ent.AuthRequest
	user    *ent.User // of an issued code
	added   time.Time
	expires time.Time
}

const (
	// pendingCacheTTL: a login page left open longer reads its request
	// from the database.
	pendingCacheTTL = 10 * time.Minute
	// pendingCacheSize bounds memory (≈1 KB per request); beyond it,
	// requests are read from the database.
	pendingCacheSize = 4096
)

func newPendingCache() *pendingCache { return &pendingCache{m: map[string]pendingEntry{}} }

func (e pendingEntry) live(now time.Time) bool {
	return now.Sub(e.added) < pendingCacheTTL && now.Before(e.expires)
}

// put remembers ar (and, for a code, its user) under key until expires.
func (c *pendingCache) put(key string, ar *ent.AuthRequest, user *ent.User, expires, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= pendingCacheSize {
		for k, e := range c.m {
			if !e.live(now) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= pendingCacheSize {
			return
		}
	}
	c.m[key] = pendingEntry{ar: ar, user: user, added: now, expires: expires}
}

// get returns the request under key, nil when it is not cached or expired
// at now.
func (c *pendingCache) get(key string, now time.Time) *ent.AuthRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil
	}
	if !e.live(now) {
		delete(c.m, key)
		return nil
	}
	return e.ar
}

// take is get, forgetting the entry, with its user.
func (c *pendingCache) take(key string, now time.Time) (*ent.AuthRequest, *ent.User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	delete(c.m, key)
	if !ok || !e.live(now) {
		return nil, nil
	}
	return e.ar, e.user
}

func (c *pendingCache) drop(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}
