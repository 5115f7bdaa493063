package e2e

// Federation attacks: server-side requests through connection URLs, and
// login CSRF through a SAML response or an OIDC callback carried to
// another browser.

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/crewjam/saml"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// The SP metadata endpoint is unauthenticated: it must not make the server
// fetch anything, and a loopback metadataUrl is refused unless the
// connection says allow_private_network.
func TestSAMLMetadataEndpointFetchesNothing(t *testing.T) {
	var hits atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer idp.Close()
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		const create = `mutation($o: Map) { createConnection(input: {name: "acme", strategy: "saml", options: $o}) { id } }`
		r := s.GraphQL(t, s.AdminToken(t), create, map[string]any{"o": map[string]any{"metadataUrl": idp.URL + "/metadata"}})
		if !slices.Contains(r.Codes(), "BAD_USER_INPUT") || !strings.Contains(r.Errors[0].Message, "metadataUrl") {
			t.Fatalf("loopback metadataUrl accepted: %+v", r)
		}
		s.MustGraphQL(t, s.AdminToken(t), create, map[string]any{"o": map[string]any{
			"metadataUrl": idp.URL + "/metadata", "allow_private_network": true}}, nil)
		before := hits.Load()
		for range 3 {
			md := newBrowser(t).get(s.Issuer + "saml/acme/metadata")
			if md.status != http.StatusOK || !strings.Contains(md.body, s.Issuer+"saml/acme/acs") {
				t.Fatalf("SP metadata: %d %.300s", md.status, md.body)
			}
		}
		if n := hits.Load() - before; n != 0 {
			t.Fatalf("GET /saml/acme/metadata made the server fetch the IdP's metadata %d times", n)
		}
	})
}

