// Package customdbtest builds the custom-database script templates
// (rules-sdk/templates/customdb/go) for tests, and seeds legacy databases
// with the templates' schemas and least-privilege accounts.
package customdbtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
	"golang.org/x/crypto/bcrypt"

	"github.com/authgraph/authgraph/internal/testenv"
)

// Scripts of the template module, by name: postgres, mysql, hostile.
var (
	buildOnce sync.Once
	built     map[string][]byte
	buildErr  error
)

// Templates returns the wasm of the templates (built once per test binary
// with GOOS=wasip1 -buildmode=c-shared).
func Templates(t testing.TB) map[string][]byte {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		dir := filepath.Join(filepath.Dir(file), "../../../rules-sdk/templates/customdb/go")
		out, err := os.MkdirTemp("", "customdb-wasm-")
		if err != nil {
			buildErr = err
			return
		}
		built = map[string][]byte{}
		for name, pkg := range map[string]string{"postgres": "./postgres", "mysql": "./mysql", "hostile": "./testdata/hostile"} {
			target := filepath.Join(out, name+".wasm")
			cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", target, pkg)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-mod=mod")
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building %s: %v\n%s", name, err, b)
				return
			}
			if built[name], err = os.ReadFile(target); err != nil {
				buildErr = err
				return
			}
		}
		os.RemoveAll(out)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// AssemblyScript templates (rules-sdk/templates/customdb/assemblyscript),
// built once per test binary with the asc of its node_modules (make
// test-setup runs npm ci there).
var (
	asOnce  sync.Once
	asBuilt map[string][]byte
	asErr   error
)

// ASTemplates returns the wasm of the AssemblyScript templates by flavor
// (postgres, mysql). Without Node.js or the package's node_modules the
// test is skipped (fatal under CI), as testenv does for missing services.
func ASTemplates(t testing.TB) map[string][]byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "../../../rules-sdk/templates/customdb/assemblyscript")
	if _, err := exec.LookPath("npx"); err != nil {
		testenv.Require(t, "Node.js (npx)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules/.bin/asc")); err != nil {
		testenv.Require(t, "the AssemblyScript compiler (npm ci in "+dir+")", err)
	}
	asOnce.Do(func() {
		out, err := os.MkdirTemp("", "customdb-as-")
		if err != nil {
			asErr = err
			return
		}
		defer os.RemoveAll(out)
		asBuilt = map[string][]byte{}
		for _, flavor := range []string{"postgres", "mysql"} {
			target := filepath.Join(out, flavor+".wasm")
			cmd := exec.Command("npx", "--no-install", "asc", flavor+"/index.ts", "--config", "asconfig.json", "--target", "release", "-o", target)
			cmd.Dir = dir
			if b, err := cmd.CombinedOutput(); err != nil {
				asErr = fmt.Errorf("building the AssemblyScript %s template: %v\n%s", flavor, err, b)
				return
			}
			if asBuilt[flavor], err = os.ReadFile(target); err != nil {
				asErr = err
				return
			}
		}
	})
	if asErr != nil {
		t.Fatal(asErr)
	}
	return asBuilt
}

// Seed users of the legacy databases (bcrypt cost 10).
var Seed = []struct{ Email, Password, Nickname string }{
	{"ada@legacy.example", "Analytical-Engine-1843", "ada"},
	{"alan@legacy.example", "Enigma-Bombe-1940", "alan"},
}

// Legacy is a seeded legacy database.
type Legacy struct {
	Flavor string
	// DSN is the least-privilege account's URL (what a connection gets).
	DSN string
	// Admin can inspect everything (tests only).
	Admin *sql.DB
}

// Count returns the number of rows of the users table.
func (l *Legacy) Count(t testing.TB) int {
	t.Helper()
	var n int
	if err := l.Admin.QueryRow("SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func suffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func schema(flavor string, t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "../../../rules-sdk/templates/customdb/go", flavor, "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func seed(t testing.TB, db *sql.DB, placeholder func(int) string) {
	for _, u := range Seed {
		h, _ := bcrypt.GenerateFromPassword([]byte(u.Password), 10)
		if _, err := db.Exec(fmt.Sprintf("INSERT INTO users (email, password, nickname) VALUES (%s, %s, %s)",
			placeholder(1), placeholder(2), placeholder(3)), u.Email, string(h), u.Nickname); err != nil {
			t.Fatal(err)
		}
	}
}

// Postgres makes a legacy PostgreSQL database (separate from Authgraph's)
// with the template's schema, the seed users, a table the connection's role
// may not read (secrets) and a least-privilege role.
func Postgres(t testing.TB) *Legacy {
	t.Helper()
	adminDSN := testenv.Postgres(t)
	admin, err := sql.Open("postgres", adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec(schema("postgres", t)); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE TABLE secrets (v text); INSERT INTO secrets VALUES ('top secret')"); err != nil {
		t.Fatal(err)
	}
	seed(t, admin, func(i int) string { return fmt.Sprintf("$%d", i) })
	role, pw := "ag_legacy_"+suffix(), "pw-"+suffix()
	for _, q := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, pw),
		fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON users TO %s", role),
		fmt.Sprintf("GRANT USAGE ON SEQUENCE users_id_seq TO %s", role),
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// The database is dropped by testenv; the role is cluster-wide.
		admin.Exec(fmt.Sprintf("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %s", role))
		admin.Exec(fmt.Sprintf("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %s", role))
		admin.Close()
		if c, err := sql.Open("postgres", strings.Replace(adminDSN, "/"+dbName(adminDSN)+"?", "/postgres?", 1)); err == nil {
			defer c.Close()
			_, _ = c.Exec("DROP ROLE IF EXISTS " + role)
		}
	})
	u, _ := url.Parse(adminDSN)
	u.User = url.UserPassword(role, pw)
	return &Legacy{Flavor: "postgres", DSN: u.String(), Admin: admin}
}

func dbName(dsn string) string {
	u, _ := url.Parse(dsn)
	return strings.TrimPrefix(u.Path, "/")
}

// MariaDB makes a fresh database on the machine's MariaDB with the
// template's schema, the seed users and a least-privilege account that may
// only use its users table (skips outside CI when MariaDB is unreachable).
func MariaDB(t testing.TB) *Legacy {
	t.Helper()
	root := testenv.MariaDB(t)
	name := testenv.NewDatabaseName()
	rdb, err := sql.Open("mysql", root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rdb.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	user, pw := "agl_"+suffix(), "pw-"+suffix()
	t.Cleanup(func() {
		rdb.Exec("DROP DATABASE IF EXISTS " + name)
		rdb.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'%%'", user))
		rdb.Close()
	})
	admin, err := sql.Open("mysql", root+name+"?multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec(schema("mysql", t)); err != nil {
		t.Fatal(err)
	}
	seed(t, admin, func(int) string { return "?" })
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, pw),
		fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON %s.users TO '%s'@'%%'", name, user),
	} {
		if _, err := rdb.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(root, "root@tcp("), ")/")
	return &Legacy{Flavor: "mysql", DSN: fmt.Sprintf("mysql://%s:%s@%s/%s", user, pw, addr, name), Admin: admin}
}
