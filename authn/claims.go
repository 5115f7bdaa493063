package authn

import (
	"context"
	"slices"
	"time"

	"github.com/authgraph/authgraph/ent"
)

// Protocols passed to the rules (Auth0's event.transaction.protocol).
const (
	ProtocolOIDCBasicProfile = "oidc-basic-profile"
	ProtocolRefreshToken     = "oauth2-refresh-token"
)

// ClaimsEvent is what the rules are told about a token issuance.
type ClaimsEvent struct {
	User   *ent.User
	Client *ent.Application
	// Scopes are the granted scopes (OIDC and API scopes).
	Scopes []string
	// Audience is the API identifier, "" when the access token is for
	// /userinfo only.
	Audience string
	// Protocol is ProtocolOIDCBasicProfile at login (after the user
	// authenticated, before the code is issued) or ProtocolRefreshToken.
	Protocol   string
	Connection string
	AuthTime   time.Time
	AMR        []string
	// RequestedScopes are the scopes the client asked for (at login, the
	// authorization request's; at refresh, the refresh request's).
	RequestedScopes []string
	// RedirectURI is the authorization request's redirect_uri ("" at
	// refresh).
	RedirectURI string
	// Roles are the names of the roles assigned to the user (Auth0's
	// event.authorization.roles); nil without RBAC.
	Roles []string
}

// CustomClaims are the claims the rules add. Names must be namespaced (a URL
// or URN is recommended); reserved names (registered JWT/OIDC claims,
// standard profile claims, Auth0's restricted names) and Auth0 namespaces
// are dropped silently, as is everything when the total exceeds 100 KB.
type CustomClaims struct {
	IDToken     map[string]any
	AccessToken map[string]any
	// Primary, at login only, continues the login as another user: the one
	// the user who authenticated was just linked to (a rule's link_to).
	Primary *ent.User
	// Roles, when not nil, changes the roles of the user the tokens are
	// issued to (the Primary after a link, whose own roles it changes, not
	// those of the user who authenticated) for this issuance only (a rule's
	// roles command): the token's API scopes and permissions are computed
	// with them; nothing is stored.
	Roles *RolesChange
	// RequireMFA, at login only, asks for a second factor before the code
	// is issued (a rule's require_mfa). Nothing the rules changed has been
	// stored yet when it is set: the pipeline runs again once the factor is
	// passed.
	RequireMFA bool
}

// RolesChange adds and removes roles by name: applied to a role set S it
// gives (S ∪ Add) \ Remove.
type RolesChange struct {
	Add    []string `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// Apply returns roles changed by c, sorted, without duplicates, never nil.
func (c *RolesChange) Apply(roles []string) []string {
	out := slices.Clone(roles)
	for _, n := range c.Add {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	out = slices.DeleteFunc(out, func(n string) bool { return slices.Contains(c.Remove, n) })
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// ClaimsHook is the rules engine's extension point: it runs once per login
// (before the code is issued; a DenyError is sent to the client's
// redirect_uri as access_denied) and once per refresh (a DenyError is
// invalid_grant). Any other error fails the request with server_error.
type ClaimsHook func(ctx context.Context, ev *ClaimsEvent) (*CustomClaims, error)

// DenyError is returned by a ClaimsHook to refuse the login or refresh.
type DenyError struct {
	// Reason is shown to the client as error_description.
	Reason string
}

func (e *DenyError) Error() string { return "denied: " + e.Reason }
