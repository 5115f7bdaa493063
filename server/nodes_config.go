package server

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Defaults of the pool, timeout and shutdown settings (docs/CONFIGURATION.md,
// "Timeouts and pools" and "Shutdown").
const (
	DefaultStatementTimeout = 30 * time.Second
	DefaultRequestTimeout   = 30 * time.Second
	DefaultShutdownDrain    = 5 * time.Second
	DefaultShutdownTimeout  = 25 * time.Second
)

// nodeFlags declares the pool, timeout and shutdown flags on fs; the
// returned function fills c from them and the environment.
func nodeFlags(fs *flag.FlagSet, c *Config) func() error {
	var maxOpen, maxIdle, lifetime, stmt, req, stop, drain string
	fs.StringVar(&maxOpen, "database-max-open-conns", "", "Postgres connections of the main pool; the transient-write pool gets half (AUTHGRAPH_DATABASE_MAX_OPEN_CONNS, default 20)")
	fs.StringVar(&maxIdle, "database-max-idle-conns", "", "of those, how many stay open while idle; 0: all (AUTHGRAPH_DATABASE_MAX_IDLE_CONNS, default 0)")
	fs.StringVar(&lifetime, "database-conn-max-lifetime", "", "close Postgres connections older than this; 0: never (AUTHGRAPH_DATABASE_CONN_MAX_LIFETIME, default 0)")
	fs.StringVar(&stmt, "database-statement-timeout", "", "Postgres statement_timeout of the node's sessions; 0: the server's (AUTHGRAPH_DATABASE_STATEMENT_TIMEOUT, default 30s; authgraph migrate runs without)")
	fs.StringVar(&req, "request-timeout", "", "deadline of an HTTP request's work; 0: none (AUTHGRAPH_REQUEST_TIMEOUT, default 30s; export downloads excluded)")
	fs.StringVar(&drain, "shutdown-drain", "", "on SIGTERM, how long /readyz answers 503 while requests are still served (AUTHGRAPH_SHUTDOWN_DRAIN, default 5s)")
	fs.StringVar(&stop, "shutdown-timeout", "", "then, how long in-flight requests may take to finish (AUTHGRAPH_SHUTDOWN_TIMEOUT, default 25s)")
	return func() error {
		for _, n := range []struct {
			dst      *int
			flag     string
			env      string
			min, max int
		}{{&c.DatabasePool.MaxOpenConns, maxOpen, "AUTHGRAPH_DATABASE_MAX_OPEN_CONNS", 1, 10_000},
			{&c.DatabasePool.MaxIdleConns, maxIdle, "AUTHGRAPH_DATABASE_MAX_IDLE_CONNS", 0, 10_000}} {
			raw := firstNonEmpty(n.flag, os.Getenv(n.env))
			if raw == "" {
				continue
			}
			v, err := strconv.Atoi(raw)
			if err != nil || v < n.min || v > n.max {
				return fmt.Errorf("%s: %q is not a number of connections between %d and %d", n.env, raw, n.min, n.max)
			}
			*n.dst = v
		}
		c.DatabasePool.StatementTimeout = DefaultStatementTimeout
		c.RequestTimeout, c.ShutdownDrain, c.ShutdownTimeout = DefaultRequestTimeout, DefaultShutdownDrain, DefaultShutdownTimeout
		for _, d := range []struct {
			dst      *time.Duration
			flag     string
			env      string
			min, max time.Duration
			off      time.Duration // what 0 stores
		}{
			{&c.DatabasePool.ConnMaxLifetime, lifetime, "AUTHGRAPH_DATABASE_CONN_MAX_LIFETIME", time.Second, 24 * time.Hour, 0},
			{&c.DatabasePool.StatementTimeout, stmt, "AUTHGRAPH_DATABASE_STATEMENT_TIMEOUT", 10 * time.Millisecond, time.Hour, 0},
			{&c.RequestTimeout, req, "AUTHGRAPH_REQUEST_TIMEOUT", 100 * time.Millisecond, time.Hour, -1},
			{&c.ShutdownDrain, drain, "AUTHGRAPH_SHUTDOWN_DRAIN", time.Millisecond, 10 * time.Minute, -1},
			{&c.ShutdownTimeout, stop, "AUTHGRAPH_SHUTDOWN_TIMEOUT", time.Second, time.Hour, -1},
		} {
			raw := firstNonEmpty(d.flag, os.Getenv(d.env))
			if raw == "" {
				continue
			}
			v, err := time.ParseDuration(raw)
			if err == nil && v == 0 {
				*d.dst = d.off
				continue
			}
			if err != nil || v < d.min || v > d.max {
				return fmt.Errorf("%s: %q is not 0 or a duration between %v and %v", d.env, raw, d.min, d.max)
			}
			*d.dst = v
		}
		if c.DatabasePool.MaxIdleConns > 0 && c.DatabasePool.MaxOpenConns > 0 && c.DatabasePool.MaxIdleConns > c.DatabasePool.MaxOpenConns {
			return fmt.Errorf("AUTHGRAPH_DATABASE_MAX_IDLE_CONNS (%d) cannot exceed AUTHGRAPH_DATABASE_MAX_OPEN_CONNS (%d)", c.DatabasePool.MaxIdleConns, c.DatabasePool.MaxOpenConns)
		}
		return c.DatabasePool.Validate()
	}
}
