package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// oidcScopes are the OpenID Connect scopes the provider knows (docs/SCOPES.md).
var oidcScopes = []string{"openid", "profile", "email", "phone", "address", "offline_access"}

// scopeClaims maps each OIDC scope to the standard claims it releases (OIDC
// Core §5.4, docs/SCOPES.md). Filtering is strict: a standard claim is released only
// when its scope was granted or the `claims` parameter asked for it by name.
var scopeClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"phone":   {"phone_number", "phone_number_verified"},
	"address": {"address"},
}

// standardClaimScope is the reverse of scopeClaims.
var standardClaimScope = func() map[string]string {
	m := map[string]string{}
	for sc, names := range scopeClaims {
		for _, n := range names {
			m[n] = sc
		}
	}
	return m
}()

// reservedClaims may never be set by the claims hook: registered JWT and
// OIDC claims, the provider's own, and Auth0's restricted names (docs/SCOPES.md).
// Standard profile claims are reserved too (standardClaimScope).
var reservedClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
	"azp": true, "nonce": true, "auth_time": true, "at_hash": true, "c_hash": true, "acr": true,
	"amr": true, "sid": true, "scope": true, "client_id": true, "cnf": true, "act": true,
	"may_act": true, "typ": true, "gty": true, "permissions": true, "groups": true, "roles": true,
	"org_id": true, "org_name": true, "internalService": true, "x5t#S256": true,
}

// maxCustomClaimsBytes bounds the custom claims of one token (docs/SCOPES.md).
const maxCustomClaimsBytes = 100 << 10

// The claims hook's types are package authn's, where a login is decided;
// these names keep the provider's Config readable.
const (
	ProtocolOIDCBasicProfile = authn.ProtocolOIDCBasicProfile
	ProtocolRefreshToken     = authn.ProtocolRefreshToken
)

type (
	// ClaimsEvent is what the claims hook is told about a token issuance.
	ClaimsEvent = authn.ClaimsEvent
	// CustomClaims are the claims the hook adds (authn.CustomClaims).
	CustomClaims = authn.CustomClaims
	// RolesChange adds and removes roles by name for one issuance.
	RolesChange = authn.RolesChange
	// ClaimsHook is the rules engine's extension point (authn.ClaimsHook).
	ClaimsHook = authn.ClaimsHook
	// DenyError is returned by a ClaimsHook to refuse the login or refresh.
	DenyError = authn.DenyError
)

// API is a resource server an access token can be issued for.
type API struct {
	Identifier         string
	Scopes             []string
	AllowOfflineAccess bool
	TokenLifetime      time.Duration
	// Management is true for the built-in management API ({issuer}api/v2/).
	Management bool
	// ID is the resource server's node id ("" for the management API
	// without a stored row).
	ID pulid.ID
	// EnforcePolicies limits a user token's API scopes to the user's
	// permissions (RBAC, Config.Authorization).
	EnforcePolicies bool
	// TokenDialect is the access token's shape: DialectAccessToken (the
	// default), DialectAccessTokenAuthz, DialectRFC9068 or
	// DialectRFC9068Authz.
	TokenDialect string
	// IntrospectionClients are the client_ids besides a token's own client
	// that may introspect tokens issued for this API.
	IntrospectionClients []string
	// SigningAlg is the JWS algorithm of the API's access tokens: RS256
	// (also when empty), ES256 or EdDSA.
	SigningAlg string
}

// Token dialects (Auth0's token_dialect). Every dialect is an RFC 9068
// token (header typ at+jwt, client_id, iss, sub, aud, exp, iat, jti,
// scope); the access_token dialects add azp (the client_id) as Auth0's
// classic tokens do, and the _authz dialects add permissions.
const (
	DialectAccessToken      = "access_token"
	DialectAccessTokenAuthz = "access_token_authz"
	DialectRFC9068          = "rfc9068_profile"
	DialectRFC9068Authz     = "rfc9068_profile_authz"
)

// withPermissions reports whether the API's tokens carry a permissions
// claim.
func (a *API) withPermissions() bool {
	return a != nil && !a.Management && a.EnforcePolicies &&
		(a.TokenDialect == DialectAccessTokenAuthz || a.TokenDialect == DialectRFC9068Authz)
}

// withAZP reports whether the API's user tokens carry azp.
func (a *API) withAZP() bool {
	return a != nil && !a.Management && (a.TokenDialect == "" || a.TokenDialect == DialectAccessToken || a.TokenDialect == DialectAccessTokenAuthz)
}

// Authorization answers the token endpoint's RBAC questions (package rbac's
// Authorizer). Ids are node ids (user, resource server, application).
type Authorization interface {
	// RoleNames returns the names of the user's roles.
	RoleNames(ctx context.Context, user pulid.ID) ([]string, error)
	// Permissions returns the user's effective permissions on the API;
	// roles, when not nil, replace the user's stored roles by name.
	Permissions(ctx context.Context, user, api pulid.ID, roles []string) ([]string, error)
	// ClientScopes returns the scopes the client's grant for the API gives;
	// ok is false without a grant.
	ClientScopes(ctx context.Context, client, api pulid.ID) (scopes []string, ok bool, err error)
}

