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

// searchIndexesV9 serve every shape of user search (docs/SEARCH.md) also
// under a generic plan, where every value is a bound parameter (the
// statement cache): byte-ordered btrees on reverse(LOWER(col)) turn a
// suffix (name:*son) into a range like a prefix, the email domain's
// expression serves email.domain, jsonb_path_ops GIN indexes serve metadata
// @@ jsonpath, and (column, id) btrees serve date and count ranges (keyset
// pagination shares them). username and phone_number get byte-ordered
// btrees for equality and prefixes.
//
// Trigram indexes were measured and not used: a GIN index cannot estimate
// LIKE $1 without the pattern, so generic plans fell back to sequential
// scans.
//
// Postgres builds them CONCURRENTLY on a large users table (it stays
// writable), which cannot run in a transaction: migrations run outside one.
func searchIndexesV9(ctx context.Context, d *DB) error {
	type ix struct{ name, pg, sqlite string }
	var idx []ix
	for _, col := range []string{"email", "name", "given_name", "family_name", "nickname"} {
		idx = append(idx, ix{"users_reverse_" + col, "(reverse(LOWER(" + col + ")) text_pattern_ops)", ""})
	}
	idx = append(idx,
		ix{"users_email_domain", "(LOWER(split_part(email, '@', 2)))", ""},
		ix{"users_username_pattern", "(username text_pattern_ops)", "(username)"},
		ix{"users_phone_number_pattern", "(phone_number text_pattern_ops)", "(phone_number)"},
		ix{"users_app_metadata_path", "USING gin (app_metadata jsonb_path_ops)", ""},
		ix{"users_user_metadata_path", "USING gin (user_metadata jsonb_path_ops)", ""},
		ix{"users_created_at_id", "(created_at, id)", "(created_at, id)"},
		ix{"users_updated_at_id", "(updated_at, id)", "(updated_at, id)"},
		ix{"users_last_login_id", "(last_login, id)", "(last_login, id)"},
		ix{"users_logins_count_id", "(logins_count, id)", "(logins_count, id)"},
	)
	if d.Dialect != dialect.Postgres {
		for _, i := range idx {
			if i.sqlite == "" {
				continue
			}
			if _, err := d.SQL.ExecContext(ctx, "CREATE INDEX IF NOT EXISTS "+i.name+" ON users "+i.sqlite); err != nil {
				return err
			}
		}
		return nil
	}
	// A small table (a new install, every test database) is indexed in
	// place: a CONCURRENTLY build waits out every open transaction in
	// three phases, which costs more than blocking writes to a few
	// thousand rows for milliseconds.
	var small bool
	if err := d.SQL.QueryRowContext(ctx, `SELECT COUNT(*) < 10000 FROM (SELECT 1 FROM users LIMIT 10000) s`).Scan(&small); err != nil {
		return err
	}
	concurrently := " CONCURRENTLY"
	if small {
		concurrently = ""
	}
	for _, i := range idx {
		// An interrupted CONCURRENTLY build leaves an invalid index that IF
		// NOT EXISTS would keep: drop it and build again.
		var valid sql.NullBool
		err := d.SQL.QueryRowContext(ctx, `SELECT x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
			WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`, i.name).Scan(&valid)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		if valid.Valid && !valid.Bool {
			if _, err := d.SQL.ExecContext(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+i.name); err != nil {
				return err
			}
		}
		if _, err := d.SQL.ExecContext(ctx, "CREATE INDEX"+concurrently+" IF NOT EXISTS "+i.name+" ON users "+i.pg); err != nil {
			return fmt.Errorf("creating index %s: %w", i.name, err)
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
	{Version: 9, Name: "user search indexes: reversed names for suffixes, email domain, metadata jsonpath, date and count ranges", Up: searchIndexesV9},
	{Version: 10, Name: "multi-factor authentication: authenticators, recovery codes, MFA lockout state, tenant MFA settings", Up: entSchema},
	{Version: 11, Name: "signing keys: scheduled activation; per-API access token signing algorithm", Up: entSchema},
	{Version: 12, Name: "JavaScript rules: rules.javascript; rules.module optional", Up: entSchema},
}

var migrateMu sync.Mutex

// LatestVersion is the schema version this binary writes.
func LatestVersion() int { return migrations[len(migrations)-1].Version }

// advisoryLockID identifies Authgraph's migration lock among Postgres
// advisory locks ("authgrph" in ASCII).
const advisoryLockID = 0x6175746867727068

// lockPoll is how often a node waiting for another's migration retries.
const lockPoll = 200 * time.Millisecond

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
	// Poll rather than block in pg_advisory_lock: a session blocked in a
	// statement holds a snapshot, and CREATE INDEX CONCURRENTLY (migration
	// 9) waits for every older snapshot to end, so the holder's migration
	// would wait for the waiters while they wait for it, undetected.
	for {
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", int64(advisoryLockID)).Scan(&got); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("taking the migration lock: %w", ctx.Err())
		case <-time.After(lockPoll):
		}
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
