package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	"github.com/authgraph/authgraph/ent"
)

// Transient writes. A login writes state that only matters if the login
// completes: the auth request (/authorize), the login's bookkeeping, log
// event and session, and the code's issuance. On Postgres those go through
// a second pool whose sessions run with synchronous_commit=off: their
// commit returns without waiting for the WAL flush (the WAL writer flushes
// within a few hundred milliseconds and several commits share one flush),
// which spares the database a WAL flush and the backend a sleep and a
// wake-up per commit (docs/BENCHMARKS.md has the figures).
//
// What a crash can lose is bounded by the WAL's order. The code exchange
// that completes a login commits synchronously on the main pool, and a
// synchronous commit flushes the WAL up to its own record, so it makes every
// earlier transient write durable too, the login's included. A crash thus
// loses only the transient writes of logins that had not reached their code
// exchange yet, and all of them fail closed: an auth request or a code that
// was never durably issued cannot be redeemed, and a session cookie whose
// row is gone is no session. Visibility is unaffected: other connections
// and nodes see a transient write as soon as it commits. The count a login
// attempt takes before its password is checked (dbauth/lockout) is
// transient too: a crash of the database can forget at most the last few
// hundred milliseconds of counts. Everything else (management writes, code
// exchange, refresh, revocation, the block a failure at the threshold
// sets) commits synchronously.

// openTransient opens the pool for transient writes: the same database as
// rawURL, with synchronous_commit=off for its sessions (lib/pq sends
// parameters it does not know as run-time parameters).
func openTransient(rawURL string, pool Pool) (*sql.DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		return nil, err
	}
	pool.apply(db, pool.transientMaxOpen()) // a login's few writes: half the main pool
	return db, nil
}

// Transient returns the client for transient writes (see above): the same
// database as d.Ent, committing asynchronously on Postgres; d.Ent itself on
// SQLite.
func (d *DB) Transient() *ent.Client { return d.transient }

// TransientOf returns the client for transient writes of the DB that Open
// made client for, and client itself for any other client.
func TransientOf(client *ent.Client) *ent.Client {
	if d := Of(client); d != nil {
		return d.transient
	}
	return client
}

// QueryRowTransient is QueryRow for a transient write.
func (d *DB) QueryRowTransient(ctx context.Context, query string, args ...any) *sql.Row {
	if d.tdrv == nil {
		return d.QueryRow(ctx, query, args...)
	}
	return d.tdrv.queryRow(ctx, query, args...)
}
