package loginstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/store"
)

// recordSQL is Ent.Record as one Postgres statement: one round trip and one
// commit instead of BEGIN, four to six statements and COMMIT. The user's
// update takes the row lock and returns blocked as the row is once any
// concurrent block has committed; the event (f "user is blocked" instead
// of the given one for a blocked user) and the session (never for a blocked
// user) depend on it. Data-modifying CTEs run exactly once and all or
// nothing, like the transaction; a user that does not exist updates no row,
// and then nothing else is written either.
const recordSQL = `WITH bumped AS (
	UPDATE users SET updated_at = $1::timestamptz,
		last_login = CASE WHEN $2::boolean THEN $1::timestamptz ELSE last_login END,
		logins_count = CASE WHEN $2::boolean THEN COALESCE(logins_count, 0) + 1 ELSE logins_count END,
		last_ip = CASE WHEN $2::boolean THEN COALESCE($3::text, last_ip) ELSE last_ip END
	WHERE id = $4::text
	RETURNING blocked
), cleared AS (
	DELETE FROM login_attempts WHERE $5::boolean AND connection = $6::text AND identifier = $7::text AND ip = $8::text
		AND EXISTS (SELECT 1 FROM bumped)
), upgraded AS (
	UPDATE identities SET password_hash = $9::text, updated_at = $1::timestamptz
	WHERE $10::boolean AND id = $11::text AND EXISTS (SELECT 1 FROM bumped)
), logged AS (
	INSERT INTO log_events (id, date, type, description, ip, user_agent, client_id, client_name, connection,
		connection_id, strategy, strategy_type, user_id, user_name, details)
	SELECT $12::text, $1::timestamptz, CASE WHEN blocked THEN $13::text ELSE $14::text END,
		CASE WHEN blocked THEN $15::text ELSE $16::text END, $17::text, $18::text, $19::text, $20::text, $21::text,
		$22::text, $23::text, $24::text, $25::text, $26::text, $27::jsonb
	FROM bumped WHERE $28::boolean
), opened AS (
	INSERT INTO sessions (id, created_at, updated_at, token_hash, auth_time, amr, connection, ip, user_agent,
		last_seen_at, idle_expires_at, expires_at, user_ref)
	SELECT $29::text, $30::timestamptz, $40::timestamptz, $31::text, $32::timestamptz, $33::jsonb, $34::text,
		$35::text, $36::text, $41::timestamptz, $37::timestamptz, $38::timestamptz, $4::text
	FROM bumped WHERE $39::boolean AND NOT blocked
)
SELECT blocked FROM bumped`

// Postgres writes a login's record in one statement (recordSQL). The
// statement commits asynchronously (store/transient.go), like the rest of
// a login's writes: a crash can at worst forget the last few hundred
// milliseconds of logins, whose codes were then never redeemed.
type Postgres struct{ DB *store.DB }

// Record implements authn.Store.
func (s *Postgres) Record(ctx context.Context, rec *authn.Record) (authn.Recorded, error) {
	req := logs.RequestFrom(ctx)
	var lastIP any
	if rec.IP != "" {
		lastIP = rec.IP
	}
	var att struct{ conn, ident, ip string }
	if a := rec.Attempt; a != nil {
		att.conn, att.ident, att.ip = a.Connection, a.Identifier, a.IP
	}
	var ev logs.Event
	if rec.Event != nil {
		ev = *rec.Event
	}
	var details any
	if ev.Details != nil {
		b, err := json.Marshal(ev.Details)
		if err != nil {
			return authn.Recorded{}, err
		}
		details = string(b)
	}
	ses := &ent.Session{}
	if rec.Session != nil {
		ses = rec.Session
	}
	amr, err := json.Marshal(nonNil(ses.Amr))
	if err != nil {
		return authn.Recorded{}, err
	}
	var blocked bool
	err = s.DB.QueryRowTransient(ctx, recordSQL, // store/transient.go
		rec.Now, rec.CountLogin, lastIP, string(rec.UserID),
		rec.Attempt != nil, att.conn, att.ident, att.ip,
		rec.UpgradeHash, rec.UpgradeIdentity != "" && rec.UpgradeHash != "", string(rec.UpgradeIdentity),
		string(pulid.MustNew("log_")), logs.TypeFailedLogin, ev.Type, authn.BlockedDescription,
		truncate(ev.Description, 2048), truncate(req.IP, 512), truncate(req.UserAgent, 512), ev.ClientID,
		ev.ClientName, ev.Connection, ev.ConnectionID, ev.Strategy, ev.StrategyType, ev.UserID,
		truncate(ev.UserName, 512), details, rec.Event != nil,
		string(ses.ID), ses.CreatedAt, ses.TokenHash, ses.AuthTime, string(amr), ses.Connection,
		ses.IP, ses.UserAgent, ses.IdleExpiresAt, ses.ExpiresAt, rec.Session != nil, ses.UpdatedAt, ses.LastSeenAt,
	).Scan(&blocked)
	if errors.Is(err, sql.ErrNoRows) {
		return authn.Recorded{}, &ent.NotFoundError{}
	}
	if err != nil {
		return authn.Recorded{}, err
	}
	return authn.Recorded{Blocked: blocked}, nil
}

func truncate(s string, n int) string { return logs.Truncate(s, n) }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
