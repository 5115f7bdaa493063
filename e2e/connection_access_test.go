package e2e

// Which connections an application may be signed in through, end to end
// through the hosted login page: an SSO session from a connection the
// application is not enabled for does not sign the user in to it, and
// connection=NAME of a federated connection goes straight to its provider.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/crewjam/saml"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// connectionID returns the node id of the connection called name.
func connectionID(t *testing.T, s *apitest.Server, name string) string {
	t.Helper()
	var got struct {
		Connections struct {
			Edges []struct{ Node struct{ ID, Name string } }
		}
	}
	s.MustGraphQL(t, s.AdminToken(t), `{ connections(first: 100) { edges { node { id name } } } }`, nil, &got)
	for _, e := range got.Connections.Edges {
		if e.Node.Name == name {
			return e.Node.ID
		}
	}
	t.Fatalf("no connection %q", name)
	return ""
}

func TestSessionFromAConnectionNotEnabledForTheApplication(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		aID, aSecret := registerClient(t, s, "--name", "Wiki", "--type", "regular_web", "--redirect-uri", redirectURI)
		bID, bSecret := registerClient(t, s, "--name", "Payroll", "--type", "regular_web", "--redirect-uri", redirectURI)
		// Wiki: the default database connection; Payroll: "staff" only.
		s.MustGraphQL(t, admin, `mutation($id: ID!, $c: [String!]) { updateConnection(id: $id, input: {enabledClients: $c}) { id } }`,
			map[string]any{"id": connectionID(t, s, "Username-Password-Authentication"), "c": []string{aID}}, nil)
		createConnection(t, s, "staff", "database", nil, bID)
		s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
			email: "mallory@example.com", password: "Mallory-Pass-2024"}) { id } }`, nil, nil)
		s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "staff",
			email: "payroll@example.com", password: "Payroll-Pass-2024"}) { id } }`, nil, nil)
		wiki := newRP(t, s, aID, aSecret, oidc.ScopeOpenID)
		payroll := newRP(t, s, bID, bSecret, oidc.ScopeOpenID)

		b := newBrowser(t)
		v := oauth2.GenerateVerifier()
		done := b.login(b.get(wiki.conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(v))), "mallory@example.com", "Mallory-Pass-2024")
		wiki.exchange(t, s, done, v)

		// The session from the default connection does not open Payroll:
		// its login page (for staff) is shown.
		v2 := oauth2.GenerateVerifier()
		page := b.get(payroll.conf.AuthCodeURL("st-2", oauth2.S256ChallengeOption(v2)))
		if page.location != nil || page.status != http.StatusOK || !strings.Contains(page.body, `name="password"`) ||
			!strings.Contains(page.body, `name="connection" value="staff"`) {
			t.Fatalf("Payroll with a session from another connection: %d %v %.600s", page.status, page.location, page.body)
		}
		silent := b.get(payroll.conf.AuthCodeURL("st-3", oauth2.S256ChallengeOption(v2), oauth2.SetAuthURLParam("prompt", "none")))
		if silent.location == nil || silent.location.Query().Get("error") != "login_required" || silent.location.Query().Get("state") != "st-3" {
			t.Fatalf("prompt=none at Payroll: %d %v", silent.status, silent.location)
		}
		// Wiki still signs in silently; the staff login opens Payroll.
		v3 := oauth2.GenerateVerifier()
		wiki.exchange(t, s, b.get(wiki.conf.AuthCodeURL("st-4", oauth2.S256ChallengeOption(v3))), v3)
		payroll.exchange(t, s, b.login(page, "payroll@example.com", "Payroll-Pass-2024"), v2)
	})
}

func TestConnectionParameterGoesStraightToTheProvider(t *testing.T) {
	upstreamOP := apitest.Start(t, testenv.SQLite(t))
	upstreamOP.MustGraphQL(t, upstreamOP.AdminToken(t), `mutation { createUser(input: {connection: "Username-Password-Authentication",
		email: "grace@navy.example", password: "Cobol-Compiler-1959", name: "Grace Hopper"}) { id } }`, nil, nil)
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		upID, upSecret := registerClient(t, upstreamOP, "--name", "Authgraph B", "--type", "regular_web", "--redirect-uri", s.Issuer+"login/callback")
		rpID, rpSecret := registerClient(t, s, "--name", "Portal", "--type", "regular_web", "--redirect-uri", redirectURI)
		otherID, _ := registerClient(t, s, "--name", "Other", "--type", "regular_web", "--redirect-uri", redirectURI)
		createConnection(t, s, "navy", "oidc", map[string]any{
			"issuer": upstreamOP.Issuer, "client_id": upID, "client_secret": upSecret, "scope": "openid profile email",
			"allow_private_network": true, // the upstream runs on loopback, over http
		}, rpID)
		idp := newSAMLIdP(t, s.Issuer+"saml/acme/metadata")
		idp.session = &saml.Session{ID: "x", NameID: "wile@acme.example", NameIDFormat: string(saml.EmailAddressNameIDFormat),
			UserName: "wile", UserEmail: "wile@acme.example"}
		createConnection(t, s, "acme", "saml", map[string]any{"metadataXml": idp.metadata(t)}, rpID)
		createConnection(t, s, "elsewhere", "saml", map[string]any{"metadataXml": idp.metadata(t)}, otherID)
		portal := newRP(t, s, rpID, rpSecret, oidc.ScopeOpenID, "email")

		// OIDC: the upstream's own login page, no chooser in between.
		b := newBrowser(t)
		v := oauth2.GenerateVerifier()
		up := b.get(portal.conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("connection", "navy")))
		if !strings.HasPrefix(up.url.String(), upstreamOP.URL) {
			t.Fatalf("connection=navy stopped at %s (%d): %.600s", up.url, up.status, up.body)
		}
		if c := portal.exchange(t, s, b.login(up, "grace@navy.example", "Cobol-Compiler-1959"), v); !strings.HasPrefix(c["sub"].(string), "oidc|navy|") {
			t.Fatalf("claims: %v", c)
		}

		// SAML: the IdP's page, whose POST comes back to the ACS.
		b2 := newBrowser(t)
		v2 := oauth2.GenerateVerifier()
		idpPage := b2.get(portal.conf.AuthCodeURL("st-2", oauth2.S256ChallengeOption(v2), oauth2.SetAuthURLParam("connection", "acme")))
		if !strings.HasPrefix(idpPage.url.String(), idp.srv.URL) {
			t.Fatalf("connection=acme stopped at %s (%d): %.600s", idpPage.url, idpPage.status, idpPage.body)
		}
		done, _ := b2.postSAML(idpPage)
		if c := portal.exchange(t, s, done, v2); c["sub"] != "samlp|acme|wile@acme.example" {
			t.Fatalf("claims: %v", c)
		}

		// A connection the application is not enabled for (or that does not
		// exist): Auth0's invalid_request, to the redirect URI with state.
		for _, name := range []string{"elsewhere", "nowhere"} {
			p := newBrowser(t).get(portal.conf.AuthCodeURL("st-3", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("connection", name)))
			if p.location == nil || p.location.Query().Get("error") != "invalid_request" ||
				p.location.Query().Get("error_description") != "the connection is not enabled" || p.location.Query().Get("state") != "st-3" {
				t.Fatalf("connection=%s: %d %v %.300s", name, p.status, p.location, p.body)
			}
		}
	})
}
