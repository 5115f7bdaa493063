package dbauth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/sessions"
	"github.com/authgraph/authgraph/store"
)

// recordLoginSQL is recordLogin's transaction as one Postgres statement (one
// round trip and one commit instead of BEGIN, three or four statements and
// COMMIT). The user's update returns whether the user is blocked as the
// committed row says after taking its lock, so a block made during the
// hash counts; the log event (s, or f "user is blocked") and the session
// (only when the login page asked for one and the user is not blocked)
// depend on it. The failure counter of (connection, identifier, IP) is
// deleted when $4 says one exists. Data-modifying CTEs run exactly once and
// all or nothing, like the transaction.
const recordLoginSQL = `WITH bumped AS (
	UPDATE users SET updated_at = $1::timestamptz, last_login = $1::timestamptz,
		logins_count = COALESCE(logins_count, 0) + 1, last_ip = COALESCE($2::text, last_ip)
	WHERE id = $3::text
	RETURNING blocked
), cleared AS (
	DELETE FROM login_attempts WHERE $4::boolean AND connection = $5::text AND identifier = $6::text AND ip = $7::text
), logged AS (
	INSERT INTO log_events (id, date, type, description, ip, user_agent, client_id, client_name, connection,
		connection_id, strategy, strategy_type, user_id, user_name)
	SELECT $8::text, $1::timestamptz, CASE WHEN blocked THEN $9::text ELSE $10::text END,
		CASE WHEN blocked THEN $11::text ELSE '' END, $12::text, $13::text, $14::text, $15::text, $16::text,
		$17::text, $18::text, $19::text, $20::text, $21::text
	FROM bumped
), opened AS (
	INSERT INTO sessions (id, created_at, updated_at, token_hash, auth_time, amr, connection, ip, user_agent,
		last_seen_at, idle_expires_at, expires_at, user_ref)
	SELECT $22::text, $23::timestamptz, $23::timestamptz, $24::text, $25::timestamptz, $26::jsonb, $27::text,
		$28::text, $29::text, $23::timestamptz, $30::timestamptz, $31::timestamptz, $3::text
	FROM bumped WHERE $32::boolean AND NOT blocked
)
SELECT blocked FROM bumped`

// blockedDescription is the f event's description for a blocked user.
const blockedDescription = "user is blocked"

// attemptKey names one brute-force failure counter.
type attemptKey struct{ conn, ident, ip string }

// recordLoginPostgres is recordLogin (without a hash upgrade) on Postgres,
// in one statement. It returns the user as the statement left it.
func (s *Service) recordLoginPostgres(ctx context.Context, db *store.DB, ev logs.Event, u *ent.User, clear *attemptKey, pre *sessions.Prepared) (*ent.User, bool, error) {
	now := s.now()
	req := logs.RequestFrom(ctx)
	realIP := truncate(req.IP, 64)
	var lastIP any
	if realIP != "" {
		lastIP = realIP
	}
	var ck attemptKey
	if clear != nil {
		ck = *clear
	}
	// The login page's session, when it asked for one (pre).
	row, err := pre.Row(sessions.Params{
		UserID: u.ID, AuthTime: now.Truncate(time.Second), AMR: []string{"pwd"}, Connection: ev.Connection,
		IP: req.IP, UserAgent: req.UserAgent,
	})
	if err != nil {
		return nil, false, err
	}
	ses := &ent.Session{}
	if row != nil {
		ses = row.Session
	}
	amr, _ := json.Marshal(ses.Amr)
	var blocked bool
	err = db.QueryRowTransient(ctx, recordLoginSQL, // store/transient.go
		now, lastIP, string(u.ID), clear != nil, ck.conn, ck.ident, ck.ip,
		string(pulid.MustNew("log_")), logs.TypeFailedLogin, logs.TypeSuccessLogin, blockedDescription,
		truncate(req.IP, 512), truncate(req.UserAgent, 512), ev.ClientID, ev.ClientName, ev.Connection,
		ev.ConnectionID, ev.Strategy, ev.StrategyType, ev.UserID, truncate(ev.UserName, 512),
		string(ses.ID), ses.CreatedAt, ses.TokenHash, ses.AuthTime, string(amr), ses.Connection,
		ses.IP, ses.UserAgent, ses.IdleExpiresAt, ses.ExpiresAt, row != nil,
	).Scan(&blocked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, &ent.NotFoundError{} // deleted meanwhile
	}
	if err != nil {
		return nil, false, err
	}
	// The row as the update left it, without reading it back.
	v := *u
	v.Edges = ent.UserEdges{}
	v.LastLogin, v.UpdatedAt = &now, now
	v.LoginsCount++
	v.Blocked = blocked
	if realIP != "" {
		v.LastIP = &realIP
	}
	if row != nil && !blocked {
		row.Written(&v)
	}
	return &v, blocked, nil
}