// UserScopesFunc decides which requested API scopes a user is granted.
// requested holds only scopes the API defines; an error fails the login. It
// is not asked for APIs that enforce policies when Config.Authorization is
// set: the user's permissions decide there.
type UserScopesFunc func(ctx context.Context, user *ent.User, client *ent.Application, api *API, requested []string) ([]string, error)

// DefaultUserAPIScopes grants, for the management API, only the self-service
// scopes (read:current_user, update:current_user_metadata), and for any
// other API every requested scope it defines.
func DefaultUserAPIScopes(_ context.Context, _ *ent.User, _ *ent.Application, api *API, requested []string) ([]string, error) {
	if api.Management {
		var out []string
		for _, s := range requested {
			if slices.Contains(authz.SelfServiceScopes, s) {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return requested, nil
}

// userClaims returns every standard claim the user has a value for.
func userClaims(u *ent.User) map[string]any {
	m := map[string]any{}
	set := func(k string, v *string) {
		if v != nil && *v != "" {
			m[k] = *v
		}
	}
	set("name", u.Name)
	set("given_name", u.GivenName)
	set("family_name", u.FamilyName)
	set("nickname", u.Nickname)
	set("preferred_username", u.Username)
	set("picture", u.Picture)
	m["updated_at"] = u.UpdatedAt.Unix()
	if u.Email != nil && *u.Email != "" {
		m["email"] = *u.Email
		m["email_verified"] = u.EmailVerified
	}
	if u.PhoneNumber != nil && *u.PhoneNumber != "" {
		m["phone_number"] = *u.PhoneNumber
		m["phone_number_verified"] = u.PhoneVerified
	}
	return m
}

// scopedClaims returns the standard claims of u that scopes allow, plus
// those named in requested (the `claims` parameter's member for this token).
func scopedClaims(u *ent.User, scopes []string, requested []string) map[string]any {
	all := userClaims(u)
	out := map[string]any{}
	for name, v := range all {
		sc := standardClaimScope[name]
		if slices.Contains(scopes, sc) || slices.Contains(requested, name) {
			out[name] = v
		}
	}
	return out
}

// claimsRequest is the stored form of the OIDC `claims` parameter and the
// hook's output, kept together in AuthRequest.claims_request.
type claimsRequest struct {
	// UserInfo and IDToken are the claim names the `claims` parameter asked
	// for in each place.
	UserInfo []string `json:"userinfo,omitempty"`
	IDToken  []string `json:"id_token,omitempty"`
	// Custom is the claims hook's output at login.
	CustomID     map[string]any `json:"custom_id_token,omitempty"`
	CustomAccess map[string]any `json:"custom_access_token,omitempty"`
	// Roles is the change a rule made to the roles for this login (nil: the
	// user's stored roles), applied at the code exchange to the user's roles
	// as stored then, for the permissions computed there.
	Roles *RolesChange `json:"roles_change,omitempty"`
}

var errBadClaimsParam = errors.New("claims parameter must be a JSON object with userinfo and/or id_token objects")

// parseClaimsParam parses the `claims` request parameter (OIDC Core §5.5).
// Only the names matter: values and `essential` are honoured by releasing
// the claim when the user has it.
func parseClaimsParam(raw string) (*claimsRequest, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return nil, errBadClaimsParam
	}
	cr := &claimsRequest{}
	for member, body := range doc {
		var names map[string]json.RawMessage
		if err := json.Unmarshal(body, &names); err != nil {
			return nil, errBadClaimsParam
		}
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		slices.Sort(list)
		switch member {
		case "userinfo":
			cr.UserInfo = list
		case "id_token":
			cr.IDToken = list
		}
	}
	return cr, nil
}

func (cr *claimsRequest) toMap() map[string]any {
	b, _ := json.Marshal(cr)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func claimsRequestFrom(m map[string]any) *claimsRequest {
	cr := &claimsRequest{}
	if len(m) == 0 {
		return cr
	}
	b, err := json.Marshal(m)
	if err == nil {
		_ = json.Unmarshal(b, cr)
	}
	return cr
}

// filterCustom drops reserved and forbidden names, and everything when the
// result is too large.
func filterCustom(in map[string]any) map[string]any {
	if len(in) == 0 {
		return nil
	}
	out := map[string]any{}
	for k, v := range in {
		if k == "" || reservedClaims[k] || standardClaimScope[k] != "" || forbiddenNamespace(k) {
			continue
		}
		out[k] = v
	}
	if b, err := json.Marshal(out); err != nil || len(b) > maxCustomClaimsBytes {
		return nil
	}
	return out
}

func forbiddenNamespace(name string) bool {
	l := strings.ToLower(name)
	if strings.HasPrefix(l, "urn:auth0") {
		return true
	}
	for _, d := range []string{"auth0.com", "webtask.io", "webtask.run"} {
		if strings.Contains(l, d) {
			return true
		}
	}
	return false
}

// runClaimsHook calls the hook (if any) and filters its output.
func (p *Provider) runClaimsHook(ctx context.Context, ev *ClaimsEvent) (*CustomClaims, error) {
	if p.claimsHook == nil {
		return &CustomClaims{}, nil
	}
	c, err := p.claimsHook(ctx, ev)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return &CustomClaims{}, nil
	}
	return &CustomClaims{IDToken: filterCustom(c.IDToken), AccessToken: filterCustom(c.AccessToken), Primary: c.Primary, Roles: c.Roles, RequireMFA: c.RequireMFA}, nil
}
