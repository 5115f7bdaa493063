package store

import (
	"context"
	"database/sql"
	"sync"

	"entgo.io/ent/dialect"

	"github.com/authgraph/authgraph/ent"
)

// Hand-written statements. ent sends one statement per round trip, and a
// transaction adds BEGIN and COMMIT; on the hottest paths (a password
// login's bookkeeping, a code exchange) Postgres can do the same work in one
// statement with data-modifying CTEs, which takes a sixth of the round trips
// and commits. Those paths ask Of for the DB behind their ent client and,
// when it is Postgres, run their statement with QueryRow; elsewhere (SQLite,
// clients not made by Open) they keep the ent path.

var opened sync.Map // *ent.Client → *DB

// Of returns the DB that Open made client for; nil for any other client.
func Of(client *ent.Client) *DB {
	d, _ := opened.Load(client)
	db, _ := d.(*DB)
	return db
}

// Postgres reports whether d is a Postgres database.
func (d *DB) Postgres() bool { return d != nil && d.Dialect == dialect.Postgres }

// QueryRow runs a hand-written statement that returns one row, as a prepared
// statement cached per SQL text like ent's (one round trip), counted in
// Stats and shown to TraceStatements. It bypasses ent's hooks and privacy
// policies: callers write only tables no read cache watches, from code that
// has already decided what may be written.
func (d *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return d.drv.queryRow(ctx, query, args...)
}
