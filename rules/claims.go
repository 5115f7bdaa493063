package rules

import (
	"net/url"
	"slices"
	"strings"
)

// restrictedClaims can never be set by a rule, namespaced or not: they are
// the registered JWT/OIDC claims and the names that carry authorization
// (docs/SCOPES.md). Setting them would let a rule widen or forge a token.
var restrictedClaims = map[string]struct{}{}

func init() {
	for _, c := range []string{
		// JWT (RFC 7519) and RFC 9068 access tokens
		"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "scp",
		// OIDC ID tokens
		"azp", "nonce", "auth_time", "acr", "amr", "at_hash", "c_hash", "s_hash", "sid", "cnf",
		"sub_jwk", "updated_at",
		// authorization and tenant context
		"permissions", "roles", "groups", "gty", "org_id", "org_name", "internalService",
		"x5t#S256", "act", "may_act", "tenant",
	} {
		restrictedClaims[strings.ToLower(c)] = struct{}{}
	}
}

// forbiddenHosts are namespaces reserved by Auth0, refused as in the
// reference so that migrated rules behave the same.
var forbiddenHosts = []string{"auth0.com", "webtask.io", "webtask.run"}

// ClaimAllowed reports whether a rule may set a custom claim with this name:
// it must be a URL with a host (https://example.com/roles) or a URN
// (urn:example:roles), not restricted, and not in an Auth0 namespace.
func ClaimAllowed(name string) bool {
	lower := strings.ToLower(name)
	if _, ok := restrictedClaims[lower]; ok {
		return false
	}
	switch {
	case strings.HasPrefix(lower, "urn:"):
		nid, nss, ok := strings.Cut(lower[len("urn:"):], ":")
		if !ok || nid == "" || nss == "" {
			return false
		}
		return nid != "auth0"
	case strings.HasPrefix(lower, "https://"), strings.HasPrefix(lower, "http://"):
		u, err := url.Parse(name)
		if err != nil {
			return false
		}
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if host == "" {
			return false
		}
		return !slices.ContainsFunc(forbiddenHosts, func(f string) bool {
			return host == f || strings.HasSuffix(host, "."+f)
		})
	}
	return false
}

// filterClaims copies the allowed claims of src into dst (later rules win)
// and returns the names it dropped, sorted.
func filterClaims(dst, src map[string]any) (dropped []string) {
	for name, v := range src {
		if ClaimAllowed(name) {
			dst[name] = v
		} else {
			dropped = append(dropped, name)
		}
	}
	slices.Sort(dropped)
	return dropped
}

// ClaimsForAudience returns the access-token claims to add for a token whose
// audience is audience: none when it is one of the protected audiences (the
// management API, {issuer}api/v2/), so that a rule cannot widen a token that
// carries management powers.
func ClaimsForAudience(claims map[string]any, audience string, protected ...string) map[string]any {
	if slices.Contains(protected, audience) {
		return nil
	}
	return claims
}
