package oidc

import (
	"context"
	"encoding/json"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authrequest"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/store"
)

// redeemSQL is a code exchange's writes as one Postgres statement (one round
// trip, one commit, instead of BEGIN, three statements and COMMIT): mark the
// code used — only if unused and its user exists and is not blocked —, and
// only then insert the grant and, for offline_access, its first refresh
// token. Data-modifying CTEs run exactly once and see the same snapshot, so
// the conditions hold as in the ent transaction it replaces (exchangeTx).
const redeemSQL = `WITH redeemed AS (
	UPDATE auth_requests SET updated_at = $1::timestamptz, code_used_at = $1::timestamptz, expires_at = $2::timestamptz
	WHERE id = $3::text AND code_used_at IS NULL
		AND user_ref IN (SELECT id FROM users WHERE id = $4::text AND NOT blocked)
	RETURNING id
), granted AS (
	INSERT INTO grants (id, created_at, updated_at, user_ref, client_id, session_ref, auth_request_ref,
		scopes, audience, auth_time, amr, expires_at)
	SELECT $5::text, $1::timestamptz, $1::timestamptz, $4::text, $6::text, $7::text, id,
		$8::jsonb, $9::jsonb, $10::timestamptz, $11::jsonb, $2::timestamptz
	FROM redeemed
	RETURNING id
), refreshed AS (
	INSERT INTO refresh_tokens (id, created_at, updated_at, grant_ref, token_hash, idle_expires_at)
	SELECT $12::text, $1::timestamptz, $1::timestamptz, id, $13::text, $14::timestamptz
	FROM granted WHERE $15::boolean
	RETURNING id
)
SELECT (SELECT count(*) FROM granted), (SELECT count(*) FROM refreshed)`

// redemption is what a code exchange writes.
type redemption struct {
	ar                  *ent.AuthRequest
	user                *ent.User
	app                 *ent.Application
	now, authTime, ends time.Time // ends: the grant's absolute expiry
	offline             bool
}

// redeem writes r: in one statement on Postgres (redeemSQL), in an ent
// transaction elsewhere. It returns the grant and, for offline_access, the
// refresh token; errCodeRaced, errUserGone or errUserBlocked when the code
// was used meanwhile or its user deleted or blocked (nothing is written).
func (p *Provider) redeem(ctx context.Context, r redemption) (*ent.Grant, string, error) {
	g := &ent.Grant{
		ID: pulid.MustNew("grt_"), CreatedAt: r.now, UpdatedAt: r.now, UserRef: r.user.ID,
		ClientID: r.app.ClientID, SessionRef: r.ar.SessionRef, AuthRequestRef: &r.ar.ID,
		Scopes: nonNilStrings(r.ar.Scopes), Audience: nonNilStrings(r.ar.Audience), AuthTime: r.authTime,
		Amr: nonNilStrings(r.ar.Amr), ExpiresAt: r.ends,
	}
	db := store.Of(p.db)
	if !db.Postgres() {
		return p.redeemTx(ctx, r, g)
	}
	var refresh, refreshHash string
	if r.offline {
		refresh = newSecret()
		refreshHash = hashToken(refresh)
	}
	var session any
	if g.SessionRef != nil {
		session = string(*g.SessionRef)
	}
	scopes, _ := json.Marshal(g.Scopes)
	audience, _ := json.Marshal(g.Audience)
	amr, _ := json.Marshal(g.Amr)
	var granted, refreshed int
	err := db.QueryRow(ctx, redeemSQL,
		r.now, r.ends, string(r.ar.ID), string(r.user.ID), string(g.ID), g.ClientID, session,
		string(scopes), string(audience), r.authTime, string(amr),
		string(pulid.MustNew("rft_")), refreshHash, refreshIdleExpiry(r.app, r.now, r.ends), r.offline,
	).Scan(&granted, &refreshed)
	if err != nil {
		return nil, "", err
	}
	if granted == 0 {
		return nil, "", p.whyNotRedeemed(ctx, p.db, r.user.ID)
	}
	return g, refresh, nil
}

// redeemTx is redeem as an ent transaction (SQLite).
func (p *Provider) redeemTx(ctx context.Context, r redemption, g *ent.Grant) (*ent.Grant, string, error) {
	var refresh string
	err := p.tx(ctx, func(tx *ent.Tx) error {
		n, err := tx.AuthRequest.Update().
			Where(authrequest.ID(r.ar.ID), authrequest.CodeUsedAtIsNil(), userActive(r.user.ID)).
			SetCodeUsedAt(r.now).
			// Kept for the grant's lifetime: reuse detection and the
			// `claims` parameter's userinfo member.
			SetExpiresAt(r.ends).
			Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return p.whyNotRedeemed(ctx, tx.Client(), r.user.ID)
		}
		c := tx.Grant.Create().
			SetID(g.ID).
			SetUserRef(g.UserRef).
			SetClientID(g.ClientID).
			SetAuthRequestRef(r.ar.ID).
			SetScopes(g.Scopes).
			SetAudience(g.Audience).
			SetAuthTime(g.AuthTime).
			SetAmr(g.Amr).
			SetExpiresAt(g.ExpiresAt)
		if g.SessionRef != nil {
			c.SetSessionRef(*g.SessionRef)
		}
		if g, err = c.Save(ctx); err != nil {
			return err
		}
		if r.offline {
			refresh, err = p.createRefreshToken(ctx, tx, g, r.app, r.now)
		}
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return g, refresh, nil
}

// whyNotRedeemed tells why a code's redemption matched nothing: its user
// was deleted or blocked, or else the code was used concurrently.
func (p *Provider) whyNotRedeemed(ctx context.Context, db *ent.Client, userID pulid.ID) error {
	switch u, err := db.User.Get(ctx, userID); {
	case ent.IsNotFound(err):
		return errUserGone
	case err != nil:
		return err
	case u.Blocked:
		return errUserBlocked
	}
	return errCodeRaced
}

// refreshIdleExpiry is when a new refresh token expires unless used: the
// client's idle lifetime from now, never past the grant's end.
func refreshIdleExpiry(app *ent.Application, now, grantEnds time.Time) time.Time {
	idle := now.Add(refreshIdle(app))
	if idle.After(grantEnds) {
		return grantEnds
	}
	return idle
}
