package oidc

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authrequest"
	"github.com/authgraph/authgraph/ent/grant"
	"github.com/authgraph/authgraph/ent/refreshtoken"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/store"
)

// revokeGrant revokes one grant (its refresh tokens and access tokens).
func (p *Provider) revokeGrant(ctx context.Context, id pulid.ID, reason string) error {
	defer p.verifier.grants.forget()
	return p.db.Grant.Update().
		Where(grant.ID(id), grant.RevokedAtIsNil()).
		SetRevokedAt(p.now()).
		SetRevokedReason(reason).
		Exec(authz.SystemContext(ctx))
}

// Cleanup deletes login state that can no longer be used: auth requests past
// their expiry and grants (with their refresh tokens) that expired more than
// a day and a half ago (longer than any access token of theirs can live).
// Run it periodically (e.g. hourly) from one node.
func Cleanup(ctx context.Context, db *ent.Client) (int, error) {
	sys := authz.SystemContext(ctx)
	now := time.Now()
	n1, err := db.AuthRequest.Delete().Where(authrequest.ExpiresAtLT(now)).Exec(sys)
	if err != nil {
		return n1, err
	}
	old := now.Add(-DefaultAccessTokenLifetime - 12*time.Hour)
	ids, err := db.Grant.Query().Where(grant.ExpiresAtLT(old)).IDs(sys)
	if err != nil || len(ids) == 0 {
		return n1, err
	}
	if _, err := db.RefreshToken.Delete().Where(refreshtoken.GrantRefIn(ids...)).Exec(sys); err != nil {
		return n1, err
	}
	n2, err := db.Grant.Delete().Where(grant.IDIn(ids...)).Exec(sys)
	return n1 + n2, err
}

// serveRevoke is RFC 7009 revocation. A refresh token or a user access
// token revokes its whole grant; unknown tokens and tokens of other clients
// are answered 200 as the RFC requires, without effect.
func (p *Provider) serveRevoke(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, newOAuthError(http.StatusMethodNotAllowed, "invalid_request", "POST only"))
		return
	}
	if oe := parseTokenForm(w, r); oe != nil {
		writeOAuthError(w, oe)
		return
	}
	app, oe := p.authenticateClient(r)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeOAuthError(w, newOAuthError(http.StatusBadRequest, "invalid_request", "token missing"))
		return
	}
	ctx := r.Context()
	gid, err := p.grantOfToken(ctx, token, r.PostForm.Get("token_type_hint"))
	if err != nil {
		writeOAuthError(w, p.serverError(ctx, "revocation", err))
		return
	}
	if gid != "" {
		g, err := p.db.Grant.Get(authz.SystemContext(ctx), gid)
		if err == nil && g.ClientID == app.ClientID {
			err = p.revokeGrant(ctx, g.ID, ReasonRevoked)
		}
		if err != nil && !ent.IsNotFound(err) {
			writeOAuthError(w, p.serverError(ctx, "revocation", err))
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// grantOfToken finds the grant of a refresh token or user access token; ""
// when the token is neither.
func (p *Provider) grantOfToken(ctx context.Context, token, hint string) (pulid.ID, error) {
	lookupRefresh := func() (pulid.ID, error) {
		rt, err := p.db.RefreshToken.Query().Where(refreshtoken.TokenHash(hashToken(token))).Only(authz.SystemContext(ctx))
		if ent.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return rt.GrantRef, nil
	}
	if c, err := p.opaque.open(token); err == nil {
		return pulid.ID(c.Grant), nil
	}
	if hint != "access_token" && strings.Count(token, ".") != 2 {
		return lookupRefresh()
	}
	t, err := p.parseJWT(ctx, token)
	if errors.Is(err, ErrKeysUnavailable) {
		return "", err
	}
	if err != nil || t.typ != typeAccessToken {
		return lookupRefresh()
	}
	gid, ok := grantFromJTI(t.str("jti"))
	if !ok {
		return "", nil
	}
	return pulid.ID(gid), nil
}

// serveIntrospect is RFC 7662 introspection for confidential clients.
// A token is reported to the client it was issued to (its client_id) and,
// for an access token whose audience is a registered API, to the clients
// that API lists in introspection_clients (the API's own client, typically:
// a resource server that wants revocation checks rather than validating
// tokens with the JWKS alone). Any other caller, whatever the token, gets
// {"active": false}, the answer for an unknown token, so introspection
// neither reveals other clients' tokens nor whether they exist (RFC 7662
// §4). Refresh tokens and the opaque /userinfo tokens are reported only to
// their own client.
func (p *Provider) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, newOAuthError(http.StatusMethodNotAllowed, "invalid_request", "POST only"))
		return
	}
	if oe := parseTokenForm(w, r); oe != nil {
		writeOAuthError(w, oe)
		return
	}
	app, oe := p.authenticateClient(r)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	if !clients.IsConfidential(string(app.Type)) {
		writeOAuthError(w, newOAuthError(http.StatusUnauthorized, "invalid_client", "introspection requires a confidential client"))
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeOAuthError(w, newOAuthError(http.StatusBadRequest, "invalid_request", "token missing"))
		return
	}
	ctx := r.Context()
	resp, err := p.introspect(ctx, app, token)
	if err != nil {
		writeOAuthError(w, p.serverError(ctx, "introspection", err))
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

var inactive = map[string]any{"active": false}

// introspection is the answer for an active access token with claims.
func introspection(claims map[string]any) map[string]any {
	out := map[string]any{"active": true, "token_type": "Bearer"}
	for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "permissions"} {
		if v, ok := claims[k]; ok {
			out[k] = v
		}
	}
	return out
}

