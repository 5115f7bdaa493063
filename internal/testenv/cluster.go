package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Cluster is a throwaway PostgreSQL cluster that only the calling test uses,
// for tests that stop, restart or kill the database under a running server.
// Postgres(t) databases share one server and must never be disturbed.
type Cluster struct {
	bin, dir string
	attr     *syscall.SysProcAttr
	port     int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited; nil when stopped
}

// StartPostgresCluster creates a cluster with initdb in a temp dir and runs
// it on a free port of 127.0.0.1 (trust auth, superuser postgres, durability
// off: the data is thrown away). The cluster is stopped and removed when the
// test ends. Missing server binaries skip the test, or fail it under CI=true.
func StartPostgresCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := newCluster()
	Require(t, "PostgreSQL server binaries (initdb, postgres)", err)
	t.Cleanup(func() {
		if err := c.Stop("immediate"); err != nil {
			t.Logf("testenv: stopping the cluster: %v", err)
		}
		os.RemoveAll(c.dir)
	})
	var startErr error
	for range 3 { // the port can be taken between freePort and bind
		if startErr = c.Start(); startErr == nil {
			return c
		}
		if c.port, err = freePort(); err != nil {
			break
		}
	}
	t.Fatalf("testenv: starting the cluster: %v", startErr)
	return nil
}

func newCluster() (_ *Cluster, err error) {
	bin, dir, attr, err := initCluster("authgraph-pgc-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return &Cluster{bin: bin, dir: dir, attr: attr, port: port}, nil
}

// URL is the superuser URL of the cluster's postgres database. It stays the
// same across restarts.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start runs the server on the cluster's port and waits until it accepts
// connections. It is a no-op while the server runs.
//
// The postmaster is our direct child, as in runServer, rather than a process
// detached by pg_ctl: it then gets a parent-death signal, so a test binary
// killed by -timeout does not leave a server behind. Restart sends the
// signals pg_ctl's shutdown modes send, so the server sees the same thing.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.exited != nil {
		return nil
	}
	logFile, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(c.bin, "postgres"),
		"-D", filepath.Join(c.dir, "data"), "-p", strconv.Itoa(c.port), "-h", "127.0.0.1", "-k", c.dir,
		"-c", "fsync=off", "-c", "full_page_writes=off",
		// Several server processes with two pools each share the cluster.
		"-c", "max_connections=300")
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = c.attr
	started, exited := make(chan error, 1), make(chan struct{})
	go func() {
		// The parent-death signal follows the forking thread (see runServer).
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return err
	}
	c.cmd, c.exited = cmd, exited
	deadline := time.Now().Add(30 * time.Second)
	for {
		srv, err := connectPostgres(c.URL())
		if err == nil {
			srv.admin.Close()
			return nil
		}
		select {
		case <-exited:
			c.cmd, c.exited = nil, nil
			return fmt.Errorf("postgres exited during startup: %s", c.LogTail(2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after 30s: %v\n%s", err, c.LogTail(2000))
		}
	}
}

// shutdownSignals are the signals of pg_ctl's -m modes: smart waits for
// sessions to end, fast ends them (rolling back open transactions) and
// checkpoints, immediate quits without a checkpoint (crash recovery on the
// next start).
var shutdownSignals = map[string]syscall.Signal{
	"smart": syscall.SIGTERM, "fast": syscall.SIGINT, "immediate": syscall.SIGQUIT,
}

// Stop shuts the server down in mode ("smart", "fast" or "immediate", as
// pg_ctl stop -m) and waits until it has exited. It is a no-op when the
// server is not running.
func (c *Cluster) Stop(mode string) error {
	sig, ok := shutdownSignals[mode]
	if !ok {
		return fmt.Errorf("unknown shutdown mode %q", mode)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.exited == nil {
		return nil
	}
	defer func() { c.cmd, c.exited = nil, nil }()
	select {
	case <-c.exited:
		return errors.New("postgres had exited by itself: " + string(c.LogTail(1000)))
	default:
	}
	if err := c.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-c.exited:
		return nil
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("postgres did not stop (%s) in 30s; killed", mode)
	}
}

// Restart is pg_ctl restart -m mode: stop, then start on the same port and
// data directory.
func (c *Cluster) Restart(mode string) error {
	if err := c.Stop(mode); err != nil {
		return err
	}
	return c.Start()
}

// LogTail returns the last n bytes of the server's log.
func (c *Cluster) LogTail(n int) []byte {
	b, _ := os.ReadFile(c.logPath())
	return tail(b, n)
}

func (c *Cluster) logPath() string { return filepath.Join(c.dir, "postgres.log") }
