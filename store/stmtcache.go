package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgraph/authgraph/internal/tracing"
)

// maxCachedStatements bounds the prepared-statement cache. ent emits a small,
// fixed set of statement shapes; the bound only guards against unusual ones
// (such as IN lists of many lengths) growing it without limit.
const maxCachedStatements = 2000

// cachingDriver runs ent's statements (outside transactions) as prepared
// statements kept per SQL text. With lib/pq an unprepared query with
// arguments costs two round trips (Parse/Describe, then Bind/Execute) and a
// fresh plan each time; a cached statement costs one round trip and reuses
// its plan. Transactions pass through unchanged.
type cachingDriver struct {
	*entsql.Driver
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
	// Counters for benchmarks (DB.Stats): statements sent, and
	// transactions begun, through ent; trace, when set, sees each statement.
	nStmts, nTxs atomic.Int64
	trace        atomic.Pointer[func(query string, args []any, inTx bool)]
}

func (d *cachingDriver) count(query string, args any, inTx bool) {
	d.nStmts.Add(1)
	if fn := d.trace.Load(); fn != nil {
		argv, _ := args.([]any)
		(*fn)(query, argv, inTx)
	}
}

func newCachingDriver(d *entsql.Driver) *cachingDriver {
	return &cachingDriver{Driver: d, stmts: make(map[string]*sql.Stmt)}
}

// Unprepared marks ctx so that ent's statements run under it skip the
// statement cache: each is sent unnamed and planned with its values. User
// searches run so. Their shapes are many (one per query structure, which
// would crowd the cache), and a cached statement soon gets Postgres's generic
// plan, which estimates a search's selectivity without its values: a
// metadata term AND a name prefix was planned as a BitmapAnd of two large
// index scans (190 ms at a million users) where the plan for the actual
// values takes a few milliseconds.
func Unprepared(ctx context.Context) context.Context {
	return context.WithValue(ctx, unpreparedKey{}, true)
}

type unpreparedKey struct{}

func (d *cachingDriver) stmt(ctx context.Context, query string) *sql.Stmt {
	if ctx.Value(unpreparedKey{}) != nil {
		return nil
	}
	d.mu.RLock()
	s, ok := d.stmts[query]
	d.mu.RUnlock()
	if ok {
		return s
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.stmts[query]; ok {
		return s
	}
	if d.stmts == nil || len(d.stmts) >= maxCachedStatements {
		return nil // closed, or full
	}
	s, err := d.DB().PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil // let the plain path report the error
	}
	d.stmts[query] = s
	return s
}

// Exec implements dialect.ExecQuerier.
func (d *cachingDriver) Exec(ctx context.Context, query string, args, v any) (err error) {
	d.count(query, args, false)
	if tracing.Enabled() {
		var span trace.Span
		ctx, span = d.startSpan(ctx, query) // tracing.go
		defer func() { tracing.End(span, err) }()
	}
	args = utcArgs(d.Dialect(), args)
	argv, ok := args.([]any)
	s := d.stmt(ctx, query)
	if !ok || s == nil {
		return d.Driver.Exec(ctx, query, args, v)
	}
	return execStmt(ctx, s, argv, v)
}

// Query implements dialect.ExecQuerier.
func (d *cachingDriver) Query(ctx context.Context, query string, args, v any) (err error) {
	d.count(query, args, false)
	if tracing.Enabled() {
		var span trace.Span
		ctx, span = d.startSpan(ctx, query)
		defer func() { tracing.End(span, err) }()
	}
	args = utcArgs(d.Dialect(), args)
	argv, ok := args.([]any)
	rows, isRows := v.(*entsql.Rows)
	s := d.stmt(ctx, query)
	if !ok || !isRows || s == nil {
		return d.Driver.Query(ctx, query, args, v)
	}
	return queryStmt(ctx, s, argv, rows)
}

// queryRow runs a hand-written statement (DB.QueryRow) through the cache.
func (d *cachingDriver) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	d.count(query, args, false)
	if tracing.Enabled() {
		var span trace.Span
		ctx, span = d.startSpan(ctx, query)
		defer span.End()
	}
	args, _ = utcArgs(d.Dialect(), args).([]any)
	if s := d.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return d.DB().QueryRowContext(ctx, query, args...)
}

