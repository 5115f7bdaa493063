package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

// node is one "node" of a two-node test: its DB and a cache of the number
// of connections, watched like the login path watches them.
type node struct {
	db    *store.DB
	cache *store.Cache[struct{}, int]
}

func newNode(t *testing.T, dsn string, ttl time.Duration) *node {
	db := open(t, dsn)
	return &node{db: db, cache: store.NewCache[struct{}, int](db.Ent, ttl, 1, ent.TypeConnection)}
}

func (n *node) connections(t *testing.T) int {
	t.Helper()
	v, err := n.cache.Get(sys, struct{}{}, func(ctx context.Context) (int, error) {
		return n.db.Ent.Connection.Query().Count(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// seenWithin polls n's cache until it counts want connections, and returns
// how long that took; it fails after limit.
func (n *node) seenWithin(t *testing.T, want int, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		if n.connections(t) == want {
			return time.Since(since)
		}
		if time.Since(since) > limit {
			t.Fatalf("node B still counts a stale number of connections after %v (want %d)", limit, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitListening(t *testing.T, db *store.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !db.Listening() {
		if time.Now().After(deadline) {
			t.Fatal("the node does not listen for changes")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNotifyAcrossNodes: two nodes on one Postgres database. A change
// committed through node A drops node B's cache of that type within
// milliseconds, though B's cache would keep its entry for an hour; with
// node B's listening connection killed and kept down, the change is seen
// within the cache's own (fallback) TTL; once the connection is back,
// within milliseconds again.
func TestNotifyAcrossNodes(t *testing.T) {
	dsn := testenv.Postgres(t)
	a := newNode(t, dsn, time.Hour)
	// B's own TTL is the fallback; the test's is shorter than the default
	// so it runs quickly.
	const fallback = 700 * time.Millisecond
	b := newNode(t, dsn, fallback)
	waitListening(t, b.db)
	// Listening lengthens B's TTL: without notifications, B would not see
	// A's changes for ListeningTTL. The bound asserted below (5 s, for a
	// loaded CI machine; the typical figure is milliseconds, logged and
	// recorded in docs/BENCHMARKS.md) must stay well below it to prove the
	// notification, not the TTL, dropped the entry.
	if store.ListeningTTL < 10*time.Second {
		t.Fatalf("ListeningTTL = %v", store.ListeningTTL)
	}

	count := b.connections(t)
	var lat []time.Duration
	for i := range 20 {
		newConn(t, a.db, fmt.Sprintf("notify-%d", i))
		count++
		lat = append(lat, b.seenWithin(t, count, time.Now(), 5*time.Second))
		// A's own cache sees its change at once.
		if got := a.connections(t); got != count {
			t.Fatalf("node A counts %d connections, want %d", got, count)
		}
	}
	slices.Sort(lat)
	t.Logf("change on A seen by B: median %v, max %v (20 changes)", lat[len(lat)/2], lat[len(lat)-1])

	// Kill B's (and A's) listening session and keep it from coming back.
	store.BlockListening(true)
	t.Cleanup(func() { store.BlockListening(false) })
	killListeners(t, b.db)
	deadline := time.Now().Add(5 * time.Second)
	for b.db.Listening() {
		if time.Now().After(deadline) {
			t.Fatal("node B still counts its killed listening connection healthy")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.connections(t) // cached while down: its own TTL applies
	newConn(t, a.db, "while-down")
	count++
	start := time.Now()
	d := b.seenWithin(t, count, start, fallback+time.Second)
	t.Logf("change on A seen by B while B's listener is down: %v (fallback TTL %v)", d, fallback)

	// Back up: a full forget, then notifications again.
	store.BlockListening(false)
	waitListening(t, b.db)
	b.connections(t)
	newConn(t, a.db, "after-reconnect")
	count++
	d = b.seenWithin(t, count, time.Now(), 5*time.Second)
	t.Logf("change on A seen by B after reconnection: %v", d)
}

// TestNotifyKilledListenerReconnects: a listening session terminated by
// the server (pg_terminate_backend) is re-established by itself, and a
// change made meanwhile is seen within the fallback TTL.
func TestNotifyKilledListenerReconnects(t *testing.T) {
	dsn := testenv.Postgres(t)
	a := newNode(t, dsn, time.Hour)
	const fallback = 2 * time.Second
	b := newNode(t, dsn, fallback)
	waitListening(t, b.db)
	count := b.connections(t)
	killListeners(t, b.db)
	newConn(t, a.db, "killed")
	count++
	d := b.seenWithin(t, count, time.Now(), fallback+time.Second)
	t.Logf("change on A seen by B across the listener's reconnection: %v", d)
	waitListening(t, b.db)
	newConn(t, a.db, "reconnected")
	count++
	d = b.seenWithin(t, count, time.Now(), 5*time.Second)
	t.Logf("after reconnection: %v", d)
}

// killListeners terminates every listening session of db's database.
func killListeners(t *testing.T, db *store.DB) {
	t.Helper()
	var n int
	err := db.SQL.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, store.ListenerApplicationName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no listening session to kill")
	}
}

// TestNotifySQLite: on SQLite there is nothing to listen to.
func TestNotifySQLite(t *testing.T) {
	db := open(t, testenv.SQLite(t))
	if db.Listening() {
		t.Fatal("a SQLite database listens")
	}
}

// TestNotifyListeningTTL: while the node listens for changes, entries live
// for ListeningTTL rather than their cache's own, shorter TTL, which comes
// back when the listening connection is lost.
func TestNotifyListeningTTL(t *testing.T) {
	db := open(t, testenv.Postgres(t))
	waitListening(t, db)
	cache := store.NewCache[int, int](db.Ent, 20*time.Millisecond, 10, ent.TypeApplication)
	loads := 0
	load := func(context.Context) (int, error) { loads++; return loads, nil }
	cache.Get(sys, 1, load)
	// A cache whose TTL is a security bound keeps it while listening.
	strict := store.NewCache[int, int](db.Ent, 20*time.Millisecond, 10, ent.TypeApplication).KeepTTL()
	strictLoads := 0
	strictLoad := func(context.Context) (int, error) { strictLoads++; return strictLoads, nil }
	strict.Get(sys, 1, strictLoad)
	time.Sleep(30 * time.Millisecond)
	if v, _ := cache.Get(sys, 1, load); v != 1 {
		t.Fatalf("listening: entry reloaded after its own TTL: %d", v)
	}
	if v, _ := strict.Get(sys, 1, strictLoad); v != 2 {
		t.Fatalf("KeepTTL: entry served past its own TTL while listening: %d", v)
	}
	store.BlockListening(true)
	t.Cleanup(func() { store.BlockListening(false) })
	killListeners(t, db)
	for db.Listening() {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(30 * time.Millisecond)
	if v, _ := cache.Get(sys, 1, load); v != 2 {
		t.Fatalf("not listening: expired entry served: %d", v)
	}
}
