package connections

import (
	"errors"
	"testing"
)

// URLs the server fetches are https and public unless the connection says
// allow_private_network; the outbound client enforces it on every request,
// this check says so when the connection is saved.
func TestFetchedURLsAtSave(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		opts     map[string]any
		badKey   string
	}{
		{"oidc", map[string]any{"issuer": "https://idp.example.com/", "client_id": "x"}, ""},
		{"oidc", map[string]any{"issuer": "http://idp.example.com/", "client_id": "x"}, "issuer"},
		{"oidc", map[string]any{"issuer": "https://127.0.0.1:8443/", "client_id": "x"}, "issuer"},
		{"oidc", map[string]any{"discovery_url": "https://localhost/.well-known/openid-configuration", "client_id": "x"}, "discovery_url"},
		{"oidc", map[string]any{"issuer": "https://idp.example.com/", "client_id": "x", "token_endpoint": "https://169.254.169.254/latest"}, "token_endpoint"},
		{"oidc", map[string]any{"issuer": "https://idp.example.com/", "client_id": "x", "userinfo_endpoint": "https://[fd00::1]/ui"}, "userinfo_endpoint"},
		{"oidc", map[string]any{"preset": "github", "client_id": "x", "authorization_endpoint": "http://10.0.0.1/auth"}, "authorization_endpoint"},
		{"oidc", map[string]any{"issuer": "http://127.0.0.1:8080/", "client_id": "x", "allow_private_network": true}, ""},
		{"saml", map[string]any{"metadataUrl": "https://idp.example.com/md"}, ""},
		{"saml", map[string]any{"metadataUrl": "http://127.0.0.1:9/md"}, "metadataUrl"},
		{"saml", map[string]any{"metadataUrl": "https://192.168.1.10/md"}, "metadataUrl"},
		{"saml", map[string]any{"metadataUrl": "http://127.0.0.1:9/md", "allow_private_network": true}, ""},
	} {
		public, secret, err := Split(tc.strategy, tc.opts)
		if err == nil {
			err = checkComplete(tc.strategy, public, secret)
		}
		var oe *OptionError
		switch {
		case tc.badKey == "" && err != nil:
			t.Errorf("%v: %v", tc.opts, err)
		case tc.badKey != "" && (!errors.As(err, &oe) || oe.Key != tc.badKey):
			t.Errorf("%v: want an error on %s, got %v", tc.opts, tc.badKey, err)
		}
	}
	// Not an option of the other strategies.
	if _, _, err := Split("ldap", map[string]any{"allow_private_network": true}); err == nil {
		t.Error("allow_private_network accepted on ldap")
	}
}
