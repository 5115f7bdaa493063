package authz

import "slices"

// ManagementAudience returns the management API identifier for an issuer
// ("https://id.example.com/" → "https://id.example.com/api/v2/"), the `aud`
// every management token must carry.
func ManagementAudience(issuer string) string { return issuer + "api/v2/" }

// managementScopes lists every management API scope (docs/SCOPES.md explains
// each). Later features append theirs here; the bootstrap admin client holds
// all of them, including ones added after it was created.
var managementScopes = []string{
	"read:users", "create:users", "update:users", "delete:users",
	"read:connections", "create:connections", "update:connections", "delete:connections",
	"read:clients", "create:clients", "update:clients", "delete:clients",
	"read:logs",
	"read:resource_servers", "create:resource_servers", "update:resource_servers", "delete:resource_servers",
	"update:signing_keys",
	"create:user_tickets",
	"read:user_idp_tokens", // upstream IdP tokens on identities (graph/linking.go)
	"read:rules", "create:rules", "update:rules", "delete:rules",
	"read:admins", "update:admins",
	"read:roles", "create:roles", "update:roles", "delete:roles",
	"read:role_members", "create:role_members", "delete:role_members",
	"read:client_grants", "create:client_grants", "update:client_grants", "delete:client_grants",
	// Multi-factor authentication: the tenant's factors and policy, and
	// enrollment links (Auth0's names).
	"read:guardian_factors", "update:guardian_factors", "create:guardian_enrollment_tickets",
}

// Self-service scopes: a signed-in user's token for the management API may
// read their own profile and edit their own user_metadata (docs/MANAGEMENT.md).
const (
	ScopeReadCurrentUser           = "read:current_user"
	ScopeUpdateCurrentUserMetadata = "update:current_user_metadata"
)

// SelfServiceScopes are granted to users, never to machine clients.
var SelfServiceScopes = []string{ScopeReadCurrentUser, ScopeUpdateCurrentUserMetadata}

// ManagementScopes returns a copy of every management scope.
func ManagementScopes() []string { return slices.Clone(managementScopes) }

// IsManagementScope reports whether s is a known management scope.
func IsManagementScope(s string) bool { return slices.Contains(managementScopes, s) }
