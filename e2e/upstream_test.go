package e2e

// Logins through upstream connections, end to end: a relying party signs in
// at Authgraph "B" through an OIDC connection whose provider is a second,
// independent Authgraph "A" (a real OpenID Provider), and through an LDAP
// connection on a real slapd; every ID token is verified through discovery.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"html"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// federate clicks connection name's button on login page p.
func (b *browser) federate(p page, name string) page {
	b.t.Helper()
	csrf, act, req := csrfRE.FindStringSubmatch(p.body), actionRE.FindStringSubmatch(p.body), reqRE.FindStringSubmatch(p.body)
	if csrf == nil || act == nil || req == nil || !strings.Contains(p.body, `name="federated" value="`+name+`"`) {
		b.t.Fatalf("no %s button (status %d, %s): %.800s", name, p.status, p.url, p.body)
	}
	action, _ := p.url.Parse(html.UnescapeString(act[1]))
	form := url.Values{"csrf_token": {html.UnescapeString(csrf[1])}, "req": {html.UnescapeString(req[1])}, "federated": {name}}
	r, _ := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(connection)" value="([^"]*)"`)

// submitLogin fills the login form on p like a browser: its hidden fields
// (req, csrf_token, connection) and the credentials.
func (b *browser) submitLogin(p page, username, password string) page {
	b.t.Helper()
	csrf, act, req := csrfRE.FindStringSubmatch(p.body), actionRE.FindStringSubmatch(p.body), reqRE.FindStringSubmatch(p.body)
	if csrf == nil || act == nil || req == nil || !strings.Contains(p.body, `name="password"`) {
		b.t.Fatalf("not the login form (status %d, %s): %.600s", p.status, p.url, p.body)
	}
	action, _ := p.url.Parse(html.UnescapeString(act[1]))
	form := url.Values{"csrf_token": {html.UnescapeString(csrf[1])}, "req": {html.UnescapeString(req[1])},
		"username": {username}, "password": {password}}
	for _, h := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		form.Set(h[1], html.UnescapeString(h[2]))
	}
	r, _ := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

// exchange trades the code at the redirect URI for a verified ID token's
// claims.
func (relying *rp) exchange(t *testing.T, s *apitest.Server, done page, verifier string) map[string]any {
	t.Helper()
	if done.location == nil || done.location.Query().Get("code") == "" {
		t.Fatalf("no code at the redirect URI: %d %s %.600s", done.status, done.url, done.body)
	}
	ctx := oidc.ClientContext(context.Background(), s.HTTP)
	tok, err := relying.conf.Exchange(ctx, done.location.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := relying.verifier.Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	claims := map[string]any{}
	_ = idt.Claims(&claims)
	return claims
}

func createConnection(t *testing.T, s *apitest.Server, name, strategy string, opts map[string]any, clients ...string) {
	t.Helper()
	var out struct{ CreateConnection struct{ ID string } }
	s.MustGraphQL(t, s.AdminToken(t), `mutation($n: String!, $s: String!, $o: Map, $c: [String!]) {
		createConnection(input: {name: $n, strategy: $s, options: $o, enabledClients: $c}) { id } }`,
		map[string]any{"n": name, "s": strategy, "o": opts, "c": clients}, &out)
}

func TestLoginThroughAnotherAuthgraph(t *testing.T) {
	idp := apitest.Start(t, testenv.SQLite(t))
	// A: the upstream provider, with a user, and per B a client whose
	// redirect URI is B's callback.
	idp.MustGraphQL(t, idp.AdminToken(t), `mutation { createUser(input: {connection: "Username-Password-Authentication",
		email: "grace@navy.example", password: "Cobol-Compiler-1959", name: "Grace Hopper", nickname: "amazing"}) { id } }`, nil, nil)
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		upID, upSecret := registerClient(t, idp, "--name", "Authgraph B", "--type", "regular_web", "--redirect-uri", s.Issuer+"login/callback")

		// B: the relying party's Authgraph, with an OIDC connection to A.
		rpID, rpSecret := registerClient(t, s, "--name", "Notebook", "--type", "regular_web", "--redirect-uri", redirectURI)
		createConnection(t, s, "navy", "oidc", map[string]any{
			"issuer": idp.Issuer, "client_id": upID, "client_secret": upSecret, "scope": "openid profile email",
			"allow_private_network": true, // A runs on loopback, over http
			"attribute_map":         map[string]any{"mapping_mode": "use_map", "attributes": map[string]any{"given_name": "${context.tokenset.nickname}"}},
		}, rpID)
		relying := newRP(t, s, rpID, rpSecret, oidc.ScopeOpenID, "profile", "email")

		b := newBrowser(t)
		verifier := oauth2.GenerateVerifier()
		chooser := b.get(relying.conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)))
		upstreamForm := b.federate(chooser, "navy")
		if !strings.HasPrefix(upstreamForm.url.String(), idp.URL) {
			t.Fatalf("not sent to the upstream: %s", upstreamForm.url)
		}
		done := b.login(upstreamForm, "grace@navy.example", "Cobol-Compiler-1959")
		claims := relying.exchange(t, s, done, verifier)
		sub, _ := claims["sub"].(string)
		if !strings.HasPrefix(sub, "oidc|navy|auth0|") || claims["email"] != "grace@navy.example" || claims["name"] != "Grace Hopper" ||
			claims["given_name"] != "amazing" || claims["email_verified"] != false {
			t.Fatalf("claims: %v", claims)
		}
		// A login at another provider is "fed" (RFC 8176).
		if amr := amrOf(claims); !slices.Equal(amr, []string{"fed"}) {
			t.Fatalf("amr of an upstream OIDC login: %v", claims["amr"])
		}

		// The profile the API shows, with its identity.
		var got struct {
			Users struct {
				Edges []struct {
					Node struct {
						UserID     string
						Identities []struct{ Provider, UserID string }
					}
				}
			}
		}
		s.MustGraphQL(t, s.AdminToken(t), `{ users(first: 10) { edges { node { userId identities { provider userId } } } } }`, nil, &got)
		found := false
		for _, e := range got.Users.Edges {
			if e.Node.UserID == sub {
				found = len(e.Node.Identities) == 1 && e.Node.Identities[0].Provider == "oidc" && "oidc|"+e.Node.Identities[0].UserID == sub
			}
		}
		if !found {
			t.Fatalf("user %s not listed with its identity: %+v", sub, got)
		}

		// A second login (SSO at A this time) finds the same user.
		b2 := newBrowser(t)
		v2 := oauth2.GenerateVerifier()
		chooser2 := b2.get(relying.conf.AuthCodeURL("st-2", oauth2.S256ChallengeOption(v2)))
		done2 := b2.login(b2.federate(chooser2, "navy"), "grace@navy.example", "Cobol-Compiler-1959")
		if c2 := relying.exchange(t, s, done2, v2); c2["sub"] != sub {
			t.Fatalf("second login: %v", c2["sub"])
		}
	})
}

func TestLoginThroughLDAP(t *testing.T) {
	slapd := testenv.StartSlapd(t, testenv.SlapdOptions{})
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		rpID, rpSecret := registerClient(t, s, "--name", "Intranet", "--type", "regular_web", "--redirect-uri", redirectURI)
		createConnection(t, s, "corp", "ldap", map[string]any{
			"url": slapd.URL, "start_tls": true, "ca_cert": slapd.CACertPEM,
			"bind_dn": "cn=reader,ou=system," + slapd.Suffix, "bind_password": "reader-pw",
			"user_search_base": "ou=people," + slapd.Suffix, "group_search_base": "ou=groups," + slapd.Suffix,
			"domain_aliases": []any{"example.org"},
		}, rpID)
		relying := newRP(t, s, rpID, rpSecret, oidc.ScopeOpenID, "profile", "email")
		b := newBrowser(t)
		verifier := oauth2.GenerateVerifier()
		chooser := b.get(relying.conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)))
		form := b.federate(chooser, "corp")
		bad := b.submitLogin(form, "alice", "nope")
		if bad.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", bad.status)
		}
		claims := relying.exchange(t, s, b.submitLogin(bad, "alice", "alice-pw"), verifier)
		sub, _ := claims["sub"].(string)
		if !strings.HasPrefix(sub, "ad|corp|") || claims["email"] != "alice@example.org" || claims["email_verified"] != true ||
			claims["name"] != "Alice Liddell" || claims["nickname"] != "alice" {
			t.Fatalf("claims: %v", claims)
		}
		// A directory's password is still a password.
		if amr := amrOf(claims); !slices.Equal(amr, []string{"pwd"}) {
			t.Fatalf("amr of an LDAP login: %v", claims["amr"])
		}

		// Linked into a database user, the directory login signs in as that
		// (primary) user.
		var primary struct{ CreateUser struct{ ID, UserID string } }
		s.MustGraphQL(t, s.AdminToken(t), `mutation { createUser(input: {connection: "Username-Password-Authentication",
			email: "alice.l@example.com", password: "Looking-Glass-1871", name: "Alice (primary)"}) { id userId } }`, nil, &primary)
		s.MustGraphQL(t, s.AdminToken(t), `mutation($p: ID!, $s: ID!) { linkUser(primaryId: $p, secondaryId: $s) { id } }`,
			map[string]any{"p": primary.CreateUser.ID, "s": sub}, nil)
		b2 := newBrowser(t)
		v2 := oauth2.GenerateVerifier()
		form2 := b2.federate(b2.get(relying.conf.AuthCodeURL("st-2", oauth2.S256ChallengeOption(v2))), "corp")
		linked := relying.exchange(t, s, b2.submitLogin(form2, "alice", "alice-pw"), v2)
		if linked["sub"] != primary.CreateUser.UserID || linked["name"] != "Alice (primary)" {
			t.Fatalf("login through the linked identity: %v", linked)
		}
	})
}

// samlIdP is crewjam's IdentityProvider over HTTP, signing in `session`
// without asking (its login UI is not what is tested).
type samlIdP struct {
	idp     *saml.IdentityProvider
	srv     *httptest.Server
	session *saml.Session
	sp      func() (*saml.EntityDescriptor, error)
}

func (p *samlIdP) GetSession(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest) *saml.Session {
	return p.session
}

func (p *samlIdP) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	md, err := p.sp()
	if err != nil || md.EntityID != id {
		return nil, os.ErrNotExist
	}
	return md, nil
}

func newSAMLIdP(t *testing.T, spMetadataURL string) *samlIdP {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	p := &samlIdP{}
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	mdURL, _ := url.Parse(p.srv.URL + "/metadata")
	ssoURL, _ := url.Parse(p.srv.URL + "/sso")
	p.idp = &saml.IdentityProvider{Key: key, Signer: key, Certificate: cert,
		MetadataURL: *mdURL, SSOURL: *ssoURL,
		SessionProvider: p, ServiceProviderProvider: p, SignatureMethod: dsig.RSASHA256SignatureMethod}
	p.sp = func() (*saml.EntityDescriptor, error) {
		resp, err := http.Get(spMetadataURL)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var ed saml.EntityDescriptor
		return &ed, xml.NewDecoder(resp.Body).Decode(&ed)
	}
	mux.Handle("/", p.idp.Handler())
	return p
}

func (p *samlIdP) metadata(t *testing.T) string {
	b, err := xml.Marshal(p.idp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	samlFormRE  = regexp.MustCompile(`<form[^>]+action="([^"]+)"`)
	samlInputRE = regexp.MustCompile(`<input type="hidden" name="(SAMLResponse|RelayState)" value="([^"]*)"`)
)

