package mfa

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/store"
)

// The verification of a code on Postgres, in as few statements as possible.
// A TOTP code takes two: one reads the user and their TOTP authenticators
// and counts the attempt (reserveTOTPSQL), the other, once the code
// matched, records the accepted step, forgets the count and writes the log
// event (acceptTOTPSQL). ent's path (SQLite, clients store.Open did not
// make) does the same with the same conditions, its writes in
// transactions.
//
// Both go through the transient pool (store/transient.go: committed
// without waiting for the WAL flush). What a crash of the database could
// lose is bounded as for the password's attempt count: a count of the last
// few hundred milliseconds. An accepted step cannot be lost once the login
// goes on: the session's second factor (its AMR) is then written with a
// synchronous commit, which makes every earlier WAL record durable. A wrong
// code's outcome (its log event, the lock at MaxFailures) is written
// synchronously through ent (failed).

// The statements take the service's clock for what the lockout and the
// replay check compare (now), and the wall clock for created_at, updated_at
// and the event's date, as ent sets them.

// reserveCount is the counting upsert both reservations share: a lock
// that ended, or a count older than the window, starts over at 1; a
// running lock or a full count is left as it is (no row returned).
const reserveCount = `
	ON CONFLICT (user_ref) DO UPDATE SET
		failures = CASE WHEN s.locked_until IS NOT NULL OR s.last_failure_at <= $4::timestamptz THEN 1
			ELSE s.failures + 1 END,
		locked_until = NULL, last_failure_at = $2::timestamptz, updated_at = $6::timestamptz
	WHERE s.locked_until <= $2::timestamptz
		OR (s.locked_until IS NULL AND (s.last_failure_at <= $4::timestamptz OR s.failures < $5::bigint))
	RETURNING 1
)`

// reserveSQL counts an attempt of user $3 in one upsert ($2 is now, $6 the
// wall clock): the state row is made when there is none; a lock that ran
// out, or a count whose last attempt is not later than $4 (now - LockFor),
// starts over at this attempt; otherwise the attempt is counted only when
// the user is not locked and fewer than $5 (MaxFailures) are counted. The row's lock (ON
// CONFLICT DO UPDATE locks it and decides on its latest version) makes
// parallel attempts count one after the other. It returns whether this one
// was counted, and the lock's end as the statement's snapshot saw it.
const reserveSQL = `WITH counted AS (
	INSERT INTO mfa_states AS s (id, created_at, updated_at, user_ref, failures, last_failure_at, generation)
	VALUES ($1::text, $6::timestamptz, $6::timestamptz, $3::text, 1, $2::timestamptz, 0)
` + reserveCount + `
SELECT EXISTS (SELECT 1 FROM counted), (SELECT locked_until FROM mfa_states WHERE user_ref = $3::text)`

// reserveTOTPSQL is reserveSQL for a TOTP code, which also reads the user
// (for the log events) and the ids and sealed seeds of the user's
// confirmed TOTP authenticators. No row: the user does not exist (and
// nothing was counted).
const reserveTOTPSQL = `WITH u AS (
	SELECT id, user_id, email FROM users WHERE id = $3::text
), counted AS (
	INSERT INTO mfa_states AS s (id, created_at, updated_at, user_ref, failures, last_failure_at, generation)
	SELECT $1::text, $6::timestamptz, $6::timestamptz, u.id, 1, $2::timestamptz, 0 FROM u
` + reserveCount + `
SELECT u.user_id, u.email, EXISTS (SELECT 1 FROM counted),
	(SELECT locked_until FROM mfa_states WHERE user_ref = u.id),
	ARRAY(SELECT a.id FROM authenticators a WHERE a.user_ref = u.id AND a.type = 'totp' AND a.confirmed
		AND a.secret_sealed IS NOT NULL ORDER BY a.id),
	ARRAY(SELECT a.secret_sealed FROM authenticators a WHERE a.user_ref = u.id AND a.type = 'totp' AND a.confirmed
		AND a.secret_sealed IS NOT NULL ORDER BY a.id)
FROM u`

