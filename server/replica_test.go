package server

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func loadReplica(t *testing.T, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	for _, k := range []string{"AUTHGRAPH_DATABASE_REPLICA_URL", "AUTHGRAPH_DATABASE_REPLICA_MAX_LAG"} {
		t.Setenv(k, env[k])
	}
	return load(t, env, args...)
}

func TestConfigReplica(t *testing.T) {
	c, err := loadReplica(t, nil)
	if err != nil || c.DatabaseReplicaURL != "" || c.DatabaseReplicaMaxLag != 5*time.Second {
		t.Fatalf("defaults: %v %+v", err, c)
	}
	env := map[string]string{"AUTHGRAPH_DATABASE_URL": "postgres://p/authgraph",
		"AUTHGRAPH_DATABASE_REPLICA_URL": "postgres://r/authgraph", "AUTHGRAPH_DATABASE_REPLICA_MAX_LAG": "2s"}
	c, err = loadReplica(t, env)
	if err != nil || c.DatabaseReplicaURL != "postgres://r/authgraph" || c.DatabaseReplicaMaxLag != 2*time.Second {
		t.Fatalf("environment: %v %+v", err, c)
	}
	c, err = loadReplica(t, env, "--database-replica", "postgresql://f/authgraph", "--database-replica-max-lag", "500ms")
	if err != nil || c.DatabaseReplicaURL != "postgresql://f/authgraph" || c.DatabaseReplicaMaxLag != 500*time.Millisecond {
		t.Fatalf("flags: %v %+v", err, c)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AUTHGRAPH_DATABASE_REPLICA_URL": "postgres://u:pw-secret@r/authgraph"}, "needs a Postgres primary"}, // SQLite default
		{map[string]string{"AUTHGRAPH_DATABASE_URL": "postgres://p/a", "AUTHGRAPH_DATABASE_REPLICA_URL": "mysql://u:pw-secret@r/a"}, "must be a postgres"},
		{map[string]string{"AUTHGRAPH_DATABASE_URL": "postgres://p/a", "AUTHGRAPH_DATABASE_REPLICA_URL": "sqlite:replica.db"}, "must be a postgres"},
		{map[string]string{"AUTHGRAPH_DATABASE_URL": "postgres://p/a", "AUTHGRAPH_DATABASE_REPLICA_URL": "postgres://r/a", "AUTHGRAPH_DATABASE_REPLICA_MAX_LAG": "soon"}, "MAX_LAG"},
		{map[string]string{"AUTHGRAPH_DATABASE_URL": "postgres://p/a", "AUTHGRAPH_DATABASE_REPLICA_URL": "postgres://r/a", "AUTHGRAPH_DATABASE_REPLICA_MAX_LAG": "10ms"}, "MAX_LAG"},
		{map[string]string{"AUTHGRAPH_DATABASE_URL": "postgres://p/a", "AUTHGRAPH_DATABASE_REPLICA_URL": "postgres://r/a", "AUTHGRAPH_DATABASE_REPLICA_MAX_LAG": "2h"}, "MAX_LAG"},
	} {
		_, err := loadReplica(t, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("%v: err = %v, want one saying %q without the password", tc.env, err, tc.want)
		}
	}
}

// A configuration built in code is checked too: a SQLite database gets no
// replica.
func TestPrepareRefusesAReplicaOfSQLite(t *testing.T) {
	cfg := testConfig("sqlite:" + filepath.Join(t.TempDir(), "a.db"))
	cfg.DatabaseReplicaURL = "postgres://127.0.0.1:1/authgraph"
	d, err := Prepare(context.Background(), cfg, quiet, io.Discard, MigrateIfEmpty)
	if err == nil {
		d.Close()
		t.Fatal("a SQLite database was given a replica")
	}
	if !strings.Contains(err.Error(), "Postgres primary") {
		t.Fatalf("error %v", err)
	}
}
