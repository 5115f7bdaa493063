package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authrequest"
	"github.com/authgraph/authgraph/ent/grant"
	"github.com/authgraph/authgraph/ent/predicate"
	"github.com/authgraph/authgraph/ent/refreshtoken"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/logs"
)

// Refresh token lifetimes (per client: Application.refresh_token_idle_lifetime
// and refresh_token_lifetime, in seconds, 0 = these).
const (
	DefaultRefreshTokenIdleLifetime = 15 * 24 * time.Hour
	DefaultRefreshTokenLifetime     = 30 * 24 * time.Hour
)

// LogTypeRefreshTokenReuse is Auth0's log code for a reused refresh token.
const LogTypeRefreshTokenReuse = "ferrt"

// Revocation reasons stored on grants.
const (
	ReasonCodeReuse         = "authorization_code_reuse"
	ReasonRefreshTokenReuse = "refresh_token_reuse"
	ReasonRevoked           = "revoked_by_client"
	ReasonLogout            = "logout"
	// Revocations caused by changes to the user are identity.Revoke*.
)

// oauthError is an error answer of the token, revocation and introspection
// endpoints (RFC 6749 §5.2).
type oauthError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	challenge   bool   // add a Basic WWW-Authenticate challenge
	retryAfter  int    // seconds, sent as Retry-After when set
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func newOAuthError(status int, code, desc string) *oauthError {
	return &oauthError{status: status, Code: code, Description: desc}
}

