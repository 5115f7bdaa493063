package store

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Pool sizes a node's Postgres connection pools and bounds its statements.
// The zero value is the default. A node holds up to MaxOpenConns
// connections in its main pool, half as many in the pool of transient
// writes (transient.go) and one listening connection (notify.go): with the
// defaults 20 + 10 + 1, so that a few nodes stay well within Postgres'
// default max_connections (100).
type Pool struct {
	// MaxOpenConns bounds the main pool (default 20: two cores' worth of
	// concurrent requests, each holding a connection briefly).
	MaxOpenConns int
	// MaxIdleConns is how many of them stay open while idle (default
	// MaxOpenConns: a burst does not pay for new connections).
	MaxIdleConns int
	// ConnMaxLifetime closes connections older than it (default 0: never),
	// for a load balancer or pooler in front of Postgres that should see
	// connections move. Idle connections are closed after five minutes
	// whatever it says.
	ConnMaxLifetime time.Duration
	// StatementTimeout is Postgres' statement_timeout for every session of
	// the pools (default 0: the server's setting). A statement running
	// longer is cancelled by the server and fails.
	StatementTimeout time.Duration
}

// Defaults of Pool.
const (
	DefaultMaxOpenConns = 20
	connMaxIdleTime     = 5 * time.Minute
)

// ErrBadPool is returned for pool settings that cannot work.
var ErrBadPool = errors.New("bad database pool settings")

// Validate reports settings that cannot work.
func (p Pool) Validate() error {
	switch {
	case p.MaxOpenConns < 0 || p.MaxOpenConns > 10_000:
		return fmt.Errorf("%w: max open connections %d is not between 1 and 10000 (0: default %d)", ErrBadPool, p.MaxOpenConns, DefaultMaxOpenConns)
	case p.MaxIdleConns < 0 || p.MaxIdleConns > p.maxOpen():
		return fmt.Errorf("%w: max idle connections %d is not between 1 and the max open connections %d (0: as many)", ErrBadPool, p.MaxIdleConns, p.maxOpen())
	case p.ConnMaxLifetime < 0:
		return fmt.Errorf("%w: connection max lifetime %v is negative", ErrBadPool, p.ConnMaxLifetime)
	case p.StatementTimeout < 0 || (p.StatementTimeout > 0 && p.StatementTimeout < time.Millisecond):
		return fmt.Errorf("%w: statement timeout %v is not 0 or at least 1ms", ErrBadPool, p.StatementTimeout)
	}
	return nil
}

func (p Pool) maxOpen() int {
	if p.MaxOpenConns == 0 {
		return DefaultMaxOpenConns
	}
	return p.MaxOpenConns
}

func (p Pool) transientMaxOpen() int { return max(1, p.maxOpen()/2) }

// apply sizes db for up to open connections.
func (p Pool) apply(db *sql.DB, open int) {
	idle := open
	if p.MaxIdleConns > 0 {
		idle = min(p.MaxIdleConns, open)
	}
	db.SetMaxOpenConns(open)
	db.SetMaxIdleConns(idle)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	db.SetConnMaxLifetime(p.ConnMaxLifetime)
}

// dsn adds the statement timeout to a Postgres URL: lib/pq sends
// parameters it does not know as run-time parameters of every session,
// so the setting costs no statement.
func (p Pool) dsn(rawURL string) string {
	if p.StatementTimeout <= 0 {
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL // Open reports it
	}
	q := u.Query()
	q.Set("statement_timeout", strconv.FormatInt(p.StatementTimeout.Milliseconds(), 10))
	u.RawQuery = q.Encode()
	return u.String()
}
