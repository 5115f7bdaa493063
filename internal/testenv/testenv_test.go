package testenv

import (
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"
)

func TestMain(m *testing.M) { Main(m) }

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func dbName(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// checkFreshDatabase asserts dsn names an empty database that accepts DDL.
func checkFreshDatabase(t *testing.T, dsn string) {
	t.Helper()
	db := open(t, dsn)
	ctx := t.Context()
	var current string
	var tables int
	err := db.QueryRowContext(ctx, `SELECT current_database(),
		(SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema'))`).Scan(&current, &tables)
	if err != nil {
		t.Fatal(err)
	}
	if want := dbName(t, dsn); current != want {
		t.Errorf("connected to %q, DSN names %q", current, want)
	}
	if tables != 0 {
		t.Errorf("new database has %d user tables, want 0", tables)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE users (id text PRIMARY KEY, metadata jsonb)`); err != nil {
		t.Fatalf("CREATE TABLE: %v", err)
	}
}

func exists(t *testing.T, admin *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := admin.QueryRow(`SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestPostgresGivesDistinctEmptyDatabases(t *testing.T) {
	a, b := Postgres(t), Postgres(t)
	if a == b || dbName(t, a) == dbName(t, b) {
		t.Fatalf("two calls returned the same database: %s", a)
	}
	for _, dsn := range []string{a, b} {
		if !strings.HasPrefix(dsn, "postgres://") || !strings.Contains(dsn, "sslmode=disable") {
			t.Errorf("DSN %q: want postgres://…?sslmode=disable", dsn)
		}
		if !strings.HasPrefix(dbName(t, dsn), "ag_testenv_") {
			t.Errorf("DSN %q: want database ag_testenv_<random>", dsn)
		}
		// Each sees no table from the other, then creates its own.
		checkFreshDatabase(t, dsn)
	}
}

func TestPostgresDropsDatabaseOnCleanup(t *testing.T) {
	var name string
	t.Run("user", func(t *testing.T) {
		dsn := Postgres(t)
		name = dbName(t, dsn)
		// A connection left open must not keep the database alive.
		db := open(t, dsn)
		if err := db.Ping(); err != nil {
			t.Fatal(err)
		}
		if !exists(t, sharedPG.admin, name) {
			t.Fatalf("database %s missing while in use", name)
		}
	})
	if sharedPG == nil {
		t.Skip("subtest skipped: no PostgreSQL")
	}
	if exists(t, sharedPG.admin, name) {
		t.Errorf("database %s still exists after the test's cleanup", name)
	}
}

func TestPostgresParallel(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			checkFreshDatabase(t, Postgres(t))
		})
	}
}

// TestPostgresInitdbFallback exercises the path taken when no server is
// configured or listening on 5432, as may happen in CI.
func TestPostgresInitdbFallback(t *testing.T) {
	_, err := findPGBin()
	Require(t, "initdb", err)

	start := time.Now()
	srv, err := startCluster()
	if err != nil {
		t.Fatalf("startCluster: %v", err)
	}
	t.Logf("cluster started in %v at %s", time.Since(start).Round(time.Millisecond), srv.url.Host)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			srv.stop()
		}
	})
	if _, err := os.Stat(filepath.Join(srv.dir, "data", "PG_VERSION")); err != nil {
		t.Fatalf("no cluster in %s: %v", srv.dir, err)
	}

	var name string
	t.Run("database", func(t *testing.T) {
		dsn := srv.newDatabase(t)
		name = dbName(t, dsn)
		checkFreshDatabase(t, dsn)
	})
	if exists(t, srv.admin, name) {
		t.Errorf("database %s not dropped", name)
	}

	stopped = true
	if err := srv.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if c, err := net.DialTimeout("tcp", srv.url.Host, time.Second); err == nil {
		c.Close()
		t.Errorf("server still listening on %s after stop", srv.url.Host)
	}
	if _, err := os.Stat(srv.dir); !os.IsNotExist(err) {
		t.Errorf("data dir %s not removed: %v", srv.dir, err)
	}
}

func TestSQLite(t *testing.T) {
	var path string
	t.Run("user", func(t *testing.T) {
		dsn := SQLite(t)
		var ok bool
		path, ok = strings.CutPrefix(dsn, "sqlite:")
		if !ok {
			t.Fatalf("DSN %q lacks the sqlite: prefix", dsn)
		}
		if rel, err := filepath.Rel(os.TempDir(), path); err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("path %s is not under %s", path, os.TempDir())
		}
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Errorf("database path not writable: %v", err)
		}
	})
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("directory of %s survived the test: %v", path, err)
	}
}

func TestMariaDBReachability(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if got, want := mariaDBAt(t, addr), "root@tcp("+addr+")/"; got != want {
		t.Errorf("DSN = %q, want %q", got, want)
	}
	l.Close()

	t.Setenv("CI", "")
	ft := &fakeTB{TB: t}
	mariaDBAt(ft, addr)
	if ft.skipped == "" {
		t.Error("closed port did not skip")
	}
}

func TestNewDatabaseName(t *testing.T) {
	a, b := NewDatabaseName(), NewDatabaseName()
	if a == b || !strings.HasPrefix(a, "ag_testenv_") || len(a) > 63 {
		t.Errorf("names %q, %q: want distinct ag_testenv_<random> within 63 bytes", a, b)
	}
}

func TestFreePort(t *testing.T) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", FreePort(t)))
	if err != nil {
		t.Fatalf("port not bindable: %v", err)
	}
	l.Close()
}

// fakeTB records how Require ended a test instead of ending it.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Skipf(format string, a ...any)  { f.skipped = fmt.Sprintf(format, a...) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }

func TestRequire(t *testing.T) {
	down := fmt.Errorf("connection refused")
	for _, tc := range []struct {
		ci         string
		err        error
		skip, fail bool
	}{
		{ci: "", err: nil},
		{ci: "true", err: nil},
		{ci: "", err: down, skip: true},
		{ci: "false", err: down, skip: true},
		{ci: "true", err: down, fail: true},
		{ci: "1", err: down, fail: true},
	} {
		t.Setenv("CI", tc.ci)
		ft := &fakeTB{TB: t}
		Require(ft, "slapd", tc.err)
		if (ft.skipped != "") != tc.skip || (ft.failed != "") != tc.fail {
			t.Errorf("CI=%q err=%v: skipped=%q failed=%q", tc.ci, tc.err, ft.skipped, ft.failed)
		}
		if msg := ft.skipped + ft.failed; tc.err != nil && !strings.Contains(msg, "slapd") {
			t.Errorf("message %q does not name the service", msg)
		}
	}
}
