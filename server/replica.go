package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/authgraph/authgraph/store"
)

// The read replica's configuration (store/replica.go has the design).

// replicaFlags declares --database-replica and --database-replica-max-lag on
// fs; the returned loader applies their environment defaults and validates
// them against the primary's URL.
func replicaFlags(fs *flag.FlagSet, c *Config) func() error {
	var rawURL, maxLag string
	fs.StringVar(&rawURL, "database-replica", "", "postgres://… streaming replica for user listings, searches and exports (AUTHGRAPH_DATABASE_REPLICA_URL, default none)")
	fs.StringVar(&maxLag, "database-replica-max-lag", "", "how far the replica may lag behind the primary before reads return to the primary (AUTHGRAPH_DATABASE_REPLICA_MAX_LAG, default 5s)")
	return func() error {
		c.DatabaseReplicaURL = firstNonEmpty(rawURL, os.Getenv("AUTHGRAPH_DATABASE_REPLICA_URL"))
		c.DatabaseReplicaMaxLag = store.DefaultReplicaMaxLag
		if raw := firstNonEmpty(maxLag, os.Getenv("AUTHGRAPH_DATABASE_REPLICA_MAX_LAG")); raw != "" {
			v, err := time.ParseDuration(raw)
			if err != nil || v < 100*time.Millisecond || v > time.Hour {
				return fmt.Errorf("AUTHGRAPH_DATABASE_REPLICA_MAX_LAG: %q is not a duration between 100ms and 1h", raw)
			}
			c.DatabaseReplicaMaxLag = v
		}
		return c.validateReplica()
	}
}

// validateReplica refuses a replica URL that is not Postgres, and a replica
// of a SQLite database. The URLs are not quoted: they may hold passwords.
func (c *Config) validateReplica() error {
	if c.DatabaseReplicaURL == "" {
		return nil
	}
	if !isPostgresURL(c.DatabaseReplicaURL) {
		return errors.New("AUTHGRAPH_DATABASE_REPLICA_URL: the read replica must be a postgres://… URL")
	}
	if !isPostgresURL(c.DatabaseURL) {
		return errors.New("AUTHGRAPH_DATABASE_REPLICA_URL: a read replica needs a Postgres primary (AUTHGRAPH_DATABASE_URL is not postgres://…)")
	}
	return nil
}

func isPostgresURL(raw string) bool {
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		return false
	}
	_, err := url.Parse(raw)
	return err == nil
}

// openReplica attaches the configured replica to db (none configured:
// nothing to do). DB.Close closes it.
func openReplica(ctx context.Context, cfg *Config, db *store.DB, logger *slog.Logger) error {
	if cfg.DatabaseReplicaURL == "" {
		return nil
	}
	// Configurations built in code (tests, embedding) skip FlagSet.
	if err := cfg.validateReplica(); err != nil {
		return err
	}
	_, err := store.OpenReplica(ctx, db, cfg.DatabaseReplicaURL, store.ReplicaOptions{MaxLag: cfg.DatabaseReplicaMaxLag, Logger: logger})
	if err != nil {
		return fmt.Errorf("AUTHGRAPH_DATABASE_REPLICA_URL: %w", err)
	}
	logger.Info("user listings, searches and exports read from the replica while it is fresh", "max_lag", cfg.DatabaseReplicaMaxLag.String())
	return nil
}
