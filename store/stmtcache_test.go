package store

import (
	"context"
	"testing"

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
