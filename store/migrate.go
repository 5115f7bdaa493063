package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
)

// migration is one schema version. Up runs ent's additive diff of the schema
// as of this version (new tables, columns and indexes; never a drop) plus any
// data changes the version needs. Versions are recorded, so a binary never
// runs against a database newer than itself.
type migration struct {
	Version int
	Name    string
	Up      func(ctx context.Context, d *DB) error
}

func entSchema(ctx context.Context, d *DB) error {
	applied, _ := ctx.Value(schemaAppliedKey{}).(*bool)
	if applied != nil && *applied {
		return nil
	}
	if err := d.Ent.Schema.Create(ctx, schema.WithDropColumn(false), schema.WithDropIndex(false)); err != nil {
		return err
	}
	if applied != nil {
		*applied = true
	}
	return nil
}

// schemaAppliedKey marks, within one Migrate call, that ent's schema diff has
// run. The diff always brings the database to this binary's whole schema, so
// once it has run every later version's diff finds nothing to do, yet still
// inspects every table: on an empty database that repeated inspection was
// most of the migration's time.
type schemaAppliedKey struct{}

// searchIndexes serve user search's case-insensitive matches (LOWER(col) =
// and LIKE 'prefix%'), which plain column indexes cannot.
func searchIndexes(ctx context.Context, d *DB) error {
	ops := ""
	if d.Dialect == dialect.Postgres {
		ops = " text_pattern_ops" // lets LIKE 'x%' use the index under any collation
	}
	for _, col := range []string{"email", "name", "given_name", "family_name", "nickname"} {
		stmt := fmt.Sprintf("CREATE INDEX IF NOT EXISTS users_lower_%s ON users (LOWER(%s)%s)", col, col, ops)
		if _, err := d.SQL.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

var migrations = []migration{
	{Version: 1, Name: "initial schema", Up: func(ctx context.Context, d *DB) error {
		if err := entSchema(ctx, d); err != nil {
			return err
		}
		return searchIndexes(ctx, d)
	}},
	{Version: 2, Name: "login state: auth requests, sessions, grants, refresh tokens, tickets, login attempts, resource servers", Up: entSchema},
	{Version: 3, Name: "admin grants (dashboard administrators)", Up: entSchema},
	{Version: 4, Name: "rules", Up: entSchema},
	{Version: 5, Name: "upstream login state: OIDC/SAML pending logins, SAML assertion replay cache", Up: entSchema},
	{Version: 6, Name: "client metadata", Up: entSchema},
	{Version: 7, Name: "roles, permissions and client grants; API RBAC settings", Up: entSchema},
	{Version: 8, Name: "jobs: bulk user imports and exports, their stored data and row errors", Up: entSchema},
}

var migrateMu sync.Mutex

// LatestVersion is the schema version this binary writes.
func LatestVersion() int { return migrations[len(migrations)-1].Version }

// advisoryLockID identifies Authgraph's migration lock among Postgres
// advisory locks ("authgrph" in ASCII).
const advisoryLockID = 0x6175746867727068

// WithLock runs fn while holding the cluster-wide migration lock, so two nodes
// starting together neither migrate nor bootstrap twice. SQLite is
// single-node; its own write lock covers it.
func (d *DB) WithLock(ctx context.Context, fn func(ctx context.Context) error) error {
	if d.Dialect != dialect.Postgres {
		return fn(ctx)
	}
	conn, err := d.SQL.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(advisoryLockID)); err != nil {
		return fmt.Errorf("taking the migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(advisoryLockID)) //nolint:errcheck
	return fn(ctx)
}

// Migrate applies every migration newer than the database's version. The
// caller holds the lock (WithLock). It returns the versions applied.
func (d *DB) Migrate(ctx context.Context) ([]int, error) {
	// ent's schema differ keeps package-level state: two migrations in one
	// process (tests, or two databases) must not run at once.
	migrateMu.Lock()
	defer migrateMu.Unlock()
	if _, err := d.SQL.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS authgraph_schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)`); err != nil {
		return nil, fmt.Errorf("creating the migrations table: %w", err)
	}
	current, err := d.Version(ctx)
	if err != nil {
		return nil, err
	}
	if current > LatestVersion() {
		return nil, fmt.Errorf("database schema version %d is newer than this binary's %d: upgrade authgraph", current, LatestVersion())
	}
	ctx = context.WithValue(ctx, schemaAppliedKey{}, new(bool))
	var applied []int
	for _, m := range migrations {
		if m.Version <= current {
			continue
		}
		if err := m.Up(ctx, d); err != nil {
			return applied, fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
		}
		if _, err := d.SQL.ExecContext(ctx, d.rebind("INSERT INTO authgraph_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			m.Version, m.Name, time.Now().UTC()); err != nil {
			return applied, fmt.Errorf("recording migration %d: %w", m.Version, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// Version returns the database's schema version (0 when empty).
func (d *DB) Version(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := d.SQL.QueryRowContext(ctx, "SELECT MAX(version) FROM authgraph_schema_migrations").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("reading the schema version: %w", err)
	}
	return int(v.Int64), nil
}

// rebind turns ? placeholders into $n for Postgres.
func (d *DB) rebind(q string) string {
	if d.Dialect != dialect.Postgres {
		return q
	}
	out := make([]byte, 0, len(q)+8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = append(out, fmt.Sprintf("$%d", n)...)
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}