// An SP-initiated SAML response posted from another browser (an
// attacker's own assertion, auto-posted by a page the victim visits)
// signs nobody in there; the browser that started the login completes it.
// IdP-initiated responses are accepted only when the connection enables
// them, and a solicited response cannot be passed off as one.
func TestSAMLResponseFromAnotherBrowser(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		idp := newSAMLIdP(t, s.Issuer+"saml/acme/metadata")
		idp.session = &saml.Session{ID: "x", NameID: "mallory@acme.example", NameIDFormat: string(saml.EmailAddressNameIDFormat),
			UserEmail: "mallory@acme.example", UserCommonName: "Mallory"}
		rpID, rpSecret := registerClient(t, s, "--name", "Catalog", "--type", "regular_web", "--redirect-uri", redirectURI)
		createConnection(t, s, "acme", "saml", map[string]any{"metadataXml": idp.metadata(t)}, rpID)
		relying := newRP(t, s, rpID, rpSecret, oidc.ScopeOpenID, "profile", "email")

		attacker := newBrowser(t)
		verifier := oauth2.GenerateVerifier()
		idpPage := attacker.federate(attacker.get(relying.conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier))), "acme")
		form := samlForm(t, idpPage)
		if form.Get("RelayState") == "" {
			t.Fatalf("no RelayState in the IdP's form: %.500s", idpPage.body)
		}

		victim := newBrowser(t)
		got := victim.post(s.Issuer+"saml/acme/acs", form)
		if got.status != http.StatusBadRequest || got.location != nil {
			t.Fatalf("response posted from another browser: %d %s %.300s", got.status, got.url, got.body)
		}
		if users := listUserIDs(t, s); slices.Contains(users, "samlp|acme|mallory@acme.example") {
			t.Fatalf("user created from a refused response: %v", users)
		}
		// The victim has no session: a login there shows the login page.
		if p := victim.get(relying.conf.AuthCodeURL("st-v", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); p.location != nil ||
			!strings.Contains(p.body, `name="federated" value="acme"`) {
			t.Fatalf("the other browser was signed in: %d %s", p.status, p.url)
		}
		// Without its RelayState, it is an unsolicited response answering a
		// request: refused too.
		bare := url.Values{"SAMLResponse": form["SAMLResponse"]}
		if got := victim.post(s.Issuer+"saml/acme/acs", bare); got.status != http.StatusBadRequest {
			t.Fatalf("solicited response without RelayState: %d %.300s", got.status, got.body)
		}

		// The browser that started the login completes it.
		done := attacker.post(s.Issuer+"saml/acme/acs", form)
		if claims := relying.exchange(t, s, done, verifier); claims["sub"] != "samlp|acme|mallory@acme.example" {
			t.Fatalf("claims: %v", claims)
		}

		// IdP-initiated: refused until idpinitiated.enabled, then accepted.
		unsolicited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			idp.idp.ServeIDPInitiated(w, r, s.Issuer+"saml/acme/metadata", "")
		}))
		defer unsolicited.Close()
		b := newBrowser(t)
		if got, _ := b.postSAML(b.get(unsolicited.URL)); got.status != http.StatusBadRequest {
			t.Fatalf("IdP-initiated while disabled: %d %.300s", got.status, got.body)
		}
		var conns struct {
			Connections struct {
				Edges []struct{ Node struct{ ID, Name string } }
			}
		}
		s.MustGraphQL(t, s.AdminToken(t), `{ connections(first: 50) { edges { node { id name } } } }`, nil, &conns)
		for _, e := range conns.Connections.Edges {
			if e.Node.Name == "acme" {
				s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!) { updateConnection(id: $id, input: {options: {idpinitiated: {enabled: true}}}) { id } }`,
					map[string]any{"id": e.Node.ID}, nil)
			}
		}
		if got, _ := b.postSAML(b.get(unsolicited.URL)); got.status != http.StatusOK || !strings.Contains(got.body, "You are logged in") {
			t.Fatalf("IdP-initiated while enabled: %d %.300s", got.status, got.body)
		}
	})
}

// samlForm reads the IdP page's auto-posting form.
func samlForm(t *testing.T, p page) url.Values {
	t.Helper()
	form := url.Values{}
	for _, m := range samlInputRE.FindAllStringSubmatch(p.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("SAMLResponse") == "" {
		t.Fatalf("no SAML form (status %d, %s): %.800s", p.status, p.url, p.body)
	}
	return form
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	r, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

// The OIDC callback's state is bound to the browser that started the login
// (RFC 6749 §10.12): the callback URL, with its code, opened in another
// browser signs nobody in; the right browser then completes.
func TestOIDCCallbackFromAnotherBrowser(t *testing.T) {
	up := apitest.Start(t, testenv.SQLite(t))
	up.MustGraphQL(t, up.AdminToken(t), `mutation { createUser(input: {connection: "Username-Password-Authentication",
		email: "mallory@navy.example", password: "Cobol-Compiler-1959", name: "Mallory"}) { id } }`, nil, nil)
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		upID, upSecret := registerClient(t, up, "--name", "Authgraph B", "--type", "regular_web", "--redirect-uri", s.Issuer+"login/callback")
		rpID, rpSecret := registerClient(t, s, "--name", "Notebook", "--type", "regular_web", "--redirect-uri", redirectURI)
		createConnection(t, s, "navy", "oidc", map[string]any{"issuer": up.Issuer, "client_id": upID, "client_secret": upSecret,
			"allow_private_network": true}, rpID)
		relying := newRP(t, s, rpID, rpSecret, oidc.ScopeOpenID, "profile", "email")

		attacker := newBrowser(t)
		var callback string
		attacker.http.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), s.Issuer+"login/callback") {
				callback = req.URL.String()
				return http.ErrUseLastResponse
			}
			return nil
		}
		verifier := oauth2.GenerateVerifier()
		attacker.login(attacker.federate(attacker.get(relying.conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier))), "navy"),
			"mallory@navy.example", "Cobol-Compiler-1959")
		if !strings.Contains(callback, "code=") {
			t.Fatalf("no callback: %q", callback)
		}

		victim := newBrowser(t)
		if got := victim.get(callback); got.status != http.StatusBadRequest || got.location != nil {
			t.Fatalf("callback in another browser: %d %s", got.status, got.url)
		}
		if p := victim.get(relying.conf.AuthCodeURL("st-v", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); p.location != nil {
			t.Fatalf("the other browser was signed in")
		}

		attacker.http.CheckRedirect = newBrowser(t).http.CheckRedirect
		claims := relying.exchange(t, s, attacker.get(callback), verifier)
		if sub, _ := claims["sub"].(string); !strings.HasPrefix(sub, "oidc|navy|") {
			t.Fatalf("claims: %v", claims)
		}
	})
}
