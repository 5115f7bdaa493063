package oidc

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// userToken is a verified, live user access token.
type userToken struct {
	// claims are the token's (for an opaque token, what a JWT would
	// carry): introspection reports them.
	claims map[string]any
	grant  *ent.Grant
	scopes []string
}

var errInactive = errors.New("token is not active")

// checkAccessToken verifies one of our user access tokens, an RFC 9068
// at+jwt or an opaque /userinfo token (opaque.go): signature or seal,
// issuer, expiry, and that its grant exists, is the token's client's and is
// not revoked. audience, when non-empty, must be among the token's
// audiences (an opaque token's only audience is /userinfo).
func (p *Provider) checkAccessToken(ctx context.Context, raw, audience string) (*userToken, error) {
	var (
		claims          map[string]any
		exp             int64
		jti, clientID   string
		scope           string
		audienceMatches bool
	)
	if c, err := p.opaque.open(raw); err == nil {
		claims = map[string]any{
			"iss": p.issuer, "sub": c.Subject, "aud": []any{p.userinfoAudience}, "exp": float64(c.Expiry),
			"iat": float64(c.IssuedAt), "jti": grantJTIOf(c.Grant, c.JTI), "client_id": c.ClientID, "scope": c.Scope,
		}
		exp, jti, clientID, scope = c.Expiry, grantJTIOf(c.Grant, c.JTI), c.ClientID, c.Scope
		audienceMatches = audience == "" || audience == p.userinfoAudience
	} else {
		t, err := p.parseJWT(ctx, raw)
		if err != nil {
			if errors.Is(err, ErrKeysUnavailable) {
				return nil, err
			}
			return nil, errInactive
		}
		if t.typ != typeAccessToken {
			return nil, errInactive
		}
		var ok bool
		if exp, ok = t.num("exp"); !ok {
			return nil, errInactive
		}
		claims, jti, clientID, scope = t.claims, t.str("jti"), t.str("client_id"), t.str("scope")
		audienceMatches = audience == "" || slices.Contains(t.audiences(), audience)
	}
	if p.now().Unix() >= exp || !audienceMatches {
		return nil, errInactive
	}
	gid, ok := grantFromJTI(jti)
	if !ok {
		return nil, errInactive
	}
	g, err := p.db.Grant.Get(authz.SystemContext(ctx), pulid.ID(gid))
	if ent.IsNotFound(err) {
		return nil, errInactive
	}
	if err != nil {
		return nil, err
	}
	if g.RevokedAt != nil || g.ClientID != clientID {
		return nil, errInactive
	}
	// A token dies with the client it was issued to.
	if ok, err := p.verifier.machines.exists(ctx, clientID); err != nil {
		return nil, err
	} else if !ok {
		return nil, errInactive
	}
	return &userToken{claims: claims, grant: g, scopes: strings.Fields(scope)}, nil
}

// serveUserinfo answers GET and POST /userinfo with the claims the token's
// scopes allow (plus those the `claims` parameter named for userinfo). The
// token comes in the Authorization header, or for POST in the form body
// (access_token), never both; never in the query string.
func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	raw, ok := bearerToken(r)
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequestBytes)
		if err := r.ParseForm(); err != nil {
			bearerError(w, http.StatusBadRequest, "invalid_request", "malformed body")
			return
		}
		if body := r.PostForm.Get("access_token"); body != "" {
			if ok {
				bearerError(w, http.StatusBadRequest, "invalid_request", "the token must be sent once")
				return
			}
			raw, ok = body, true
		}
	}
	if r.URL.Query().Has("access_token") {
		bearerError(w, http.StatusBadRequest, "invalid_request", "the token must not be sent in the URL")
		return
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="userinfo"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	ut, err := p.checkAccessToken(ctx, raw, p.userinfoAudience)
	if errors.Is(err, errInactive) {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
		return
	}
	if err != nil {
		p.log.ErrorContext(ctx, "oidc: userinfo", slog.Any("error", err))
		bearerError(w, http.StatusInternalServerError, "server_error", "internal error")
		return
	}
	if !slices.Contains(ut.scopes, "openid") {
		bearerError(w, http.StatusForbidden, "insufficient_scope", "the openid scope is required")
		return
	}
	sys := authz.SystemContext(ctx)
	user, err := p.db.User.Get(sys, ut.grant.UserRef)
	if ent.IsNotFound(err) || (err == nil && user.Blocked) {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
		return
	}
	if err != nil {
		p.log.ErrorContext(ctx, "oidc: userinfo: loading the user", slog.Any("error", err))
		bearerError(w, http.StatusInternalServerError, "server_error", "internal error")
		return
	}
	var requested []string
	if ut.grant.AuthRequestRef != nil {
		if ar, err := p.db.AuthRequest.Get(sys, *ut.grant.AuthRequestRef); err == nil {
			requested = claimsRequestFrom(ar.ClaimsRequest).UserInfo
		}
	}
	claims := scopedClaims(user, ut.scopes, requested)
	claims["sub"] = user.UserID
	writeJSON(w, http.StatusOK, claims)
}

// bearerToken reads "Authorization: Bearer <token>".
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// bearerError answers an RFC 6750 error.
func bearerError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="`+code+`", error_description="`+desc+`"`)
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}
