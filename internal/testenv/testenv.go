// Package testenv gives integration tests real services: a fresh Postgres
// database per test, a SQLite file, and the address of a MariaDB server.
//
// A service that cannot be found or started skips the test on a developer
// machine but fails it under CI=true, so a broken CI setup cannot silently
// turn into a green run that tested nothing (see Require).
//
// Packages that use Postgres should route TestMain through Main, so that a
// server this package had to start is stopped and its files removed:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Main runs the tests, stops every service this package started, and exits
// with the tests' status. Call it from TestMain.
//
// A library cannot hook process exit, hence this entry point. Without it a
// started Postgres still dies with the test binary (Linux), but its data
// directory is left behind in the temp dir.
func Main(m *testing.M) {
	mainUsed.Store(true)
	code := m.Run()
	for _, err := range stopAll() {
		fmt.Fprintln(os.Stderr, "testenv:", err)
	}
	os.Exit(code)
}

// Require ends the test when a service it needs is unavailable (err != nil):
// with t.Skipf normally, with t.Fatalf when the CI environment variable is
// true, because in CI a missing service is a broken pipeline, not a reason to
// skip. All starters in this package report through it.
func Require(t testing.TB, service string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if inCI() {
		t.Fatalf("testenv: %s is unavailable (fatal because CI is set): %v", service, err)
		return
	}
	t.Skipf("testenv: skipping, %s is unavailable: %v (under CI=true this would fail)", service, err)
}

// inCI accepts any boolean spelling ("true", "1") because CI providers differ.
func inCI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another
// process may take it before the caller binds it, so servers started on it
// should be retried on bind failures.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("testenv: no free port: %v", err)
	}
	return port
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// SQLite returns a DSN "sqlite:PATH" for a database file that does not exist
// yet, in a directory removed when the test ends.
func SQLite(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "authgraph.db")
}

// mariaDBAddr is where MariaDB is expected; CI runs it as a service container.
const mariaDBAddr = "127.0.0.1:3306"

// MariaDB returns the go-sql-driver DSN of the root account on the local
// MariaDB server ("root@tcp(127.0.0.1:3306)/"), skipping the test (or failing
// it in CI) when nothing listens there. Only reachability is checked; create
// a database per test with NewDatabaseName.
func MariaDB(t testing.TB) (rootDSN string) {
	t.Helper()
	return mariaDBAt(t, mariaDBAddr)
}

func mariaDBAt(t testing.TB, addr string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
	}
	Require(t, "MariaDB at "+addr, err)
	return "root@tcp(" + addr + ")/"
}

// NewDatabaseName returns a fresh name "ag_<pkg>_<random>", valid unquoted in
// Postgres and MariaDB. The package part tells whose leftovers they are when
// a crashed run leaves databases on a shared server.
func NewDatabaseName() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return "ag_" + testPackage() + "_" + hex.EncodeToString(b[:])
}

// testPackage derives the package from the test binary's name ("identity.test"),
// which is cheaper and sturdier than walking the caller's stack.
func testPackage() string {
	name := strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	name = strings.ToLower(strings.TrimSuffix(name, ".test"))
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
	// Identifiers are capped at 63 bytes in Postgres; keep room for the rest.
	return name[:min(len(name), 30)]
}

// stops holds the shutdown functions of started services, run by Main.
var (
	stopsMu sync.Mutex
	stops   []func() error
)

func registerStop(f func() error) {
	stopsMu.Lock()
	defer stopsMu.Unlock()
	stops = append(stops, f)
}

func stopAll() []error {
	stopsMu.Lock()
	defer stopsMu.Unlock()
	var errs []error
	for i := len(stops) - 1; i >= 0; i-- {
		if err := stops[i](); err != nil {
			errs = append(errs, err)
		}
	}
	stops = nil
	return errs
}

// RulesCacheDir is the rules engine's compilation cache shared by every test
// server and engine, in every test binary: compiling a Go-built rule or
// script module takes seconds (tens under -race), and with a cache per test
// (in memory, or beside each test's SQLite file) every test compiled the same
// modules again. wazero's file cache keys entries by module content and its
// own version and writes them atomically, so sharing it is safe.
func RulesCacheDir() string {
	return filepath.Join(os.TempDir(), "authgraph-test-rules-cache")
}
