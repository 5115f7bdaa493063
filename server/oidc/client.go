package oidc

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
)

// DefaultIDTokenLifetime is the ID token lifetime (36,000 s, as Auth0);
// Application.id_token_lifetime overrides it per client.
const DefaultIDTokenLifetime = 36000 * time.Second

// client adapts an ent Application to op.Client. op only serves the
// client_credentials grant; the user flows (authorize.go, token.go) read the
// Application directly.
type client struct{ app *ent.Application }

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.app.ClientID }
func (c *client) RedirectURIs() []string           { return c.app.RedirectUris }
func (c *client) PostLogoutRedirectURIs() []string { return c.app.LogoutUrls }

func (c *client) ApplicationType() op.ApplicationType {
	switch string(c.app.Type) {
	case clients.TypeSPA:
		return op.ApplicationTypeUserAgent
	case clients.TypeNative:
		return op.ApplicationTypeNative
	default: // m2m, regular_web: confidential clients
		return op.ApplicationTypeWeb
	}
}

// AuthMethod reports client_secret_basic for confidential clients. op does
// not enforce it; the token endpoint accepts client_secret_basic and
// client_secret_post from every confidential client (see tokenInterceptor).
func (c *client) AuthMethod() oidc.AuthMethod {
	if clients.IsConfidential(string(c.app.Type)) {
		return oidc.AuthMethodBasic
	}
	return oidc.AuthMethodNone
}

// ResponseTypes is empty: op's authorization endpoint is not used
// (Provider.serveAuthorize is).
func (c *client) ResponseTypes() []oidc.ResponseType { return nil }

// GrantTypes returns the client's registered grant types. client_credentials
// counts only for confidential types (m2m, regular_web), whatever is stored,
// so op answers unauthorized_client to any other.
func (c *client) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, 0, len(c.app.GrantTypes))
	for _, g := range c.app.GrantTypes {
		if g == string(oidc.GrantTypeClientCredentials) && !clients.IsConfidential(string(c.app.Type)) {
			continue
		}
		out = append(out, oidc.GrantType(g))
	}
	return out
}

// LoginURL is unused by op here (Provider.LoginURL builds
// {issuer}login?req=<id>); no op route reaches it.
func (c *client) LoginURL(string) string { return "" }

// AccessTokenType is always JWT: access tokens are RFC 9068-style JWTs that
// resource servers (the management API first) verify locally.
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

func (c *client) IDTokenLifetime() time.Duration { return DefaultIDTokenLifetime }
func (c *client) DevMode() bool                  { return false }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed admits no scope beyond op's standard ones in authorization
// requests (none exist yet).
func (c *client) IsScopeAllowed(string) bool { return false }

func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }

// ClockSkew is zero: iat and nbf are the real issue time.
func (c *client) ClockSkew() time.Duration { return 0 }
