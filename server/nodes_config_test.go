package server

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func loadNodes(t *testing.T, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	for _, k := range []string{"AUTHGRAPH_DATABASE_MAX_OPEN_CONNS", "AUTHGRAPH_DATABASE_MAX_IDLE_CONNS", "AUTHGRAPH_DATABASE_CONN_MAX_LIFETIME",
		"AUTHGRAPH_DATABASE_STATEMENT_TIMEOUT", "AUTHGRAPH_REQUEST_TIMEOUT", "AUTHGRAPH_SHUTDOWN_DRAIN", "AUTHGRAPH_SHUTDOWN_TIMEOUT"} {
		t.Setenv(k, env[k])
	}
	return load(t, nil, args...)
}

// TestConfigPoolsAndTimeouts: defaults, flags and environment, and bad
// values refused with the setting's name.
func TestConfigPoolsAndTimeouts(t *testing.T) {
	c, err := loadNodes(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabasePool.MaxOpenConns != 0 || c.DatabasePool.StatementTimeout != DefaultStatementTimeout || c.RequestTimeout != DefaultRequestTimeout ||
		c.ShutdownDrain != DefaultShutdownDrain || c.ShutdownTimeout != DefaultShutdownTimeout {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = loadNodes(t, map[string]string{"AUTHGRAPH_DATABASE_MAX_OPEN_CONNS": "50", "AUTHGRAPH_REQUEST_TIMEOUT": "0"},
		"--database-max-idle-conns", "10", "--database-conn-max-lifetime", "30m", "--database-statement-timeout", "0",
		"--shutdown-drain", "1s", "--shutdown-timeout", "40s")
	if err != nil {
		t.Fatal(err)
	}
	if p := c.DatabasePool; p.MaxOpenConns != 50 || p.MaxIdleConns != 10 || p.ConnMaxLifetime != 30*time.Minute || p.StatementTimeout != 0 ||
		c.RequestTimeout != -1 || c.ShutdownDrain != time.Second || c.ShutdownTimeout != 40*time.Second {
		t.Fatalf("set: %+v %+v", c.DatabasePool, c)
	}
	for _, bad := range []struct {
		env, val, want string
	}{
		{"AUTHGRAPH_DATABASE_MAX_OPEN_CONNS", "0", "AUTHGRAPH_DATABASE_MAX_OPEN_CONNS"},
		{"AUTHGRAPH_DATABASE_MAX_OPEN_CONNS", "many", "AUTHGRAPH_DATABASE_MAX_OPEN_CONNS"},
		{"AUTHGRAPH_DATABASE_MAX_IDLE_CONNS", "21", "cannot exceed"},
		{"AUTHGRAPH_DATABASE_CONN_MAX_LIFETIME", "-1m", "AUTHGRAPH_DATABASE_CONN_MAX_LIFETIME"},
		{"AUTHGRAPH_DATABASE_STATEMENT_TIMEOUT", "1us", "AUTHGRAPH_DATABASE_STATEMENT_TIMEOUT"},
		{"AUTHGRAPH_REQUEST_TIMEOUT", "soon", "AUTHGRAPH_REQUEST_TIMEOUT"},
		{"AUTHGRAPH_SHUTDOWN_DRAIN", "-5s", "AUTHGRAPH_SHUTDOWN_DRAIN"},
		{"AUTHGRAPH_SHUTDOWN_TIMEOUT", "2h", "AUTHGRAPH_SHUTDOWN_TIMEOUT"},
	} {
		env := map[string]string{bad.env: bad.val}
		if bad.want == "cannot exceed" {
			env["AUTHGRAPH_DATABASE_MAX_OPEN_CONNS"] = "20"
		}
		_, err := loadNodes(t, env)
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), bad.val) {
			t.Errorf("%s=%s: %v", bad.env, bad.val, err)
		}
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	FlagSet(fs)
	if fs.Lookup("shutdown-drain") == nil || fs.Lookup("database-statement-timeout") == nil {
		t.Fatal("flags missing")
	}
}
