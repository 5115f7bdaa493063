package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/store"
)

// TestCache: a cached read is served from memory until the entity type
// changes through the client (at once, and again after a transaction
// commits) or the entry is older than the TTL.
func TestCache(t *testing.T) {
	forEach(t, func(t *testing.T, db *store.DB) {
		c0 := newConn(t, db, "cache-conn")
		loads := 0
		cache := store.NewCache[string, *ent.Connection](db.Ent, time.Hour, 10, "Connection")
		get := func() *ent.Connection {
			t.Helper()
			v, err := cache.Get(sys, "k", func(ctx context.Context) (*ent.Connection, error) {
				loads++
				return db.Ent.Connection.Query().Where(connection.Name("cache-conn")).Only(ctx)
			})
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		get()
		get()
		if loads != 1 {
			t.Fatalf("two reads loaded %d times", loads)
		}
		// A change of another type keeps the entry.
		if _, err := db.Ent.User.Create().SetUserID("auth0|cache").Save(sys); err != nil {
			t.Fatal(err)
		}
		get()
		if loads != 1 {
			t.Fatalf("an unrelated change reloaded")
		}
		db.Ent.Connection.UpdateOne(c0).SetEnabledClients([]string{"changed"}).ExecX(sys)
		if v := get(); loads != 2 || first(v.EnabledClients) != "changed" {
			t.Fatalf("after a change: loads %d, enabled clients %v", loads, v.EnabledClients)
		}
		// Inside a transaction: readers see the old row until the commit,
		// and the commit drops what they cached meanwhile.
		tx, err := db.Ent.Tx(sys)
		if err != nil {
			t.Fatal(err)
		}
		tx.Connection.UpdateOneID(c0.ID).SetEnabledClients([]string{"in tx"}).ExecX(sys)
		if db.Dialect == "postgres" { // SQLite's single writer would block the read
			if v := get(); first(v.EnabledClients) != "changed" {
				t.Fatalf("uncommitted change visible: %v", v.EnabledClients)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if v := get(); first(v.EnabledClients) != "in tx" {
			t.Fatalf("committed change not seen: %v", v.EnabledClients)
		}
		// Deletions count as changes.
		n := loads
		db.Ent.Connection.DeleteOneID(c0.ID).ExecX(sys)
		if _, err := cache.Get(sys, "k", func(ctx context.Context) (*ent.Connection, error) {
			loads++
			return nil, nil
		}); err != nil || loads != n+1 {
			t.Fatalf("after a delete: loads %d→%d, %v", n, loads, err)
		}
	})
}

// TestCacheTTL: entries expire (on Postgres, while the node listens for
// changes, after ListeningTTL: TestNotifyListeningTTL).
func TestCacheTTL(t *testing.T) {
	defer func(old time.Duration) { store.ListeningTTL = old }(store.ListeningTTL)
	store.ListeningTTL = 0
	forEach(t, func(t *testing.T, db *store.DB) {
		cache := store.NewCache[int, int](db.Ent, 20*time.Millisecond, 10, "Application")
		loads := 0
		load := func(context.Context) (int, error) { loads++; return loads, nil }
		cache.Get(sys, 1, load)
		cache.Get(sys, 1, load)
		time.Sleep(30 * time.Millisecond)
		if v, _ := cache.Get(sys, 1, load); v != 2 {
			t.Fatalf("expired entry served: %d", v)
		}
	})
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
