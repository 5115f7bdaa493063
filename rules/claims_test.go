package rules

import (
	"errors"
	"testing"
)

func TestClaimAllowed(t *testing.T) {
	for name, want := range map[string]bool{
		"https://example.com/roles":         true,
		"http://example.com/roles":          true,
		"https://EXAMPLE.com/x":             true,
		"urn:example:roles":                 true,
		"urn:ietf:params:x":                 true,
		"roles":                             false,
		"sub":                               false,
		"scope":                             false,
		"permissions":                       false,
		"x5t#S256":                          false,
		"internalService":                   false,
		"internalservice":                   false,
		"favorite_color":                    false, // not namespaced
		"https://":                          false,
		"https:///roles":                    false,
		"https://auth0.com/roles":           false,
		"https://tenant.auth0.com/roles":    false,
		"https://TENANT.Auth0.com./roles":   false,
		"https://webtask.io/x":              false,
		"https://x.webtask.run/x":           false,
		"https://notauth0.com/x":            true,
		"urn:auth0:x":                       false,
		"URN:Auth0:x":                       false,
		"urn:auth0":                         false,
		"urn:":                              false,
		"urn:example":                       false,
		"ftp://example.com/x":               false,
		"https://example.com:8443/claims/a": true,
	} {
		if got := ClaimAllowed(name); got != want {
			t.Errorf("ClaimAllowed(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestClaimsForAudience(t *testing.T) {
	c := map[string]any{"https://example.com/a": 1}
	if ClaimsForAudience(c, "https://id.example.com/api/v2/", "https://id.example.com/api/v2/") != nil {
		t.Fatal("management audience got claims")
	}
	if len(ClaimsForAudience(c, "https://api.example.com/", "https://id.example.com/api/v2/")) != 1 {
		t.Fatal("other audience lost its claims")
	}
}

func TestMetadataKeys(t *testing.T) {
	long := make([]byte, MaxMetadataKey+1)
	for i := range long {
		long[i] = 'k'
	}
	for _, bad := range []string{"", "a.b", "$set", string(long)} {
		if err := validateMetadataKeys("app_metadata", map[string]any{bad: 1}); !errors.Is(err, ErrInvalidMetadata) {
			t.Errorf("key %q accepted: %v", bad, err)
		}
	}
	if err := validateMetadataKeys("app_metadata", map[string]any{"plan": 1, "first_login_at": nil}); err != nil {
		t.Fatal(err)
	}
	target, acc := map[string]any{"a": 1, "b": 2}, map[string]any{}
	applyMetadata(target, acc, map[string]any{"a": nil, "c": 3})
	if _, ok := target["a"]; ok || target["c"] != 3 || target["b"] != 2 {
		t.Fatalf("target %v", target)
	}
	if v, ok := acc["a"]; !ok || v != nil || acc["c"] != 3 {
		t.Fatalf("acc %v", acc)
	}
}
