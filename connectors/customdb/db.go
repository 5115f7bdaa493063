package customdb

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/authgraph/authgraph/outbound"
	"github.com/go-sql-driver/mysql"
	"github.com/lib/pq"
)

// Limits of the legacy database as scripts reach it (db_query, db_exec).
const (
	// MaxRows and MaxResultBytes cap one query's result: past them the
	// query fails (no silent truncation a script could mistake for "all").
	MaxRows        = 1000
	MaxResultBytes = 1 << 20
	// MaxStatementTime caps one statement, server side, whatever time the
	// script has left.
	MaxStatementTime = 10 * time.Second
	// maxOpenConns bounds one connection's pool to the legacy database.
	maxOpenConns = 8
)

// Flavors of legacy database.
const (
	FlavorPostgres = "postgres"
	FlavorMySQL    = "mysql"
)

// DB is one connection's pool to its legacy database. It implements
// rules.ScriptDB: every statement runs on a pooled session after a
// server-side statement timeout is set on it (SET statement_timeout on
// PostgreSQL, SET SESSION max_statement_time on MariaDB,
// max_execution_time on MySQL), because cancelling the client's context
// alone leaves the query running on the server.
type DB struct {
	flavor string
	db     *sql.DB

	once    sync.Once
	mariadb bool
}

// dialTimeout bounds connecting to the database server. The dialer refuses
// link-local and metadata addresses (outbound.ServiceDialer): a DSN is
// written by whoever holds the connection scopes, and must not reach the
// cloud's metadata service from this host.
const dialTimeout = 10 * time.Second

// OpenDB opens (lazily: no connection is made yet) a pool for dsn, a
// postgres:// (or postgresql://) or mysql:// URL.
func OpenDB(dsn string) (*DB, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("dsn: not a URL")
	}
	var d DB
	switch u.Scheme {
	case "postgres", "postgresql":
		d.flavor = FlavorPostgres
		var c *pq.Connector
		if c, err = pq.NewConnector(dsn); err == nil {
			c.Dialer(outbound.NewServiceDialer(dialTimeout))
			d.db = sql.OpenDB(c)
		}
	case "mysql":
		d.flavor = FlavorMySQL
		cfg := mysql.NewConfig()
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		cfg.Net, cfg.Addr = "tcp", u.Host
		if u.Port() == "" {
			cfg.Addr = u.Hostname() + ":3306"
		}
		cfg.DBName = strings.TrimPrefix(u.Path, "/")
		for k, v := range u.Query() {
			switch k {
			case "tls":
				cfg.TLSConfig = v[0]
			default:
				return nil, fmt.Errorf("dsn: unsupported mysql parameter %q", k)
			}
		}
		sd := outbound.NewServiceDialer(dialTimeout)
		cfg.DialFunc = sd.DialContext
		if c, cerr := mysql.NewConnector(cfg); cerr == nil {
			d.db = sql.OpenDB(c)
		} else {
			err = cerr
		}
	default:
		return nil, fmt.Errorf("dsn: scheme must be postgres:// or mysql://, not %q", u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	d.db.SetMaxOpenConns(maxOpenConns)
	d.db.SetMaxIdleConns(2)
	d.db.SetConnMaxIdleTime(5 * time.Minute)
	return &d, nil
}

// Flavor is FlavorPostgres or FlavorMySQL.
func (d *DB) Flavor() string { return d.flavor }

// Close closes the pool.
func (d *DB) Close() error { return d.db.Close() }

// session returns a pooled connection whose statement timeout is set to the
// time ctx has left (at most MaxStatementTime), a tenth under the client
// deadline (at least 20 ms) so that the server's own error comes first and
// the script can still report it, also on a loaded machine.
func (d *DB) session(ctx context.Context) (*sql.Conn, error) {
	limit := MaxStatementTime
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		limit = min(limit, left-max(20*time.Millisecond, left/10))
	}
	if limit < time.Millisecond {
		return nil, errors.New("no time left for a statement")
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	var set string
	switch d.flavor {
	case FlavorPostgres:
		set = fmt.Sprintf("SET statement_timeout = %d", limit.Milliseconds())
	default:
		d.once.Do(func() {
			var v string
			if conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v) == nil {
				d.mariadb = strings.Contains(strings.ToLower(v), "mariadb")
			}
		})
		if d.mariadb {
			set = fmt.Sprintf("SET SESSION max_statement_time = %.3f", limit.Seconds())
		} else {
			set = fmt.Sprintf("SET SESSION max_execution_time = %d", limit.Milliseconds())
		}
	}
	if _, err := conn.ExecContext(ctx, set); err != nil {
		conn.Close()
		return nil, fmt.Errorf("setting the statement timeout: %w", err)
	}
	return conn, nil
}

// Query runs a parameterized query; the result is {"rows": [{column: value}]}.
func (d *DB) Query(ctx context.Context, query string, params json.RawMessage) (any, error) {
	args, err := decodeParams(params)
	if err != nil {
		return nil, err
	}
	conn, err := d.session(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	size := 0
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if len(out) == MaxRows {
			return nil, fmt.Errorf("result has more than %d rows (the limit): add a WHERE or LIMIT", MaxRows)
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			v := jsonValue(vals[i])
			row[c] = v
			size += len(c) + valueSize(v)
		}
		if size > MaxResultBytes {
			return nil, fmt.Errorf("result exceeds %d bytes (the limit): select fewer rows or columns", MaxResultBytes)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return map[string]any{"rows": out}, nil
}

// Exec runs a parameterized statement; the result is {"rows_affected": n}.
func (d *DB) Exec(ctx context.Context, query string, params json.RawMessage) (any, error) {
	args, err := decodeParams(params)
	if err != nil {
		return nil, err
	}
	conn, err := d.session(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	res, err := conn.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	n, _ := res.RowsAffected()
	return map[string]any{"rows_affected": n}, nil
}

// decodeParams turns the script's JSON array into driver arguments: numbers
// become int64 (or float64), objects and arrays their JSON text.
func decodeParams(raw json.RawMessage) ([]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("params must be a JSON array")
	}
	args := make([]any, len(list))
	for i, p := range list {
		dec := json.NewDecoder(strings.NewReader(string(p)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("param %d: %v", i+1, err)
		}
		switch x := v.(type) {
		case json.Number:
			if n, err := x.Int64(); err == nil {
				args[i] = n
			} else {
				f, _ := x.Float64()
				args[i] = f
			}
		case map[string]any, []any:
			args[i] = string(p)
		default: // string, bool, nil
			args[i] = x
		}
	}
	return args, nil
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return base64.StdEncoding.EncodeToString(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return x
	}
}

func valueSize(v any) int {
	if s, ok := v.(string); ok {
		return len(s) + 2
	}
	return 8
}
