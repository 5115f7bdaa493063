package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Replicated is a throwaway Postgres primary and a streaming replica of it,
// both in their own clusters on free ports of 127.0.0.1 (trust auth,
// superuser postgres).
type Replicated struct {
	// PrimaryURL and ReplicaURL are superuser URLs of the clusters'
	// postgres databases.
	PrimaryURL, ReplicaURL string

	stopReplica func() error
}

// StopReplica shuts the replica down (fast shutdown) and removes its files;
// the primary keeps running. Safe to call more than once.
func (r *Replicated) StopReplica() error { return r.stopReplica() }

// PostgresWithReplica starts a primary with wal_level=replica and
// synchronous commits, copies it with pg_basebackup -R into a standby, and
// starts the standby (hot_standby) on another port. Both are stopped and
// removed when the test ends. It takes a few seconds: share it between
// subtests. Missing server binaries skip the test, or fail it under CI=true.
func PostgresWithReplica(t testing.TB) *Replicated {
	t.Helper()
	primary, replica, err := startReplicated()
	Require(t, "PostgreSQL streaming replication", err)
	stop := sync.OnceValue(replica.stop)
	t.Cleanup(func() {
		stop()
		if err := primary.stop(); err != nil {
			t.Logf("testenv: stopping the primary: %v", err)
		}
	})
	return &Replicated{PrimaryURL: primary.url.String(), ReplicaURL: replica.url.String(), stopReplica: stop}
}

func startReplicated() (primary, replica *pgServer, err error) {
	bin, err := findPGBin()
	if err != nil {
		return nil, nil, err
	}
	basebackup, err := findPGTool(bin, "pg_basebackup")
	if err != nil {
		return nil, nil, err
	}
	_, pdir, pattr, err := initCluster("authgraph-pg-primary-")
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil && primary == nil {
			os.RemoveAll(pdir)
		}
	}()
	// initdb's trust setup admits replication connections from 127.0.0.1
	// already; say so explicitly rather than depend on its template.
	hba, err := os.OpenFile(filepath.Join(pdir, "data", "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, nil, err
	}
	_, err = hba.WriteString("\nhost replication postgres 127.0.0.1/32 trust\n")
	if cerr := hba.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, err
	}
	// Synchronous commits, as in production: a commit's WAL is written
	// before it returns, which the replica's lag check relies on.
	for range 3 {
		primary, err = runServer(bin, pdir, pattr, "-c", "wal_level=replica", "-c", "max_wal_senders=4",
			"-c", "synchronous_commit=on")
		if err == nil {
			break
		}
	}
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			primary.stop()
		}
	}()

	rdir, err := os.MkdirTemp("", "authgraph-pg-replica-")
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(rdir)
		}
	}()
	rattr, err := serverProcAttr(rdir)
	if err != nil {
		return nil, nil, err
	}
	bb := exec.Command(basebackup, "-D", filepath.Join(rdir, "data"), "-h", "127.0.0.1", "-p", primary.url.Port(),
		"-U", "postgres", "-X", "stream", "-R", "--no-sync", "-c", "fast")
	bb.Dir = rdir
	bb.SysProcAttr = rattr
	if out, err := bb.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("pg_basebackup: %v\n%s", err, out)
	}
	for range 3 {
		replica, err = runServer(bin, rdir, rattr, "-c", "hot_standby=on")
		if err == nil {
			break
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return primary, replica, nil
}

// findPGTool finds a client program of the server binaries in bin: in bin
// itself, beside the file initdb links to (bin may be a directory of
// symbolic links), or on PATH.
func findPGTool(bin, name string) (string, error) {
	dirs := []string{bin}
	if p, err := filepath.EvalSymlinks(filepath.Join(bin, "initdb")); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", errors.New(name + " not found beside initdb or on PATH")
}
