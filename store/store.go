// Package store opens Authgraph's database (Postgres through lib/pq, or an
// embedded SQLite file through the pure-Go modernc driver) and applies its
// versioned migrations.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/lib/pq"  // registers "postgres"
	_ "modernc.org/sqlite" // registers "sqlite"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	// ent/runtime registers schema defaults, hooks and privacy policies.
	_ "github.com/authgraph/authgraph/ent/runtime"
)

// DB is an open database.
type DB struct {
	Ent     *ent.Client
	SQL     *sql.DB
	Dialect string
	// Path is the SQLite file, empty for Postgres.
	Path string

	drv *cachingDriver
	// transient is the client for writes a crash may lose (transient.go);
	// Ent itself on SQLite.
	transient *ent.Client
	tdrv      *cachingDriver
	// notifier announces and receives entity changes (notify.go); nil on
	// SQLite.
	notifier *notifier
}

// Stats are counters of the statements sent through ent since Open.
type Stats struct {
	// Statements counts queries and commands (BEGIN and COMMIT excluded).
	Statements int64
	// Transactions counts transactions begun.
	Transactions int64
}

// TraceStatements calls fn with the SQL text of every statement sent through
// ent from now on (nil stops). For diagnosis (bench -explain); fn must be
// cheap and safe for concurrent use.
func (d *DB) TraceStatements(fn func(query string, inTx bool)) {
	if fn == nil {
		d.TraceStatementArgs(nil)
		return
	}
	d.TraceStatementArgs(func(query string, _ []any, inTx bool) { fn(query, inTx) })
}

// TraceStatementArgs is TraceStatements with each statement's arguments, so
// a statement can be replayed under EXPLAIN (bench -scenario search).
func (d *DB) TraceStatementArgs(fn func(query string, args []any, inTx bool)) {
	for _, drv := range d.drivers() {
		if fn == nil {
			drv.trace.Store(nil)
		} else {
			drv.trace.Store(&fn)
		}
	}
}

func (d *DB) drivers() []*cachingDriver {
	var out []*cachingDriver
	for _, drv := range []*cachingDriver{d.drv, d.tdrv} {
		if drv != nil {
			out = append(out, drv)
		}
	}
	return out
}

// Stats returns the statement counters (benchmarks report statements per
// operation with them).
func (d *DB) Stats() Stats {
	var st Stats
	for _, drv := range d.drivers() {
		st.Statements += drv.nStmts.Load()
		st.Transactions += drv.nTxs.Load()
	}
	return st
}

// ErrBadURL is returned for a database URL Authgraph cannot use.
var ErrBadURL = errors.New("database URL must be postgres://… or sqlite:PATH")

// Open connects to url: "postgres://…" / "postgresql://…" or "sqlite:PATH",
// with the default pool (Pool's zero value).
func Open(ctx context.Context, rawURL string, opts ...ent.Option) (*DB, error) {
	return OpenPool(ctx, rawURL, Pool{}, opts...)
}

// OpenPool is Open with pool sizes and timeouts (pool.go); they apply to
// Postgres only.
func OpenPool(ctx context.Context, rawURL string, pool Pool, opts ...ent.Option) (*DB, error) {
	if err := pool.Validate(); err != nil {
		return nil, err
	}
	var (
		db   *sql.DB
		dia  string
		path string
		err  error
	)
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		if _, perr := url.Parse(rawURL); perr != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadURL, perr)
		}
		dia = dialect.Postgres
		db, err = sql.Open("postgres", pool.dsn(rawURL))
		if err == nil {
			pool.apply(db, pool.maxOpen())
		}
	case strings.HasPrefix(rawURL, "sqlite:"):
		path = strings.TrimPrefix(rawURL, "sqlite:")
		if path == "" {
			return nil, ErrBadURL
		}
		dia = dialect.SQLite
		// Foreign keys for ent's cascades; WAL and a busy timeout so concurrent
		// writers wait instead of failing with SQLITE_BUSY.
		dsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		db, err = sql.Open("sqlite", dsn)
	default:
		return nil, ErrBadURL
	}
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	drv := newCachingDriver(entsql.OpenDB(dia, db))
	client := ent.NewClient(append([]ent.Option{ent.Driver(drv)}, opts...)...)
	ch := track(client) // for read caches (cache.go)
	d := &DB{Ent: client, SQL: db, Dialect: dia, Path: path, drv: drv, transient: client}
	if dia == dialect.Postgres {
		tdb, err := openTransient(pool.dsn(rawURL), pool) // transient.go
		if err != nil {
			db.Close()
			return nil, err
		}
		d.tdrv = newCachingDriver(entsql.OpenDB(dia, tdb))
		d.transient = ent.NewClient(append([]ent.Option{ent.Driver(d.tdrv)}, opts...)...)
		trackAs(d.transient, ch)
		d.notifier = startNotifier(rawURL, db, ch)
	}
	opened.Store(client, d) // for hand-written statements (raw.go)
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error {
	d.closeReplica() // replica.go
	if d.notifier != nil {
		d.notifier.close()
	}
	untrack(d.Ent)
	opened.Delete(d.Ent)
	if d.transient != d.Ent {
		untrack(d.transient)
		d.transient.Close()
	}
	return d.Ent.Close()
}

// Ping checks that the database answers (readiness).
func (d *DB) Ping(ctx context.Context) error { return d.SQL.PingContext(ctx) }

// NodeType is the ent option that resolves Relay node ids by prefix.
var NodeType = ent.WithNodeType(pulid.IDToType)
