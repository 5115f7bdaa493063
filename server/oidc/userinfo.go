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
	jwt    *parsedJWT
	grant  *ent.Grant
	scopes []string
}

var errInactive = errors.New("token is not active")

// checkAccessToken verifies one of our user access tokens (RFC 9068 at+jwt):
// signature, issuer, expiry, and that its grant exists and is not revoked.
// audience, when non-empty, must be among the token's audiences.
func (p *Provider) checkAccessToken(ctx context.Context, raw, audience string) (*userToken, error) {
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
	if exp, ok := t.num("exp"); !ok || p.now().Unix() >= exp {
		return nil, errInactive
	}
	if audience != "" && !slices.Contains(t.audiences(), audience) {
		return nil, errInactive
	}
	gid, ok := grantFromJTI(t.str("jti"))
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
	if g.RevokedAt != nil || g.ClientID != t.str("client_id") {
		return nil, errInactive
	}
	return &userToken{jwt: t, grant: g, scopes: strings.Fields(t.str("scope"))}, nil
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
