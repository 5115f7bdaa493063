// Package lockout is the brute-force protection of password logins, shared
// by every strategy that checks a password: database connections (dbauth),
// custom databases and LDAP (connectors/upstream). Failed logins are
// counted per (connection, identifier, IP), whether or not the identifier
// exists (counting only real accounts would reveal them). The
// MaxAttempts-th failure blocks that triple for BlockFor; attempts while
// blocked are refused with ErrTooManyAttempts before any password is
// checked. A correct password resets the counter; a password change and
// Unblock lift blocks (docs/DATABASE_CONNECTIONS.md).
//
// The count is taken before the password is checked: Reserve counts the
// attempt and decides, in one atomic statement, whether it may go on, so
// that parallel attempts cannot all be evaluated while the counter still
// reads below the threshold. The caller then reports the outcome: Failed
// (the counter stays, and blocks at the threshold), Succeeded (the counter
// is deleted) or Release (no verdict on the password, e.g. an unreachable
// directory: the attempt is uncounted).
package lockout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/emailaddr"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/store"
)

// ErrTooManyAttempts: the (connection, identifier, IP) is blocked for now
// (HTTP 429 too_many_attempts). It never says whether the identifier
// exists.
var ErrTooManyAttempts = errors.New("too many failed login attempts")

// Defaults (docs/DATABASE_CONNECTIONS.md).
const (
	DefaultMaxAttempts = 10
	DefaultBlockFor    = 30 * 24 * time.Hour
)

// Enabled reports whether a connection's options turn the protection on
// (brute_force_protection, default true), for every password strategy.
func Enabled(options map[string]any) bool {
	if b, ok := options["brute_force_protection"].(bool); ok {
		return b
	}
	return true
}

// Normalize trims and lowercases an identifier (email or username), and
// bounds it to the column's size.
func Normalize(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.Contains(s, "@") {
		// One counter per address however it is written: the form stored
		// addresses have (NFC, ASCII domain), so "alice@bücher.de" and
		// "alice@xn--bcher-kva.de" share a counter and an unblock. An
		// address Normalize refuses (a look-alike) is kept as typed.
		if n, err := emailaddr.Normalize(s); err == nil {
			s = strings.ToLower(n)
		}
	}
	if len(s) > 320 {
		s = s[:320]
	}
	return s
}

// Key names one counter.
type Key struct{ Connection, Identifier, IP string }

// Guard counts attempts in the login_attempts table.
type Guard struct {
	DB *ent.Client
	// MaxAttempts is the threshold (default 10).
	MaxAttempts int
	// BlockFor is how long a block lasts after the last failure (default 30
	// days); a counter whose last failure is older is forgotten.
	BlockFor time.Duration
	Now      func() time.Time
}

func (g *Guard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *Guard) max() int {
	if g.MaxAttempts > 0 {
		return g.MaxAttempts
	}
	return DefaultMaxAttempts
}

func (g *Guard) blockFor() time.Duration {
	if g.BlockFor > 0 {
		return g.BlockFor
	}
	return DefaultBlockFor
}

// Attempt is a reserved attempt; report its outcome with Failed, Succeeded
// or Release.
type Attempt struct {
	g   *Guard
	Key Key
	// N is this attempt's rank among the counted ones (1 for the first).
	N int
}

// reserveSQL counts one attempt and returns the counter as it now is, in one
// statement, so concurrent attempts each get their own rank. A counter
// whose last failure is older than BlockFor starts over; a blocked one is
// left as it is (attempts while blocked are not failures and do not extend
// the block); an attempt beyond the threshold blocks at once (the attempts
// before it are still being checked, or have failed). The dialects differ
// only in parameter syntax and casts.
const reserveSQLPostgres = `INSERT INTO login_attempts AS a (id, created_at, updated_at, connection, identifier, ip, failures, last_failure_at)
VALUES ($1::text, $2::timestamptz, $2::timestamptz, $3::text, $4::text, $5::text, 1, $2::timestamptz)
ON CONFLICT (connection, identifier, ip) DO UPDATE SET
	updated_at = $2::timestamptz,
	failures = CASE WHEN a.last_failure_at <= $6::timestamptz THEN 1
		WHEN a.blocked_until > $2::timestamptz THEN a.failures
		ELSE a.failures + 1 END,
	blocked_until = CASE WHEN a.last_failure_at <= $6::timestamptz THEN NULL
		WHEN a.blocked_until > $2::timestamptz THEN a.blocked_until
		WHEN a.failures + 1 > $7::integer THEN $8::timestamptz
		ELSE NULL END,
	last_failure_at = CASE WHEN a.last_failure_at > $6::timestamptz AND a.blocked_until > $2::timestamptz THEN a.last_failure_at
		ELSE $2::timestamptz END
RETURNING failures, CASE WHEN blocked_until > $2::timestamptz THEN 1 ELSE 0 END`

