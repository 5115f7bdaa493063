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

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
)

// The client_credentials grant. It used to go through zitadel's
// op.Exchange and the Storage in storage.go; it is served here directly
// because machine tokens are the hottest path of the provider and op spent
// a database read, a signer construction and several generic layers on each:
// the client comes from clients.Cache (the secret's SHA-256 compared in
// constant time with the stored hash) and the token is signed by the cached
// signer. Answers are those op gave: the same token (header typ JWT, the
// same claims), the same response and the same error codes and statuses.

// ccTokenType is the JWT header typ of client_credentials tokens (op's).
const ccTokenType = "JWT"

// ccClaims are a client_credentials access token's claims, in the order op
// wrote them (alphabetical: op marshalled a map).
type ccClaims struct {
	Audience []string `json:"aud"`
	AZP      string   `json:"azp"`
	ClientID string   `json:"client_id"`
	Expiry   int64    `json:"exp"`
	GTY      string   `json:"gty"`
	IssuedAt int64    `json:"iat"`
	Issuer   string   `json:"iss"`
	JTI      string   `json:"jti"`
	NotBef   int64    `json:"nbf"`
	// Permissions are the granted scopes, for an API whose dialect is an
	// _authz one.
	Permissions *[]string `json:"permissions,omitempty"`
	Scope       string    `json:"scope"`
	Subject     string    `json:"sub"`
}