// postSAML does what the IdP page's script would: POST its form to the ACS.
func (b *browser) postSAML(p page) (page, url.Values) {
	b.t.Helper()
	act := samlFormRE.FindStringSubmatch(p.body)
	if act == nil {
		b.t.Fatalf("no SAML form (status %d, %s): %.800s", p.status, p.url, p.body)
	}
	form := url.Values{}
	for _, m := range samlInputRE.FindAllStringSubmatch(p.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	r, _ := http.NewRequest(http.MethodPost, html.UnescapeString(act[1]), strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r), form
}

func TestLoginThroughSAML(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		idp := newSAMLIdP(t, s.Issuer+"saml/acme/metadata")
		idp.session = &saml.Session{ID: "x", NameID: "wile@acme.example", NameIDFormat: string(saml.EmailAddressNameIDFormat),
			UserName: "wile", UserEmail: "wile@acme.example", UserGivenName: "Wile E.", UserSurname: "Coyote", UserCommonName: "Wile E. Coyote"}
		rpID, rpSecret := registerClient(t, s, "--name", "Catalog", "--type", "regular_web", "--redirect-uri", redirectURI)
		createConnection(t, s, "acme", "saml", map[string]any{
			"metadataXml": idp.metadata(t), "signSAMLRequest": true,
			"fieldsMap": map[string]any{"name": "urn:oid:2.5.4.3"}, "domain_aliases": []any{"acme.example"},
		}, rpID)
		relying := newRP(t, s, rpID, rpSecret, oidc.ScopeOpenID, "profile", "email")

		md := newBrowser(t).get(s.Issuer + "saml/acme/metadata")
		if md.status != 200 || !strings.Contains(md.body, s.Issuer+"saml/acme/acs") || !strings.Contains(md.body, "X509Certificate") {
			t.Fatalf("SP metadata: %d %.500s", md.status, md.body)
		}

		// Home-realm discovery: the address typed in the database form
		// leads to the IdP; its POST comes back to the ACS.
		b := newBrowser(t)
		verifier := oauth2.GenerateVerifier()
		page := b.get(relying.conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)))
		idpPage := b.login(page, "wile@acme.example", "anything")
		if !strings.HasPrefix(idpPage.url.String(), idp.srv.URL) {
			t.Fatalf("HRD did not lead to the IdP: %s", idpPage.url)
		}
		done, form := b.postSAML(idpPage)
		claims := relying.exchange(t, s, done, verifier)
		if claims["sub"] != "samlp|acme|wile@acme.example" || claims["email"] != "wile@acme.example" || claims["email_verified"] != true ||
			claims["name"] != "Wile E. Coyote" || claims["given_name"] != "Wile E." || claims["family_name"] != "Coyote" {
			t.Fatalf("claims: %v", claims)
		}
		if amr := amrOf(claims); !slices.Equal(amr, []string{"fed"}) {
			t.Fatalf("amr of a SAML login: %v", claims["amr"])
		}

		// The same response posted again: refused, nothing written.
		users := len(listUserIDs(t, s))
		r, _ := http.NewRequest(http.MethodPost, s.Issuer+"saml/acme/acs", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		replay := newBrowser(t).do(r)
		if replay.status != http.StatusBadRequest || strings.Contains(replay.body, "already") {
			t.Fatalf("replay: %d %.300s", replay.status, replay.body)
		}
		if n := len(listUserIDs(t, s)); n != users {
			t.Fatalf("users %d -> %d", users, n)
		}
	})
}

func listUserIDs(t *testing.T, s *apitest.Server) []string {
	var got struct {
		Users struct {
			Edges []struct{ Node struct{ UserID string } }
		}
	}
	s.MustGraphQL(t, s.AdminToken(t), `{ users(first: 100) { edges { node { userId } } } }`, nil, &got)
	var out []string
	for _, e := range got.Users.Edges {
		out = append(out, e.Node.UserID)
	}
	return out
}
