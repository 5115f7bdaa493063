package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"
)

// EnvPostgresURL names the variable that points tests at a specific server,
// as a superuser URL such as postgres://postgres:pw@db:5432/postgres. When it
// is set nothing else is tried: a configured server that does not answer is
// a misconfiguration to report, not a reason to test somewhere else.
const EnvPostgresURL = "AUTHGRAPH_TEST_DATABASE_URL"

// localPostgresURL is the conventional developer server (trust auth).
const localPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// pgServer is a server on which databases can be created.
type pgServer struct {
	url   url.URL // superuser URL; per-test DSNs differ only in the path
	admin *sql.DB // pool on url, used for CREATE/DROP DATABASE
	dir   string  // data directory when we started the server, else ""
	stop  func() error
}

var (
	sharedOnce sync.Once
	sharedPG   *pgServer
	sharedErr  error
	mainUsed   atomic.Bool
)

// Postgres returns a DSN (postgres://…?sslmode=disable unless the configured
// URL says otherwise) to a new, empty database that only the calling test
// uses, dropped when the test ends. The server is, in order: the one in
// AUTHGRAPH_TEST_DATABASE_URL; the one on 127.0.0.1:5432 as user postgres;
// a throwaway cluster made with initdb and shared by the whole test binary.
// Safe for parallel tests.
func Postgres(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(func() {
		sharedPG, sharedErr = findPostgres()
		if sharedErr == nil && sharedPG.stop != nil {
			registerStop(sharedPG.stop)
		}
	})
	Require(t, "PostgreSQL", sharedErr)
	if sharedPG.stop != nil && !mainUsed.Load() {
		t.Logf("testenv: started PostgreSQL in %s; call testenv.Main from TestMain to remove it at exit", sharedPG.dir)
	}
	return sharedPG.newDatabase(t)
}

func findPostgres() (*pgServer, error) {
	if u := os.Getenv(EnvPostgresURL); u != "" {
		srv, err := connectPostgres(u)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvPostgresURL, err)
		}
		return srv, nil
	}
	srv, localErr := connectPostgres(localPostgresURL)
	if localErr == nil {
		return srv, nil
	}
	srv, err := startCluster()
	if err != nil {
		return nil, fmt.Errorf("no server at 127.0.0.1:5432 (%v), and starting one failed: %w", localErr, err)
	}
	return srv, nil
}

// connectPostgres opens and pings an admin pool on rawURL.
func connectPostgres(rawURL string) (*pgServer, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("want a postgres:// URL, got %q", rawURL)
	}
	// lib/pq defaults to sslmode=require, which local and CI servers rarely
	// offer; an explicit sslmode in the URL still wins.
	if q := u.Query(); q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		return nil, err
	}
	// A few connections suffice for CREATE/DROP; leave the rest to the tests.
	db.SetMaxOpenConns(4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return &pgServer{url: *u, admin: db}, nil
}

// newDatabase creates a database for t and returns its DSN.
func (s *pgServer) newDatabase(t testing.TB) string {
	t.Helper()
	name := NewDatabaseName()
	// template0 rather than template1: it is guaranteed empty, and nobody can
	// be connected to it, which would make CREATE DATABASE fail.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)+" TEMPLATE template0"); err != nil {
		// The server answered but refused: a real failure, never a skip.
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// The test's context is already cancelled when cleanups run. FORCE
		// ends connections a test forgot to close, which would block the drop.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	u := s.url
	u.Path = "/" + name
	return u.String()
}

// findPGBin returns the directory holding initdb and postgres.
func findPGBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	// Debian keeps server binaries off PATH, one directory per major version.
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", errors.New("initdb not found on PATH or in /usr/lib/postgresql/*/bin")
	}
	// Glob sorts lexically ("9" > "16"); any version will do for tests, but
	// prefer the newest by comparing the numeric component.
	best, bestVer := matches[0], -1
	for _, m := range matches {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if v > bestVer {
			best, bestVer = m, v
		}
	}
	return filepath.Dir(best), nil
}

// startCluster creates a cluster in a new temp dir and runs it on a free port
// of 127.0.0.1, trust auth, superuser postgres. Durability is switched off:
// the data is thrown away and fsync dominates test time otherwise.
func startCluster() (_ *pgServer, err error) {
	bin, dir, attr, err := initCluster("authgraph-pg-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	// The port can be taken between FreePort and bind; try a few.
	for range 3 {
		var srv *pgServer
		srv, err = runServer(bin, dir, attr)
		if err == nil {
			return srv, nil
		}
	}
	return nil, err
}

// initCluster runs initdb (trust auth, superuser postgres, UTF8, no
// locale) into DIR/data of a new temporary directory named after prefix,
// owned by the user the server will run as (attr). The caller removes dir.
func initCluster(prefix string) (bin, dir string, attr *syscall.SysProcAttr, err error) {
	if bin, err = findPGBin(); err != nil {
		return "", "", nil, err
	}
	if dir, err = os.MkdirTemp("", prefix); err != nil {
		return "", "", nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if attr, err = serverProcAttr(dir); err != nil {
		return "", "", nil, err
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	initdb.Dir = dir // the server user may not be able to enter the caller's cwd
	initdb.SysProcAttr = attr
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", "", nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return bin, dir, attr, nil
}

// runServer starts postgres on a free port and waits until it accepts
// connections.
//
// It runs the postgres binary as a direct child rather than through pg_ctl,
// which would detach it: as our child it gets a parent-death signal (Linux),
// so a test binary killed by -timeout or ^C, which never reaches Main, does
// not leave a server running.
//
// extra are more server options (-c name=value).
func runServer(bin, dir string, attr *syscall.SysProcAttr, extra ...string) (*pgServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(filepath.Join(bin, "postgres"),
		"-D", filepath.Join(dir, "data"), "-p", strconv.Itoa(port), "-h", "127.0.0.1",
		"-k", dir, // own socket dir: /var/run/postgresql may not exist or be writable
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.Args = append(cmd.Args, extra...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile // files, not pipes: nothing to drain
	cmd.SysProcAttr = attr

	// The kernel sends the parent-death signal when the *thread* that forked
	// the child exits, and Go may retire threads. So fork from a goroutine
	// locked to its thread that lives exactly as long as the server does.
	started, exited := make(chan error, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	stop := func() error {
		select {
		case <-exited:
			return errors.New("postgres had already exited")
		default:
		}
		if err := cmd.Process.Signal(os.Interrupt); err != nil { // fast shutdown
			return err
		}
		select {
		case <-exited:
			return nil
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			return errors.New("postgres did not shut down in 30s; killed")
		}
	}

	rawURL := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		srv, err := connectPostgres(rawURL)
		if err == nil {
			srv.dir = dir
			srv.stop = func() error {
				srv.admin.Close()
				err := stop()
				if rmErr := os.RemoveAll(dir); err == nil {
					err = rmErr
				}
				return err
			}
			return srv, nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres exited during startup: %s", tail(log, 2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres not ready after 30s: %v\n%s", err, tail(log, 2000))
		}
	}
}

func tail(b []byte, n int) []byte {
	return b[max(0, len(b)-n):]
}
