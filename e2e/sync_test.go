package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-ldap/ldap/v3"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// set_user_root_attributes decides whether each login refreshes the root
// profile from the directory: on_each_login (default) overwrites it,
// on_first_login keeps what an administrator changed afterwards.
func TestSyncModesThroughLDAPLogins(t *testing.T) {
	slapd := testenv.StartSlapd(t, testenv.SlapdOptions{})
	s := apitest.Start(t, testenv.SQLite(t))
	rpID, rpSecret := registerClient(t, s, "--name", "Intranet", "--type", "regular_web", "--redirect-uri", redirectURI)
	createConnection(t, s, "corp", "ldap", map[string]any{
		"url": slapd.URL, "start_tls": true, "ca_cert": slapd.CACertPEM,
		"bind_dn": "cn=reader,ou=system," + slapd.Suffix, "bind_password": "reader-pw",
		"user_search_base": "ou=people," + slapd.Suffix,
	}, rpID)
	relying := newRP(t, s, rpID, rpSecret, oidc.ScopeOpenID, "profile")
	login := func() map[string]any {
		b := newBrowser(t)
		v := oauth2.GenerateVerifier()
		form := b.federate(b.get(relying.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(v))), "corp")
		return relying.exchange(t, s, b.submitLogin(form, "alice", "alice-pw"), v)
	}
	rename := func(name string) {
		t.Helper()
		conn, err := ldap.DialURL(slapd.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(slapd.CACertPEM))
		if err := conn.StartTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		if err := conn.Bind(slapd.RootDN, slapd.RootPassword); err != nil {
			t.Fatal(err)
		}
		m := ldap.NewModifyRequest("uid=alice,ou=people,"+slapd.Suffix, nil)
		m.Replace("displayName", []string{name})
		if err := conn.Modify(m); err != nil {
			t.Fatal(err)
		}
	}
	admin := s.AdminToken(t)
	first := login()
	sub := first["sub"].(string)
	if first["name"] != "Alice Liddell" {
		t.Fatalf("first login: %v", first)
	}

	// on_each_login: the directory's change reaches the profile and the token.
	rename("Alice Pleasance Liddell")
	if got := login()["name"]; got != "Alice Pleasance Liddell" {
		t.Fatalf("on_each_login kept the old name: %v", got)
	}

	// on_first_login: an administrator's edit survives later logins.
	s.MustGraphQL(t, admin, `mutation { updateConnection(id: "corp", input: {options: {set_user_root_attributes: "on_first_login"}}) { id } }`, nil, nil)
	s.MustGraphQL(t, admin, `mutation($id: ID!) { updateUser(id: $id, input: {name: "Alice (edited)"}) { id } }`, map[string]any{"id": sub}, nil)
	rename("Alice From The Directory")
	if got := login()["name"]; got != "Alice (edited)" {
		t.Fatalf("on_first_login overwrote the administrator's edit: %v", got)
	}
	// The raw directory profile is still refreshed on the identity.
	var u struct {
		User struct {
			Identities []struct{ ProfileData map[string]any }
		}
	}
	s.MustGraphQL(t, admin, `query($id: ID!) { user(id: $id) { identities { profileData } } }`, map[string]any{"id": sub}, &u)
	if len(u.User.Identities) != 1 || u.User.Identities[0].ProfileData["displayName"] != "Alice From The Directory" {
		t.Fatalf("raw profile not refreshed: %+v", u)
	}
}
