package store_test

import (
	"context"
	"testing"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/store"
)

// TestTransientWrites checks the pool for a login's in-progress writes: on
// Postgres its sessions commit asynchronously and the main pool's do not,
// both see each other's commits at once, and both count in Stats; on
// SQLite it is the main client. QueryRow and Of find the DB of a client.
func TestTransientWrites(t *testing.T) {
	forEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if store.Of(db.Ent) != db || store.Of(ent.NewClient()) != nil {
			t.Fatal("Of does not find the DB of its client")
		}
		if store.TransientOf(db.Ent) != db.Transient() {
			t.Fatal("TransientOf disagrees with Transient")
		}
		if !db.Postgres() {
			if db.Transient() != db.Ent {
				t.Fatal("on SQLite transient writes must use the main client")
			}
			return
		}
		if db.Transient() == db.Ent {
			t.Fatal("on Postgres transient writes need their own pool")
		}
		var main, transient string
		if err := db.QueryRow(ctx, "SHOW synchronous_commit").Scan(&main); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowTransient(ctx, "SHOW synchronous_commit").Scan(&transient); err != nil {
			t.Fatal(err)
		}
		if main != "on" || transient != "off" {
			t.Fatalf("synchronous_commit: main %q, transient %q; want on, off", main, transient)
		}

		before := db.Stats().Statements
		u, err := db.Transient().User.Create().SetUserID("auth0|transient").Save(sys)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := db.Ent.User.Get(sys, u.ID); err != nil || got.UserID != "auth0|transient" {
			t.Fatalf("a transient write is not visible to the main pool: %v, %v", got, err)
		}
		var n int
		if err := db.QueryRowTransient(ctx, "SELECT count(*) FROM users WHERE id = $1", string(u.ID)).Scan(&n); err != nil || n != 1 {
			t.Fatalf("the transient pool does not see the row: %d, %v", n, err)
		}
		if got := db.Stats().Statements - before; got < 3 {
			t.Fatalf("Stats counted %d statements of both pools, want at least 3", got)
		}
	})
}
