package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgraph/authgraph/ent"
)

// Change tracking for read caches. Every client Open returns carries a hook
// that counts the mutations of each entity type (a generation per type),
// bumping the count before and after the mutation and, inside a
// transaction, again once it commits. A Cache of a type drops everything it
// holds as soon as the type's generation moves, so a change made through
// this process is seen by the next read; changes made by other processes
// (other nodes, the CLI) are announced through Postgres and seen within
// milliseconds, or within the Cache's TTL when announcements cannot be
// received (notify.go).

// changes are the generations of one client's entity types.
type changes struct {
	gens sync.Map // entity type name ("Application") → *atomic.Uint64
	// notify announces and receives changes on Postgres; nil on SQLite.
	notify *notifier
}

// trackers maps each client Open returned to its changes.
var trackers sync.Map // *ent.Client → *changes

func (c *changes) gen(typ string) *atomic.Uint64 {
	g, _ := c.gens.LoadOrStore(typ, new(atomic.Uint64))
	return g.(*atomic.Uint64)
}

// hook bumps the generation of the mutated type, when something watches it.
func (c *changes) hook(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		g, ok := c.gens.Load(m.Type())
		if !ok {
			return next.Mutate(ctx, m)
		}
		gen := g.(*atomic.Uint64)
		gen.Add(1)
		v, err := next.Mutate(ctx, m)
		gen.Add(1)
		inTx := false
		if t, ok := m.(interface{ Tx() (*ent.Tx, error) }); ok {
			if tx, terr := t.Tx(); terr == nil {
				inTx = true
				// Readers outside the transaction still see the old row
				// until it commits: bump once more after that.
				typ := m.Type()
				tx.OnCommit(func(next ent.Committer) ent.Committer {
					return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
						err := next.Commit(ctx, tx)
						gen.Add(1)
						if err == nil {
							c.announce(typ)
						}
						return err
					})
				})
			}
		}
		if err == nil && !inTx {
			c.announce(m.Type())
		}
		return v, err
	})
}

func track(client *ent.Client) *changes {
	c := &changes{}
	trackAs(client, c)
	return c
}

// trackAs counts client's mutations in c: a second client on the same
// database (DB.Transient) shares the first one's generations.
func trackAs(client *ent.Client, c *changes) {
	client.Use(c.hook)
	trackers.Store(client, c)
}

func untrack(client *ent.Client) { trackers.Delete(client) }

// Cache holds values loaded from the database for at most TTL, keyed by K,
// and forgets them all whenever an entity type it watches changes through
// the same client (see above). It is meant for the few rows that every
// login or token request reads and that administrators rarely change:
// clients, connections, APIs. Values are shared between callers, which must
// not modify them. Safe for concurrent use.
type Cache[K comparable, V any] struct {
	ttl  time.Duration
	max  int
	gens []*atomic.Uint64 // nil: the client is not tracked, nothing is cached
	ch   *changes
	now  func() time.Time
	// stats counts Get's hits and misses (cachestats.go), nil when unnamed.
	stats *cacheCounter
	// ownTTL keeps ttl even while the node listens for changes (KeepTTL).
	ownTTL bool

	mu   sync.Mutex
	m    map[K]cacheEntry[V]
	seen uint64 // sum of gens when m was last valid
}

type cacheEntry[V any] struct {
	v  V
	at time.Time
}

// NewCache returns a cache of values read through client, dropped when any
// of the entity types (ent type names: "Application", "Connection"…)
// changes. It holds at most max entries (starting over when full) for at
// most ttl each. A client that Open did not return gets a cache that never
// holds anything.
func NewCache[K comparable, V any](client *ent.Client, ttl time.Duration, max int, types ...string) *Cache[K, V] {
	c := &Cache[K, V]{ttl: ttl, max: max, now: time.Now, m: map[K]cacheEntry[V]{}}
	if t, ok := trackers.Load(client); ok {
		c.ch = t.(*changes)
		for _, typ := range types {
			c.gens = append(c.gens, t.(*changes).gen(typ))
		}
	}
	return c
}

func (c *Cache[K, V]) generation() uint64 {
	var sum uint64
	for _, g := range c.gens {
		sum += g.Load()
	}
	return sum
}

// Get returns the cached value of key, or loads it. A failed load is not
// cached. To cache "not found", make it a value (a nil pointer) rather than
// an error.
func (c *Cache[K, V]) Get(ctx context.Context, key K, load func(context.Context) (V, error)) (V, error) {
	if c.gens == nil {
		return load(ctx)
	}
	g := c.generation()
	now := c.now()
	c.mu.Lock()
	if g > c.seen {
		clear(c.m)
		c.seen = g
	}
	e, ok := c.m[key]
	ok = ok && c.seen == g
	c.mu.Unlock()
	ttl := c.ttl
	if !c.ownTTL {
		ttl = c.ch.ttl(c.ttl, now)
	}
	if ok && now.Sub(e.at) < ttl {
		c.stats.hit()
		return e.v, nil
	}
	c.stats.miss()
	return c.fill(ctx, key, g, now, load)
}

// Refresh loads key and caches the result: for a caller that found the
// cached value wanting (a client missing from the cached connections, say)
// and wants to be sure it is not merely stale.
func (c *Cache[K, V]) Refresh(ctx context.Context, key K, load func(context.Context) (V, error)) (V, error) {
	if c.gens == nil {
		return load(ctx)
	}
	g := c.generation()
	c.mu.Lock()
	if g > c.seen {
		clear(c.m)
		c.seen = g
	}
	c.mu.Unlock()
	return c.fill(ctx, key, g, c.now(), load)
}

func (c *Cache[K, V]) fill(ctx context.Context, key K, g uint64, now time.Time, load func(context.Context) (V, error)) (V, error) {
	v, err := load(ctx)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	// Only when nothing changed while loading: a value read before a
	// change committed must not outlive it.
	if c.seen == g && c.generation() == g {
		if len(c.m) >= c.max {
			clear(c.m)
		}
		c.m[key] = cacheEntry[V]{v: v, at: now}
	}
	c.mu.Unlock()
	return v, nil
}

// KeepTTL makes the cache keep its own TTL even while the node hears other
// nodes' changes, for answers whose staleness is a security bound (a
// revoked grant): a change whose announcement was lost, because its node
// died between the commit and the notification, is then still seen within
// that TTL rather than the longer ListeningTTL. Call it right after
// NewCache, before the cache is shared.
func (c *Cache[K, V]) KeepTTL() *Cache[K, V] {
	c.ownTTL = true
	return c
}

// Forget drops every entry.
func (c *Cache[K, V]) Forget() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}
