package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
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

func (d *cachingDriver) stmt(ctx context.Context, query string) *sql.Stmt {
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
	if len(d.stmts) >= maxCachedStatements {
		return nil
	}
	s, err := d.DB().PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil // let the plain path report the error
	}
	d.stmts[query] = s
	return s
}

// Exec implements dialect.ExecQuerier.
func (d *cachingDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.count(query, args, false)
	argv, ok := args.([]any)
	s := d.stmt(ctx, query)
	if !ok || s == nil {
		return d.Driver.Exec(ctx, query, args, v)
	}
	return execStmt(ctx, s, argv, v)
}

// Query implements dialect.ExecQuerier.
func (d *cachingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.count(query, args, false)
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
	return &cachingTx{Tx: tx, d: d, plain: entsql.NewDriver(d.Dialect(), entsql.Conn{ExecQuerier: tx})}, nil
}

type cachingTx struct {
	*sql.Tx
	d     *cachingDriver
	plain *entsql.Driver // the transaction without caching, for fallbacks
}

func (t *cachingTx) Exec(ctx context.Context, query string, args, v any) error {
	t.d.count(query, args, true)
	argv, ok := args.([]any)
	s := t.d.stmt(ctx, query)
	if !ok || s == nil {
		return t.plain.Exec(ctx, query, args, v)
	}
	return execStmt(ctx, t.Tx.StmtContext(ctx, s), argv, v)
}

func (t *cachingTx) Query(ctx context.Context, query string, args, v any) error {
	t.d.count(query, args, true)
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
