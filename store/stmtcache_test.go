package store

import (
	"context"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/testenv"
)

// A statement run under Unprepared is planned with its values each time: it
// must not enter the prepared-statement cache (where Postgres would soon give
// it a generic plan), while the same statement otherwise does.
func TestUnpreparedSkipsTheStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, testenv.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const q = "SELECT 1 WHERE 1 = ?"
	cached := func() bool {
		db.drv.mu.RLock()
		defer db.drv.mu.RUnlock()
		_, ok := db.drv.stmts[q]
		return ok
	}
	if err := db.drv.queryRow(Unprepared(ctx), q, 1).Scan(new(int)); err != nil {
		t.Fatal(err)
	}
	if cached() {
		t.Fatal("an unprepared statement entered the cache")
	}
	if err := db.drv.queryRow(ctx, q, 1).Scan(new(int)); err != nil {
		t.Fatal(err)
	}
	if !cached() {
		t.Fatal("the statement was not cached without Unprepared: the test checks nothing")
	}
}

// TestSQLiteTimesAreStoredInUTC: SQLite compares times as the driver's text,
// offset included; a time written in another zone must still compare by
// instant with a bound given in UTC (keyset cursors and date searches).
func TestSQLiteTimesAreStoredInUTC(t *testing.T) {
	ctx := authz.SystemContext(context.Background())
	db, err := Open(ctx, testenv.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.WithLock(ctx, func(ctx context.Context) error { _, err := db.Migrate(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	cest := time.FixedZone("CEST", 2*3600)
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, cest) // 08:00 UTC
	if _, err := db.Ent.User.Create().SetUserID("auth0|tz").SetCreatedAt(at).Save(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := db.Ent.User.Query().Where(user.CreatedAtGTE(at.UTC()), user.CreatedAtLTE(at.UTC())).Count(ctx)
	if err != nil || n != 1 {
		t.Fatalf("a user created at %v is found between %v and itself %d times (%v)", at, at.UTC(), n, err)
	}
}