// Close closes the cached statements and the database.
func (d *cachingDriver) Close() error {
	d.mu.Lock()
	for _, s := range d.stmts {
		s.Close()
	}
	d.stmts = nil
	d.mu.Unlock()
	return d.Driver.Close()
}

// Tx starts a transaction whose statements also use the cache.
func (d *cachingDriver) Tx(ctx context.Context) (dialect.Tx, error) { return d.BeginTx(ctx, nil) }

// BeginTx starts a transaction with options. Inside it, a cached statement
// is bound to the transaction's connection with Tx.StmtContext, which reuses
// the statement already prepared on that connection (or prepares it there
// once, for every later transaction on it).
func (d *cachingDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	d.nTxs.Add(1)
	tx, err := d.DB().BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	captured(ctx, tx) // sqltx.go
	return &cachingTx{Tx: tx, d: d, plain: entsql.NewDriver(d.Dialect(), entsql.Conn{ExecQuerier: tx})}, nil
}

type cachingTx struct {
	*sql.Tx
	d     *cachingDriver
	plain *entsql.Driver // the transaction without caching, for fallbacks
}

func (t *cachingTx) Exec(ctx context.Context, query string, args, v any) (err error) {
	t.d.count(query, args, true)
	if tracing.Enabled() {
		var span trace.Span
		ctx, span = t.d.startSpan(ctx, query)
		defer func() { tracing.End(span, err) }()
	}
	args = utcArgs(t.d.Dialect(), args)
	argv, ok := args.([]any)
	s := t.d.stmt(ctx, query)
	if !ok || s == nil {
		return t.plain.Exec(ctx, query, args, v)
	}
	return execStmt(ctx, t.Tx.StmtContext(ctx, s), argv, v)
}

func (t *cachingTx) Query(ctx context.Context, query string, args, v any) (err error) {
	t.d.count(query, args, true)
	if tracing.Enabled() {
		var span trace.Span
		ctx, span = t.d.startSpan(ctx, query)
		defer func() { tracing.End(span, err) }()
	}
	args = utcArgs(t.d.Dialect(), args)
	argv, ok := args.([]any)
	rows, isRows := v.(*entsql.Rows)
	s := t.d.stmt(ctx, query)
	if !ok || !isRows || s == nil {
		return t.plain.Query(ctx, query, args, v)
	}
	return queryStmt(ctx, t.Tx.StmtContext(ctx, s), argv, rows)
}

// execStmt runs a prepared statement for ent's Exec, which wants the result
// in v (nil or *sql.Result).
func execStmt(ctx context.Context, s *sql.Stmt, argv []any, v any) error {
	res, err := s.ExecContext(ctx, argv...)
	if err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
	case *sql.Result:
		*v = res
	default:
		return fmt.Errorf("store: unexpected Exec result type %T", v)
	}
	return nil
}

// queryStmt runs a prepared statement for ent's Query.
func queryStmt(ctx context.Context, s *sql.Stmt, argv []any, rows *entsql.Rows) error {
	r, err := s.QueryContext(ctx, argv...)
	if err != nil {
		return err
	}
	*rows = entsql.Rows{ColumnScanner: r}
	return nil
}

// utcArgs rewrites the time arguments of a SQLite statement in UTC. SQLite
// keeps a time as the driver's text, offset included ("… 10:00:00 +0200
// CEST"), and compares that text: times written in several offsets (the
// server's local zone, an imported value's own) did not sort by instant, so a
// keyset cursor or a date range (given in UTC) missed or repeated rows. In
// UTC the text sorts as the instants do. Postgres stores instants.
func utcArgs(dialectName string, args any) any {
	argv, ok := args.([]any)
	if !ok || dialectName != dialect.SQLite {
		return args
	}
	var out []any
	for i, a := range argv {
		var utc any
		switch t := a.(type) {
		case time.Time:
			if t.Location() == time.UTC {
				continue
			}
			utc = t.UTC()
		case *time.Time:
			if t == nil || t.Location() == time.UTC {
				continue
			}
			utc = t.UTC()
		default:
			continue
		}
		if out == nil {
			out = slices.Clone(argv)
		}
		out[i] = utc
	}
	if out == nil {
		return args
	}
	return out
}