// ccResponse is the token response (op's oidc.AccessTokenResponse fields).
type ccResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   uint64 `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// clientCredentials serves the client_credentials grant. It refuses two
// client authentication methods in one request and client assertions;
// both client_secret_basic and client_secret_post are accepted from every
// confidential client. Only the body's parameters count.
func (p *Provider) clientCredentials(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.PostForm.Has("client_assertion") || r.PostForm.Has("client_assertion_type") {
		p.metrics.TokenRefused(string(oidc.GrantTypeClientCredentials), "invalid_client")
		writeOAuthError(w, newOAuthError(http.StatusUnauthorized, "invalid_client", "supported client authentication: client_secret_basic, client_secret_post"))
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	basicID, basicSecret, hasBasic := r.BasicAuth()
	if hasBasic {
		if r.PostForm.Has("client_secret") {
			p.metrics.TokenRefused(string(oidc.GrantTypeClientCredentials), "invalid_request")
			writeOAuthError(w, newOAuthError(http.StatusBadRequest, "invalid_request", "client authentication must not use more than one method"))
			return
		}
		dID, err1 := url.QueryUnescape(basicID)
		if id != "" && (err1 != nil || dID != id) {
			p.metrics.TokenRefused(string(oidc.GrantTypeClientCredentials), "invalid_request")
			writeOAuthError(w, newOAuthError(http.StatusBadRequest, "invalid_request", "client_id differs from the authenticated client"))
			return
		}
		dSecret, err2 := url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			p.ccError(w, r, true, newOAuthError(http.StatusUnauthorized, "invalid_client", "invalid basic auth header"))
			return
		}
		id, secret = dID, dSecret
	}
	app, err := p.clients.Authenticate(ctx, id, secret)
	if errors.Is(err, clients.ErrInvalidClient) {
		// The same answer for unknown clients, wrong secrets and public
		// clients (which hold no secret).
		p.ccError(w, r, hasBasic, &oauthError{status: http.StatusUnauthorized, Code: "invalid_client"})
		return
	}
	if err != nil {
		if oe := p.unavailableError(ctx, "authenticating a client", err); oe != nil {
			p.ccError(w, r, hasBasic, oe)
			return
		}
		p.log.ErrorContext(ctx, "oidc: authenticating a client", slog.Any("error", err))
		p.ccError(w, r, hasBasic, &oauthError{status: http.StatusInternalServerError, Code: "server_error"})
		return
	}
	// client_credentials counts only for confidential types (m2m,
	// regular_web), whatever is stored.
	if !clients.IsConfidential(string(app.Type)) || !slices.Contains(app.GrantTypes, string(oidc.GrantTypeClientCredentials)) {
		p.ccError(w, r, hasBasic, &oauthError{status: http.StatusBadRequest, Code: "unauthorized_client"})
		return
	}
	var requested []string
	if vs := r.PostForm["scope"]; len(vs) > 0 {
		requested = strings.Split(vs[len(vs)-1], " ")
	}
	audiences := append(slices.Clone(r.PostForm["audience"]), r.PostForm["resource"]...)
	var (
		scopes      []string
		oe          *oauthError
		audience    = p.managementAudience
		lifetime    = p.accessTokenLifetime
		permissions *[]string
		alg         = jose.RS256
	)
	if customAudience(audiences, p.managementAudience) {
		var api *API
		api, scopes, oe = p.clientCredentialsAPI(ctx, app, audiences, requested)
		if oe == nil {
			audience, lifetime, alg = api.Identifier, api.TokenLifetime, apiAlg(api)
			if api.withPermissions() {
				permissions = &scopes
			}
		}
	} else {
		scopes, oe = p.clientCredentialsScopes(app, audiences, requested)
	}
	if oe != nil {
		p.ccError(w, r, hasBasic, oe)
		return
	}
	now := p.now().UTC()
	exp := now.Add(lifetime)
	scope := strings.Join(scopes, " ")
	payload, err := json.Marshal(&ccClaims{
		Audience:    []string{audience},
		Permissions: permissions,
		AZP:         app.ClientID,
		ClientID:    app.ClientID,
		Expiry:      exp.Unix(),
		GTY:         GrantTypeClientCredentialsClaim,
		IssuedAt:    now.Unix(),
		Issuer:      p.issuer,
		JTI:         p.verifier.machines.jti(app),
		NotBef:      now.Unix(),
		Scope:       scope,
		Subject:     app.ClientID + ClientSubjectSuffix,
	})
	var token string
	if err == nil {
		token, err = p.signPayloadAlg(ctx, alg, ccTokenType, payload)
	}
	if err != nil {
		if oe := p.unavailableError(ctx, "signing a client_credentials token", err); oe != nil {
			p.ccError(w, r, hasBasic, oe)
			return
		}
		p.log.ErrorContext(ctx, "oidc: signing a client_credentials token", slog.Any("error", err))
		p.ccError(w, r, hasBasic, &oauthError{status: http.StatusInternalServerError, Code: "server_error"})
		return
	}
	p.metrics.TokenIssued(string(oidc.GrantTypeClientCredentials))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&ccResponse{
		AccessToken: token,
		TokenType:   oidc.BearerToken,
		ExpiresIn:   uint64(time.Until(exp) / time.Second),
		Scope:       scope,
	})
}

// ccError answers a refused client_credentials request; a failed Basic
// authentication gets a WWW-Authenticate challenge (RFC 6749 §5.2).
func (p *Provider) ccError(w http.ResponseWriter, r *http.Request, basic bool, e *oauthError) {
	level := slog.LevelInfo
	if e.Code == "invalid_client" {
		level = slog.LevelWarn
	}
	if e.status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	p.log.Log(r.Context(), level, "oidc: client_credentials refused", slog.String("error", e.Code))
	p.metrics.TokenRefused(string(oidc.GrantTypeClientCredentials), e.Code)
	e.challenge = basic && e.status == http.StatusUnauthorized
	if e.challenge {
		w.Header().Set("WWW-Authenticate", `Basic realm="token", charset="UTF-8"`)
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.status, e)
}

// customAudience reports whether the request names an audience other than
// the management API (only string comparisons: the management path reads
// nothing more).
func customAudience(audiences []string, management string) bool {
	for _, a := range audiences {
		if a != management {
			return true
		}
	}
	return false
}

// clientCredentialsAPI decides the API and scopes of a client_credentials
// token for a registered API (Auth0's client grants):
//   - audience: one registered API; several different ones, or an unknown
//     one, are invalid_target (RFC 8707);
//   - the client needs a client grant for the API, else access_denied (403,
//     as Auth0);
//   - scope: omitted means every scope of the grant; a requested scope
//     outside it is invalid_scope.
func (p *Provider) clientCredentialsAPI(ctx context.Context, app *ent.Application, audiences, requested []string) (*API, []string, *oauthError) {
	identifier := audiences[0]
	for _, a := range audiences[1:] {
		if a != identifier {
			return nil, nil, newOAuthError(http.StatusBadRequest, "invalid_target", "a token is for one audience")
		}
	}
	api, err := p.resolveAPI(ctx, identifier)
	if errors.Is(err, errUnknownAPI) {
		return nil, nil, newOAuthError(http.StatusBadRequest, "invalid_target", "unknown audience")
	}
	if err != nil {
		return nil, nil, p.serverError(ctx, "resolving an audience", err)
	}
	var grant []string
	ok := false
	if p.authorization != nil && api.ID != "" {
		if grant, ok, err = p.authorization.ClientScopes(ctx, app.ID, api.ID); err != nil {
			return nil, nil, p.serverError(ctx, "loading a client grant", err)
		}
	}
	if !ok {
		return nil, nil, newOAuthError(http.StatusForbidden, "access_denied",
			`Client is not authorized to access "`+identifier+`". You need to create a "client-grant" associated to this API.`)
	}
	// Only scopes the API declares now: a grant written before a scope was
	// removed from the API must not issue it (nor a later namesake).
	grant = slices.DeleteFunc(slices.Clone(grant), func(s string) bool { return !slices.Contains(api.Scopes, s) })
	if requested == nil {
		return api, nonNilStrings(grant), nil
	}
	var granted []string
	for _, sc := range requested {
		if sc == "" || slices.Contains(granted, sc) {
			continue
		}
		if !slices.Contains(grant, sc) {
			return nil, nil, newOAuthError(http.StatusBadRequest, "invalid_scope", "a requested scope is unknown or not granted to this client")
		}
		granted = append(granted, sc)
	}
	if len(granted) == 0 {
		return nil, nil, newOAuthError(http.StatusBadRequest, "invalid_scope", "empty scope")
	}
	return api, granted, nil
}

// clientCredentialsScopes decides the scopes of a client_credentials token
// for the management API (audience omitted or the management API's):
//   - scope: omitted means every scope the client may be granted (none at
//     all is access_denied); a requested scope outside them is invalid_scope.
func (p *Provider) clientCredentialsScopes(app *ent.Application, audiences, requested []string) ([]string, *oauthError) {
	grantable := grantableScopes(app)
	if requested == nil {
		if len(grantable) == 0 {
			return nil, newOAuthError(http.StatusBadRequest, "access_denied", "the client may not be granted any scope of the management API")
		}
		return grantable, nil
	}
	var granted []string
	for _, sc := range requested {
		if sc == "" || slices.Contains(granted, sc) {
			continue
		}
		if !slices.Contains(grantable, sc) {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_scope", "a requested scope is unknown or not granted to this client")
		}
		granted = append(granted, sc)
	}
	if len(granted) == 0 {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_scope", "empty scope")
	}
	return granted, nil
}

// grantableScopes is clients.GrantableScopes without a copy: the result is
// only read.
func grantableScopes(app *ent.Application) []string {
	if app.AllManagementScopes {
		return allManagementScopes
	}
	return app.ManagementScopes
}

// allManagementScopes is the grantable set of an all-scopes client.
var allManagementScopes = authz.ManagementScopes()