func invalidGrant(desc string) *oauthError {
	return newOAuthError(http.StatusBadRequest, "invalid_grant", desc)
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.challenge || e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="token", charset="UTF-8"`)
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *Provider) serverError(ctx context.Context, what string, err error) *oauthError {
	if oe := p.unavailableError(ctx, what, err); oe != nil {
		return oe
	}
	p.log.ErrorContext(ctx, "oidc: "+what, slog.Any("error", err))
	return newOAuthError(http.StatusInternalServerError, "server_error", "internal error")
}

// serveToken is the token endpoint. It admits POST only, with a bounded
// body, no credentials in the query string and no-store caching; it
// dispatches the implemented grants and refuses every other (op's
// jwt-bearer, token exchange… are unreachable).
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, newOAuthError(http.StatusMethodNotAllowed, "invalid_request", "the token endpoint accepts POST only"))
		return
	}
	if oe := parseTokenForm(w, r); oe != nil {
		writeOAuthError(w, oe)
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case string(oidc.GrantTypeClientCredentials):
		p.clientCredentials(w, r)
	case string(oidc.GrantTypeCode), string(oidc.GrantTypeRefreshToken):
		app, oe := p.authenticateClient(r)
		if oe != nil {
			p.metrics.TokenRefused(gt, oe.Code)
			writeOAuthError(w, oe)
			return
		}
		if !slices.Contains(app.GrantTypes, gt) {
			p.metrics.TokenRefused(gt, "unauthorized_client")
			writeOAuthError(w, newOAuthError(http.StatusBadRequest, "unauthorized_client", "the client may not use this grant type"))
			return
		}
		if gt == string(oidc.GrantTypeCode) {
			oe = p.exchangeCode(w, r, app)
		} else {
			oe = p.refresh(w, r, app)
		}
		if oe != nil {
			p.metrics.TokenRefused(gt, oe.Code)
			writeOAuthError(w, oe)
		} else {
			p.metrics.TokenIssued(gt)
		}
	case "":
		p.metrics.TokenRefused(gt, "invalid_request")
		writeOAuthError(w, newOAuthError(http.StatusBadRequest, "invalid_request", "grant_type missing"))
	default:
		p.metrics.TokenRefused(gt, "unsupported_grant_type")
		writeOAuthError(w, newOAuthError(http.StatusBadRequest, "unsupported_grant_type",
			"supported grant types: authorization_code, refresh_token, client_credentials"))
	}
}

// parseTokenForm reads a form body of at most maxTokenRequestBytes and
// refuses credentials in the query string.
func parseTokenForm(w http.ResponseWriter, r *http.Request) *oauthError {
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequestBytes)
	if err := r.ParseForm(); err != nil {
		return newOAuthError(http.StatusBadRequest, "invalid_request", "malformed form body")
	}
	q := r.URL.Query()
	if q.Has("client_secret") || q.Has("client_assertion") || q.Has("token") || q.Has("refresh_token") || q.Has("code") {
		return newOAuthError(http.StatusBadRequest, "invalid_request", "credentials must not be sent in the URL")
	}
	return nil
}

// authenticateClient enforces each client's registered method: confidential
// clients (m2m, regular_web) authenticate with client_secret_basic or
// client_secret_post; public clients (spa, native) send only client_id
// (method none; their code flow requires PKCE). Two methods at once, client
// assertions, a secret from a public client or none from a confidential one
// are refused. Unknown clients and wrong secrets get the same answer.
func (p *Provider) authenticateClient(r *http.Request) (*ent.Application, *oauthError) {
	ctx := r.Context()
	invalid := newOAuthError(http.StatusUnauthorized, "invalid_client", "client authentication failed")
	if r.PostForm.Has("client_assertion") || r.PostForm.Has("client_assertion_type") {
		return nil, newOAuthError(http.StatusUnauthorized, "invalid_client",
			"supported client authentication: client_secret_basic, client_secret_post, none")
	}
	basicID, basicSecret, hasBasic := r.BasicAuth()
	hasPost := r.PostForm.Has("client_secret")
	if hasBasic && hasPost {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "client authentication must not use more than one method")
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if hasBasic {
		dID, err1 := url.QueryUnescape(basicID)
		dSecret, err2 := url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			return nil, invalid
		}
		if id != "" && id != dID {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "client_id differs from the authenticated client")
		}
		id, secret = dID, dSecret
	}
	if id == "" {
		return nil, invalid
	}
	if hasBasic || hasPost {
		app, err := p.clients.Authenticate(ctx, id, secret)
		if errors.Is(err, clients.ErrInvalidClient) {
			return nil, invalid
		}
		if err != nil {
			return nil, p.serverError(ctx, "authenticating a client", err)
		}
		if !clients.IsConfidential(string(app.Type)) {
			return nil, invalid
		}
		return app, nil
	}
	app, err := p.clients.Get(ctx, id)
	if err != nil {
		return nil, p.serverError(ctx, "loading a client", err)
	}
	if app == nil || clients.IsConfidential(string(app.Type)) {
		return nil, invalid
	}
	return app, nil
}

// --- authorization_code -----------------------------------------------------

// exchangeCode redeems an authorization code once. A second exchange fails
// with invalid_grant and revokes the grant the first one created
// (oidcc-codereuse-30seconds).
func (p *Provider) exchangeCode(w http.ResponseWriter, r *http.Request, app *ent.Application) *oauthError {
	ctx := r.Context()
	sys := authz.SystemContext(ctx)
	code := r.PostForm.Get("code")
	if code == "" {
		return newOAuthError(http.StatusBadRequest, "invalid_request", "code missing")
	}
	codeHash := hashToken(code)
	// Issued by this node: the request and its user as they were then
	// (cache.go); whether the user still exists and is not blocked is part
	// of the redemption below.
	ar, user := p.codes.take(codeHash, p.now())
	if ar == nil {
		var err error
		ar, err = p.db.AuthRequest.Query().Where(authrequest.CodeHash(codeHash)).Only(sys)
		if ent.IsNotFound(err) {
			return invalidGrant("invalid code")
		}
		if err != nil {
			return p.serverError(ctx, "loading a code", err)
		}
	}
	if ar.UserRef == nil {
		return invalidGrant("invalid code")
	}
	if ar.ClientID != app.ClientID {
		p.burnCode(ctx, ar)
		return invalidGrant("invalid code")
	}
	now := p.now()
	if ar.CodeUsedAt != nil {
		p.revokeCodeGrants(ctx, ar)
		return invalidGrant("code already used")
	}
	if ar.CodeExpiresAt == nil || now.After(*ar.CodeExpiresAt) {
		return invalidGrant("code expired")
	}
	if r.PostForm.Get("redirect_uri") != ar.RedirectURI {
		p.burnCode(ctx, ar)
		return invalidGrant("redirect_uri does not match the authorization request")
	}
	verifier := r.PostForm.Get("code_verifier")
	if ar.CodeChallenge != "" {
		if !validPKCEValue(verifier, 43, 128) || oidc.NewSHACodeChallenge(verifier) != ar.CodeChallenge {
			p.burnCode(ctx, ar)
			return invalidGrant("PKCE verification failed")
		}
	} else if verifier != "" {
		p.burnCode(ctx, ar)
		return invalidGrant("code_verifier sent for a request without code_challenge")
	}
	var err error
	if user == nil || user.ID != *ar.UserRef {
		var oerr *oauthError
		if user, oerr = p.liveUser(ctx, *ar.UserRef); oerr != nil {
			return oerr
		}
	}
	var api *API
	if len(ar.Audience) > 0 {
		if api, err = p.resolveAPI(ctx, ar.Audience[0]); errors.Is(err, errUnknownAPI) {
			return invalidGrant("the API no longer exists")
		} else if err != nil {
			return p.serverError(ctx, "resolving an audience", err)
		}
	}
	authTime := now
	if ar.AuthTime != nil {
		authTime = *ar.AuthTime
	}
	grantExpiry := now.Add(refreshAbsolute(app))
	offline := slices.Contains(ar.Scopes, oidc.ScopeOfflineAccess)

	g, refresh, err := p.redeem(sys, redemption{ar: ar, user: user, app: app, now: now, authTime: authTime,
		ends: grantExpiry, offline: offline}) // redeem.go
	switch {
	case errors.Is(err, errCodeRaced):
		p.revokeCodeGrants(ctx, ar)
		return invalidGrant("code already used")
	case errors.Is(err, errUserGone):
		return invalidGrant("the user no longer exists")
	case errors.Is(err, errUserBlocked):
		return invalidGrant("user is blocked")
	case err != nil:
		return p.serverError(ctx, "redeeming a code", err)
	}
	cr := claimsRequestFrom(ar.ClaimsRequest)
	var roles []string
	if cr.Roles != nil {
		stored, err := p.roleNames(ctx, user)
		if err != nil {
			return p.serverError(ctx, "loading the user's roles", err)
		}
		roles = cr.Roles.Apply(stored)
	}
	return p.respondTokens(ctx, w, &issue{
		app: app, user: user, grant: g, scopes: ar.Scopes, api: api, nonce: ar.Nonce, authTime: authTime,
		idTokenClaims: cr.IDToken, custom: &CustomClaims{IDToken: cr.CustomID, AccessToken: cr.CustomAccess},
		refresh: refresh, roles: roles,
	})
}

var (
	errCodeRaced   = errors.New("code redeemed concurrently")
	errUserGone    = errors.New("user deleted")
	errUserBlocked = errors.New("user blocked")
)

// userActive matches auth requests of user id while that user exists and
// is not blocked: the code is redeemed only if so, in the same statement.
func userActive(id pulid.ID) predicate.AuthRequest {
	return func(s *entsql.Selector) {
		t := entsql.Table(user.Table)
		s.Where(entsql.In(s.C(authrequest.FieldUserRef),
			entsql.Select(t.C(user.FieldID)).From(t).Where(entsql.And(
				entsql.EQ(t.C(user.FieldID), id),
				entsql.EQ(t.C(user.FieldBlocked), false),
			))))
	}
}

// burnCode marks a live code used after an exchange that presented it but
// failed a check (another client, another redirect_uri, a wrong or missing
// PKCE verifier): whoever holds it gets no second try, so a verifier
// cannot be guessed against one code and a code that leaked is dead once
// misused (RFC 6749 §4.1.2, RFC 7636 §4.6; the OpenID conformance suite's
// codereuse modules). A later exchange fails as a reused code does.
func (p *Provider) burnCode(ctx context.Context, ar *ent.AuthRequest) {
	_, err := p.db.AuthRequest.Update().
		Where(authrequest.ID(ar.ID), authrequest.CodeUsedAtIsNil()).
		SetCodeUsedAt(p.now()).
		Save(authz.SystemContext(ctx))
	if err != nil {
		p.log.ErrorContext(ctx, "oidc: consuming a code after a failed exchange", slog.Any("error", err))
	}
}

// revokeCodeGrants revokes what a reused code issued.
func (p *Provider) revokeCodeGrants(ctx context.Context, ar *ent.AuthRequest) {
	_, err := p.db.Grant.Update().
		Where(grant.AuthRequestRef(ar.ID), grant.RevokedAtIsNil()).
		SetRevokedAt(p.now()).
		SetRevokedReason(ReasonCodeReuse).
		Save(authz.SystemContext(ctx))
	if err != nil {
		p.log.ErrorContext(ctx, "oidc: revoking the grant of a reused code", slog.Any("error", err))
	}
	p.verifier.grants.forget()
}

func refreshAbsolute(app *ent.Application) time.Duration {
	if app.RefreshTokenLifetime > 0 {
		return time.Duration(app.RefreshTokenLifetime) * time.Second
	}
	return DefaultRefreshTokenLifetime
}

func refreshIdle(app *ent.Application) time.Duration {
	if app.RefreshTokenIdleLifetime > 0 {
		return time.Duration(app.RefreshTokenIdleLifetime) * time.Second
	}
	return DefaultRefreshTokenIdleLifetime
}

// createRefreshToken stores a new refresh token of g and returns it.
func (p *Provider) createRefreshToken(ctx context.Context, tx *ent.Tx, g *ent.Grant, app *ent.Application, now time.Time) (string, error) {
	raw := newSecret()
	err := tx.RefreshToken.Create().
		SetGrantRef(g.ID).
		SetTokenHash(hashToken(raw)).
		SetIdleExpiresAt(refreshIdleExpiry(app, now, g.ExpiresAt)).
		Exec(authz.SystemContext(ctx))
	return raw, err
}

func (p *Provider) tx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := p.db.Tx(authz.SystemContext(ctx))
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// --- refresh_token ----------------------------------------------------------

// refresh rotates a refresh token: the presented token is marked used and a
// new one issued. Presenting a used token again revokes the whole grant and
// logs ferrt. Every refresh re-checks that the user exists and is not
// blocked; iss, sub and aud stay those of the grant.
func (p *Provider) refresh(w http.ResponseWriter, r *http.Request, app *ent.Application) *oauthError {
	ctx := r.Context()
	sys := authz.SystemContext(ctx)
	raw := r.PostForm.Get("refresh_token")
	if raw == "" {
		return newOAuthError(http.StatusBadRequest, "invalid_request", "refresh_token missing")
	}
	rt, err := p.db.RefreshToken.Query().Where(refreshtoken.TokenHash(hashToken(raw))).WithGrant().Only(sys)
	if ent.IsNotFound(err) {
		return invalidGrant("invalid refresh token")
	}
	if err != nil {
		return p.serverError(ctx, "loading a refresh token", err)
	}
	g := rt.Edges.Grant
	if g == nil || g.ClientID != app.ClientID {
		return invalidGrant("invalid refresh token")
	}
	if g.RevokedAt != nil {
		return invalidGrant("refresh token revoked")
	}
	if rt.UsedAt != nil {
		p.refreshReused(ctx, g, app)
		return invalidGrant("refresh token already used")
	}
	now := p.now()
	if now.After(rt.IdleExpiresAt) || now.After(g.ExpiresAt) {
		return invalidGrant("refresh token expired")
	}
	user, oerr := p.liveUser(ctx, g.UserRef)
	if oerr != nil {
		return oerr
	}
	scopes := g.Scopes
	if s := r.PostForm.Get("scope"); s != "" {
		scopes = nil
		for _, sc := range strings.Fields(s) {
			if !slices.Contains(g.Scopes, sc) {
				return newOAuthError(http.StatusBadRequest, "invalid_scope", "a requested scope was not granted")
			}
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	var api *API
	if len(g.Audience) > 0 {
		if api, err = p.resolveAPI(ctx, g.Audience[0]); errors.Is(err, errUnknownAPI) {
			return invalidGrant("the API no longer exists")
		} else if err != nil {
			return p.serverError(ctx, "resolving an audience", err)
		}
	}
	roles, err := p.roleNames(ctx, user)
	if err != nil {
		return p.serverError(ctx, "loading the user's roles", err)
	}
	custom, err := p.runClaimsHook(ctx, &ClaimsEvent{
		User: user, Client: app, Scopes: scopes, Audience: first(g.Audience),
		Protocol: ProtocolRefreshToken, AuthTime: g.AuthTime, AMR: g.Amr, RequestedScopes: scopes, Roles: roles,
	})
	var deny *DenyError
	if errors.As(err, &deny) {
		return invalidGrant(deny.Reason)
	}
	if err != nil {
		return p.serverError(ctx, "running the claims hook", err)
	}
	var refreshRoles []string
	if custom.Roles != nil {
		refreshRoles = custom.Roles.Apply(roles)
	}
	var next string
	err = p.tx(ctx, func(tx *ent.Tx) error {
		n, err := tx.RefreshToken.Update().
			Where(refreshtoken.ID(rt.ID), refreshtoken.UsedAtIsNil()).
			SetUsedAt(now).
			Save(sys)
		if err != nil {
			return err
		}
		if n == 0 {
			return errCodeRaced
		}
		next, err = p.createRefreshToken(ctx, tx, g, app, now)
		return err
	})
	if errors.Is(err, errCodeRaced) {
		p.refreshReused(ctx, g, app)
		return invalidGrant("refresh token already used")
	}
	if err != nil {
		return p.serverError(ctx, "rotating a refresh token", err)
	}
	return p.respondTokens(ctx, w, &issue{
		app: app, user: user, grant: g, scopes: scopes, api: api, authTime: g.AuthTime,
		custom: custom, refresh: next, roles: refreshRoles,
	})
}

// refreshReused revokes the grant of a reused refresh token and logs ferrt.
// liveUser loads the user a code or refresh token was issued to; a deleted
// or blocked user is invalid_grant.
func (p *Provider) liveUser(ctx context.Context, ref pulid.ID) (*ent.User, *oauthError) {
	user, err := p.db.User.Get(authz.SystemContext(ctx), ref)
	if ent.IsNotFound(err) {
		return nil, invalidGrant("the user no longer exists")
	}
	if err != nil {
		return nil, p.serverError(ctx, "loading a user", err)
	}
	if user.Blocked {
		return nil, invalidGrant("user is blocked")
	}
	return user, nil
}

func (p *Provider) refreshReused(ctx context.Context, g *ent.Grant, app *ent.Application) {
	sys := authz.SystemContext(ctx)
	if err := p.revokeGrant(ctx, g.ID, ReasonRefreshTokenReuse); err != nil {
		p.log.ErrorContext(ctx, "oidc: revoking a grant after refresh token reuse", slog.Any("error", err))
	}
	userID := ""
	if u, err := p.db.User.Get(sys, g.UserRef); err == nil {
		userID = u.UserID
	}
	err := logs.Write(ctx, p.db, logs.Event{
		Type:        LogTypeRefreshTokenReuse,
		Description: "Unsuccessful Refresh Token exchange, reused refresh token detected",
		ClientID:    app.ClientID,
		ClientName:  app.Name,
		UserID:      userID,
		Details:     map[string]any{"grant_id": string(g.ID)},
	})
	if err != nil {
		p.log.ErrorContext(ctx, "oidc: writing a log event", slog.Any("error", err))
	}
}

// --- issuing ------------------------------------------------------------------

// issue is one token response for a user grant.
type issue struct {
	app      *ent.Application
	user     *ent.User
	grant    *ent.Grant
	scopes   []string
	api      *API
	nonce    string
	authTime time.Time
	// idTokenClaims are the names the `claims` parameter asked for in the
	// ID token.
	idTokenClaims []string
	custom        *CustomClaims
	refresh       string
	// roles, when not nil, replace the user's stored roles (a rule's roles
	// command) for the permissions of an API that enforces policies.
	roles []string
}

// respondTokens signs the access token (and the ID token when openid was
// granted) and writes the token response.
//
// For an API that enforces policies the user's permissions are read again
// at every issuance: the token's API scopes are the grant's that are still
// permissions (a permission or role removed since the login is gone from
// the next refreshed token), and the _authz dialects carry them all.
func (p *Provider) respondTokens(ctx context.Context, w http.ResponseWriter, in *issue) *oauthError {
	var perms []string
	if p.enforced(in.api) {
		var err error
		if perms, err = p.permissions(ctx, in.user, in.api, in.roles); err != nil {
			return p.serverError(ctx, "loading the user's permissions", err)
		}
		in.scopes = slices.DeleteFunc(slices.Clone(in.scopes), func(s string) bool {
			return !slices.Contains(oidcScopes, s) && !slices.Contains(perms, s)
		})
	}
	now := p.now()
	lifetime := DefaultAccessTokenLifetime
	var aud []string
	if in.api != nil {
		lifetime = in.api.TokenLifetime
		aud = append(aud, in.api.Identifier)
	}
	openid := slices.Contains(in.scopes, oidc.ScopeOpenID)
	if in.api == nil || openid {
		aud = append(aud, p.userinfoAudience)
	}
	exp := now.Add(lifetime)
	var accessToken string
	var err error
	if in.api == nil && (in.custom == nil || len(in.custom.AccessToken) == 0) {
		// Good only at /userinfo: an opaque token (opaque.go), no
		// signature. When the claims hook (rules) put claims in the access
		// token, it stays a JWT so that they remain readable, as before.
		accessToken, err = p.opaque.seal(&opaqueClaims{
			Grant: string(in.grant.ID), JTI: newTokenID(), Subject: in.user.UserID, ClientID: in.app.ClientID,
			Scope: strings.Join(in.scopes, " "), IssuedAt: now.Unix(), Expiry: exp.Unix(),
		})
		if err != nil {
			return p.serverError(ctx, "sealing an access token", err)
		}
	} else {
		at := map[string]any{}
		if in.custom != nil {
			for k, v := range in.custom.AccessToken {
				at[k] = v
			}
		}
		at["iss"] = p.issuer
		at["sub"] = in.user.UserID
		at["aud"] = aud
		at["exp"] = exp.Unix()
		at["iat"] = now.Unix()
		at["jti"] = grantJTI(string(in.grant.ID))
		at["client_id"] = in.app.ClientID
		at["scope"] = strings.Join(in.scopes, " ")
		if in.api.withAZP() {
			at["azp"] = in.app.ClientID
		}
		if perms != nil && in.api.withPermissions() {
			at["permissions"] = perms
		}
		accessToken, err = p.signAlg(ctx, apiAlg(in.api), typeAccessToken, at)
		if err != nil {
			return p.serverError(ctx, "signing an access token", err)
		}
	}
	resp := map[string]any{
		"access_token": accessToken,
		"token_type":   oidc.BearerToken,
		"expires_in":   int64(lifetime / time.Second),
		"scope":        strings.Join(in.scopes, " "),
	}
	if openid {
		idLifetime := DefaultIDTokenLifetime
		if in.app.IDTokenLifetime > 0 {
			idLifetime = time.Duration(in.app.IDTokenLifetime) * time.Second
		}
		idt := scopedClaims(in.user, in.scopes, in.idTokenClaims)
		if in.custom != nil {
			for k, v := range in.custom.IDToken {
				idt[k] = v
			}
		}
		idt["iss"] = p.issuer
		idt["sub"] = in.user.UserID
		idt["aud"] = in.app.ClientID
		idt["azp"] = in.app.ClientID
		idt["exp"] = now.Add(idLifetime).Unix()
		idt["iat"] = now.Unix()
		idt["auth_time"] = in.authTime.Unix()
		idt["at_hash"] = leftHalfHash(accessToken)
		if in.nonce != "" {
			idt["nonce"] = in.nonce
		}
		if in.grant.SessionRef != nil {
			idt["sid"] = string(*in.grant.SessionRef)
		}
		// How the user authenticated (RFC 8176), at the login and at every
		// refresh of its grant.
		if len(in.grant.Amr) > 0 {
			idt["amr"] = in.grant.Amr
		}
		if acr := acrOf(in.grant.Amr); acr != "" {
			idt["acr"] = acr
		}
		idToken, err := p.sign(ctx, typeIDToken, idt)
		if err != nil {
			return p.serverError(ctx, "signing an ID token", err)
		}
		resp["id_token"] = idToken
	}
	if in.refresh != "" {
		resp["refresh_token"] = in.refresh
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