func (p *Provider) introspect(ctx context.Context, app *ent.Application, token string) (map[string]any, error) {
	sys := authz.SystemContext(ctx)
	if c, err := p.opaque.open(token); err == nil {
		if c.ClientID != app.ClientID {
			return inactive, nil
		}
		ut, err := p.checkAccessToken(ctx, token, "")
		if errors.Is(err, errInactive) {
			return inactive, nil
		}
		if err != nil {
			return nil, err
		}
		return introspection(ut.claims), nil
	}
	if strings.Count(token, ".") == 2 {
		t, err := p.parseJWT(ctx, token)
		if errors.Is(err, ErrKeysUnavailable) {
			return nil, err
		}
		if err != nil {
			return inactive, nil
		}
		if t.str("client_id") != app.ClientID {
			if ok, err := p.introspectsFor(ctx, app, t.audiences()); err != nil {
				return nil, err
			} else if !ok {
				return inactive, nil
			}
		}
		exp, ok := t.num("exp")
		if !ok || p.now().Unix() >= exp {
			return inactive, nil
		}
		switch {
		case t.typ == typeAccessToken:
			if _, err := p.checkAccessToken(ctx, token, ""); errors.Is(err, errInactive) {
				return inactive, nil
			} else if err != nil {
				return nil, err
			}
		case t.str("gty") == GrantTypeClientCredentialsClaim:
			iat, _ := t.num("iat")
			if ok, err := p.machineTokenActive(ctx, t.str("client_id"), t.str("jti"), iat); err != nil {
				return nil, err
			} else if !ok {
				return inactive, nil
			}
		default:
			return inactive, nil // an ID token is not an access token
		}
		return introspection(t.claims), nil
	}
	rt, err := p.db.RefreshToken.Query().Where(refreshtoken.TokenHash(hashToken(token))).WithGrant().Only(sys)
	if ent.IsNotFound(err) {
		return inactive, nil
	}
	if err != nil {
		return nil, err
	}
	g := rt.Edges.Grant
	now := p.now()
	if g == nil || g.ClientID != app.ClientID || g.RevokedAt != nil || rt.UsedAt != nil ||
		now.After(rt.IdleExpiresAt) || now.After(g.ExpiresAt) {
		return inactive, nil
	}
	u, err := p.db.User.Get(sys, g.UserRef)
	if ent.IsNotFound(err) || (err == nil && u.Blocked) {
		return inactive, nil
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"active":     true,
		"token_type": "refresh_token",
		"client_id":  g.ClientID,
		"sub":        u.UserID,
		"scope":      strings.Join(g.Scopes, " "),
		"exp":        rt.IdleExpiresAt.Unix(),
		"iat":        rt.CreatedAt.Unix(),
		"iss":        p.issuer,
	}, nil
}

// introspectsFor reports whether app is an introspection client of an API
// among a token's audiences.
func (p *Provider) introspectsFor(ctx context.Context, app *ent.Application, audiences []string) (bool, error) {
	for _, aud := range audiences {
		if aud == p.userinfoAudience || aud == p.managementAudience {
			continue
		}
		rs, err := p.resourceServer(ctx, aud)
		if err != nil {
			return false, err
		}
		if rs != nil && slices.Contains(rs.IntrospectionClients, app.ClientID) {
			return true, nil
		}
	}
	return false, nil
}

// grantChecker tells the management Verifier whether a user token's grant
// is still live, caching answers for grantCacheTTL. Any change to grants
// or users made through this process (a logout, RFC 7009 revocation,
// identity.RevokeAccess on a password change, block, email change…, a
// deleted user whose grants go with it) drops
// the cache at once (store.Cache's change tracking); one made by another
// node is seen within grantCacheTTL.
type grantChecker struct {
	db    *ent.Client
	cache *store.Cache[string, bool]
}

// grantCacheTTL bounds how long a revocation made on another node may go
// unnoticed by this node's Verifier, even when that node's announcement of
// it was lost (the cache keeps this TTL: KeepTTL).
const grantCacheTTL = 5 * time.Second

func newGrantChecker(db *ent.Client) *grantChecker {
	return &grantChecker{db: db, cache: store.NewCache[string, bool](db, grantCacheTTL, 100_000, ent.TypeGrant, ent.TypeUser).Named("grants").KeepTTL()}
}

// live reports whether grant id exists, is not revoked and belongs to
// clientID.
func (c *grantChecker) live(ctx context.Context, id, clientID string) (bool, error) {
	return c.cache.Get(ctx, id+"|"+clientID, func(ctx context.Context) (bool, error) {
		g, err := c.db.Grant.Get(authz.SystemContext(ctx), pulid.ID(id))
		if err != nil && !ent.IsNotFound(err) {
			return false, err
		}
		return err == nil && g.RevokedAt == nil && g.ClientID == clientID, nil
	})
}

// forget drops the cache: revocations made by this node apply at once.
func (c *grantChecker) forget() {
	if c == nil {
		return
	}
	c.cache.Forget()
}

func (p *Provider) logError(ctx context.Context, what string, err error) {
	p.log.ErrorContext(ctx, "oidc: "+what, slog.Any("error", err))
}