// acceptTOTPSQL records step $2 as authenticator $1's last accepted one if
// it is newer than the last (the conditional update that refuses a
// replay, even of two requests at once), and only then forgets user $4's
// count (not a lock set meanwhile) and writes the gd_auth_succeed event
// ($6 is the wall clock: updated_at, the event's date). It returns
// whether the step was accepted.
const acceptTOTPSQL = `WITH accepted AS (
	UPDATE authenticators SET totp_last_step = $2::bigint, confirmed = true, last_used_at = $3::timestamptz,
		updated_at = $6::timestamptz
	WHERE id = $1::text AND totp_last_step < $2::bigint
	RETURNING id
), reset AS (
	UPDATE mfa_states SET failures = 0, last_failure_at = NULL, updated_at = $6::timestamptz
	WHERE user_ref = $4::text AND locked_until IS NULL AND EXISTS (SELECT 1 FROM accepted)
), logged AS (
	INSERT INTO log_events (id, date, type, description, ip, user_agent, client_id, client_name, connection,
		connection_id, strategy, strategy_type, user_id, user_name, details)
	SELECT $5::text, $6::timestamptz, $7::text, $8::text, $9::text, $10::text, $11::text, $12::text, $13::text,
		'', '', '', $14::text, $15::text, $16::jsonb
	FROM accepted
)
SELECT EXISTS (SELECT 1 FROM accepted)`

// pgDB returns the Postgres database behind the service's client, nil on
// SQLite (or a client store.Open did not make).
func (s *Service) pgDB() *store.DB {
	if db := store.Of(s.cfg.DB); db.Postgres() {
		return db
	}
	return nil
}

// lockedError is the refusal of an attempt that was not counted: the lock's
// end when there is one, else (MaxFailures attempts are being checked right
// now) as if they had all failed.
func (s *Service) lockedError(until *time.Time, now time.Time) error {
	if until != nil && until.After(now) {
		return &LockedError{Until: *until}
	}
	return &LockedError{Until: now.Add(LockFor)}
}

// reservePostgres is reserve in one statement.
func (s *Service) reservePostgres(ctx context.Context, db *store.DB, userID pulid.ID) error {
	now := s.now()
	var counted bool
	var until *time.Time
	err := db.QueryRowTransient(ctx, reserveSQL, string(pulid.MustNew("mfs_")), now, string(userID),
		now.Add(-LockFor), MaxFailures, wallClock()).Scan(&counted, &until)
	if err != nil {
		return fmt.Errorf("mfa: counting an attempt: %w", err)
	}
	if !counted {
		return s.lockedError(until, now)
	}
	return nil
}

// attemptTOTPPostgres is attempt(FactorTOTP) and the read of the user's
// confirmed TOTP authenticators, in one statement. The authenticators carry
// only what matchTOTP and acceptTOTPPostgres use.
func (s *Service) attemptTOTPPostgres(ctx context.Context, db *store.DB, userID pulid.ID) (*ent.User, []*ent.Authenticator, error) {
	now := s.now()
	u := &ent.User{ID: userID}
	var (
		counted bool
		until   *time.Time
		ids     pq.StringArray
		seeds   pq.ByteaArray
	)
	err := db.QueryRowTransient(ctx, reserveTOTPSQL, string(pulid.MustNew("mfs_")), now, string(userID),
		now.Add(-LockFor), MaxFailures, wallClock()).Scan(&u.UserID, &u.Email, &counted, &until, &ids, &seeds)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: counting an attempt: %w", err)
	}
	if !counted {
		return nil, nil, s.lockedError(until, now)
	}
	if len(ids) != len(seeds) {
		return nil, nil, fmt.Errorf("mfa: loading TOTP authenticators: %d ids, %d seeds", len(ids), len(seeds))
	}
	as := make([]*ent.Authenticator, len(ids))
	for i, id := range ids {
		seed := seeds[i]
		as[i] = &ent.Authenticator{ID: pulid.ID(id), UserRef: userID, SecretSealed: &seed}
	}
	return u, as, nil
}

// acceptTOTPPostgres records a matched TOTP code in one statement (see
// acceptTOTPSQL); false: the step was accepted before (a replay).
func (s *Service) acceptTOTPPostgres(ctx context.Context, db *store.DB, u *ent.User, a *ent.Authenticator, st int64, e logs.Event) (bool, error) {
	details, err := json.Marshal(e.Details)
	if err != nil {
		return false, err
	}
	req := logs.RequestFrom(ctx)
	var ok bool
	err = db.QueryRowTransient(ctx, acceptTOTPSQL, string(a.ID), st, s.now(), string(u.ID),
		string(pulid.MustNew("log_")), wallClock(), e.Type, truncate(e.Description, 2048),
		truncate(req.IP, 512), truncate(req.UserAgent, 512), e.ClientID, e.ClientName, e.Connection,
		e.UserID, truncate(e.UserName, 512), string(details)).Scan(&ok)
	return ok, err
}

// wallClock is the time ent gives created_at and updated_at.
func wallClock() time.Time { return time.Now().Truncate(time.Microsecond) }

// truncate cuts s to n bytes, as logs.Write does.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