const reserveSQLite = `INSERT INTO login_attempts AS a (id, created_at, updated_at, connection, identifier, ip, failures, last_failure_at)
VALUES (?1, ?2, ?2, ?3, ?4, ?5, 1, ?2)
ON CONFLICT (connection, identifier, ip) DO UPDATE SET
	updated_at = ?2,
	failures = CASE WHEN a.last_failure_at <= ?6 THEN 1
		WHEN a.blocked_until > ?2 THEN a.failures
		ELSE a.failures + 1 END,
	blocked_until = CASE WHEN a.last_failure_at <= ?6 THEN NULL
		WHEN a.blocked_until > ?2 THEN a.blocked_until
		WHEN a.failures + 1 > ?7 THEN ?8
		ELSE NULL END,
	last_failure_at = CASE WHEN a.last_failure_at > ?6 AND a.blocked_until > ?2 THEN a.last_failure_at
		ELSE ?2 END
RETURNING failures, CASE WHEN blocked_until > ?2 THEN 1 ELSE 0 END`

// ErrNoStore: the client was not opened by store.Open, so the atomic
// statement cannot be sent.
var ErrNoStore = errors.New("lockout: the database was not opened by store.Open")

// Reserve counts an attempt of k before its password is checked. It
// returns ErrTooManyAttempts when k is blocked, or when the attempts
// already counted reach the threshold. On Postgres the statement commits
// asynchronously (store/transient.go): it is on every login's path, and a
// database crash can at worst forget the last few hundred milliseconds of
// counts.
func (g *Guard) Reserve(ctx context.Context, k Key) (*Attempt, error) {
	db := store.Of(g.DB)
	if db == nil {
		return nil, ErrNoStore
	}
	now := g.now()
	args := []any{string(pulid.MustNew("att_")), now, k.Connection, k.Identifier, k.IP,
		now.Add(-g.blockFor()), g.max(), now.Add(g.blockFor())}
	var row *sql.Row
	if db.Postgres() {
		row = db.QueryRowTransient(ctx, reserveSQLPostgres, args...)
	} else {
		row = db.QueryRow(ctx, reserveSQLite, args...)
	}
	var n, blocked int
	if err := row.Scan(&n, &blocked); err != nil {
		return nil, fmt.Errorf("lockout: counting a login attempt: %w", err)
	}
	if blocked != 0 {
		return nil, ErrTooManyAttempts
	}
	return &Attempt{g: g, Key: k, N: n}, nil
}

func (a *Attempt) match() *ent.LoginAttemptUpdate {
	return a.g.DB.LoginAttempt.Update().
		Where(loginattempt.Connection(a.Key.Connection), loginattempt.Identifier(a.Key.Identifier), loginattempt.IP(a.Key.IP))
}

// Failed records that the attempt failed: the threshold-th failure blocks
// (a conditional update: concurrent failures cannot lift or shorten it).
// Below the threshold the reservation already counted it.
func (a *Attempt) Failed(ctx context.Context) error {
	if a.N < a.g.max() {
		return nil
	}
	now := a.g.now()
	_, err := a.match().
		Where(loginattempt.FailuresGTE(a.g.max()), loginattempt.BlockedUntilIsNil()).
		SetBlockedUntil(now.Add(a.g.blockFor())).
		Save(authz.SystemContext(ctx))
	return err
}

// Succeeded forgets the counter: a correct password starts it over.
// (dbauth deletes it in its own login statement instead.)
func (a *Attempt) Succeeded(ctx context.Context) error {
	_, err := a.g.DB.LoginAttempt.Delete().
		Where(loginattempt.Connection(a.Key.Connection), loginattempt.Identifier(a.Key.Identifier), loginattempt.IP(a.Key.IP)).
		Exec(authz.SystemContext(ctx))
	return err
}

// Release uncounts an attempt that reached no verdict on the password
// (the upstream was unavailable, a script failed).
func (a *Attempt) Release(ctx context.Context) error {
	_, err := a.match().Where(loginattempt.FailuresGT(0), loginattempt.BlockedUntilIsNil()).
		AddFailures(-1).Save(authz.SystemContext(ctx))
	return err
}

// Unblock lifts the blocks of identifier (an email or a username, any
// case) in every connection and from every IP, and forgets its counters.
// It returns how many (connection, IP) blocks were in force. Logs ublkdu
// when a block was lifted. db may be a transaction's client.
func Unblock(ctx context.Context, db *ent.Client, identifier string) (int, error) {
	sys := authz.SystemContext(ctx)
	ident := Normalize(identifier)
	if ident == "" {
		return 0, nil
	}
	blocked, err := db.LoginAttempt.Query().
		Where(loginattempt.Identifier(ident), loginattempt.BlockedUntilGT(time.Now())).
		Count(sys)
	if err != nil {
		return 0, err
	}
	if _, err := db.LoginAttempt.Delete().Where(loginattempt.Identifier(ident)).Exec(sys); err != nil {
		return 0, err
	}
	if blocked > 0 {
		_ = logs.Write(ctx, db, logs.Event{Type: "ublkdu", Description: "Brute-force block released", UserName: ident})
	}
	return blocked, nil
}

// Clear forgets the counters and blocks of the given identifiers in
// connection conn (a password change).
func Clear(ctx context.Context, db *ent.Client, conn string, idents ...string) error {
	var list []string
	for _, i := range idents {
		if i = Normalize(i); i != "" {
			list = append(list, i)
		}
	}
	if len(list) == 0 {
		return nil
	}
	_, err := db.LoginAttempt.Delete().
		Where(loginattempt.Connection(conn), loginattempt.IdentifierIn(list...)).
		Exec(authz.SystemContext(ctx))
	return err
}
