package saml

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/authgraph/authgraph/connectors"
)

// The fuzzed response is built the same way at every run: a committed
// test-only IdP key, a fixed clock and a seeded random source for IDs, so
// that corpus entries (mutations of it) stay meaningful across runs.
var fuzzNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// acceptAll is a replay cache that never refuses: the fuzzer replays the
// same assertion millions of times, and replay is not what it tests.
type acceptAll struct{}

func (acceptAll) Consume(string, time.Time) error { return nil }

type fuzzSPProvider struct{ md *crewjam.EntityDescriptor }

func (p fuzzSPProvider) GetServiceProvider(_ *http.Request, id string) (*crewjam.EntityDescriptor, error) {
	if id != p.md.EntityID {
		return nil, os.ErrNotExist
	}
	return p.md, nil
}

// samlFixture is a connector and one response crewjam's IdentityProvider
// signed for its AuthnRequest, with what the connector makes of it.
type samlFixture struct {
	c        *Connector
	reqID    string
	response []byte // the decoded SAMLResponse XML
	identity connectors.Identity
	info     connectors.AssertionInfo
}

func newSAMLFixture(tb testing.TB) *samlFixture {
	tb.Helper()
	prevNow, prevRand := crewjam.TimeNow, crewjam.RandReader
	crewjam.TimeNow = func() time.Time { return fuzzNow }
	crewjam.RandReader = rand.NewChaCha8([32]byte{'a', 'u', 't', 'h', 'g', 'r', 'a', 'p', 'h'})
	tb.Cleanup(func() { crewjam.TimeNow, crewjam.RandReader = prevNow, prevRand })

	raw, err := os.ReadFile("testdata/fuzz-idp-key.pem")
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		tb.Fatalf("testdata/fuzz-idp-key.pem holds a %T", k)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp.test"},
		NotBefore: fuzzNow.Add(-time.Hour), NotAfter: fuzzNow.Add(10 * 365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), k)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	idp := &crewjam.IdentityProvider{
		Key: key, Signer: key, Certificate: cert,
		MetadataURL: mustURL("https://idp.test/metadata"), SSOURL: mustURL("https://idp.test/sso"),
		SignatureMethod: dsig.RSASHA256SignatureMethod,
	}
	idpMD, err := xml.Marshal(idp.Metadata())
	if err != nil {
		tb.Fatal(err)
	}
	c, err := New(context.Background(), Config{Connection: "corp", MetadataURL: "https://ag.test/saml/corp/metadata",
		ACSURL: "https://ag.test/saml/corp/acs", IDPMetadataXML: string(idpMD), ReplayCache: acceptAll{},
		DomainAliases: []string{"corp.example"}, Clock: dsig.NewFakeClockAt(fuzzNow),
		FieldsMap: map[string]any{"nickname": "urn:oid:0.9.2342.19200300.100.1.1"}})
	if err != nil {
		tb.Fatal(err)
	}
	spMD, err := c.Metadata()
	if err != nil {
		tb.Fatal(err)
	}
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(spMD, &ed); err != nil {
		tb.Fatal(err)
	}
	idp.ServiceProviderProvider = fuzzSPProvider{&ed}

	loc, reqID, err := c.AuthnRequest(context.Background(), "rs-1")
	if err != nil {
		tb.Fatal(err)
	}
	req, err := crewjam.NewIdpAuthnRequest(idp, httptest.NewRequest("GET", loc, nil))
	if err == nil {
		err = req.Validate()
	}
	if err != nil {
		tb.Fatal(err)
	}
	session := &crewjam.Session{ID: "s1", NameID: "ann@corp.example", NameIDFormat: string(crewjam.EmailAddressNameIDFormat),
		UserName: "ann", UserEmail: "ann@corp.example", UserGivenName: "Ann", UserSurname: "Smith",
		UserCommonName: "Ann Smith", Groups: []string{"admins", "staff"}}
	if err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(req, session); err != nil {
		tb.Fatal(err)
	}
	if err := req.MakeAssertionEl(); err != nil {
		tb.Fatal(err)
	}
	form, err := req.PostBinding()
	if err != nil {
		tb.Fatal(err)
	}
	xmlResp, err := base64.StdEncoding.DecodeString(form.SAMLResponse)
	if err != nil {
		tb.Fatal(err)
	}
	fx := &samlFixture{c: c, reqID: reqID, response: xmlResp}
	fx.identity, fx.info, err = fx.handle(form.SAMLResponse)
	if err != nil {
		tb.Fatalf("the unmodified signed response is refused: %v", err)
	}
	if fx.identity.UserID != "corp|ann@corp.example" || fx.identity.Email != "ann@corp.example" || fx.identity.Nickname != "ann" {
		tb.Fatalf("unexpected identity %+v", fx.identity)
	}
	return fx
}

// handle posts SAMLResponse to the connector as the ACS endpoint would.
func (fx *samlFixture) handle(encoded string) (connectors.Identity, connectors.AssertionInfo, error) {
	body := url.Values{"SAMLResponse": {encoded}, "RelayState": {"rs-1"}}.Encode()
	r := httptest.NewRequest("POST", "https://ag.test/saml/corp/acs", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := r.ParseForm(); err != nil {
		return connectors.Identity{}, connectors.AssertionInfo{}, err
	}
	return fx.c.HandleResponse(context.Background(), r, []string{fx.reqID})
}

// samlWrapSeeds are classic signature-wrapping and substitution shapes made
// from the signed response: a second, unsigned assertion (before or after
// the signed one, or inside it), the NameID or an attribute changed after
// signing, the signature dropped, the assertion's ID reference retargeted.
func samlWrapSeeds(resp []byte) [][]byte {
	s := string(resp)
	start := strings.Index(s, "<saml:Assertion")
	end := strings.Index(s, "</saml:Assertion>") + len("</saml:Assertion>")
	if start < 0 || end < len("</saml:Assertion>") {
		return nil
	}
	assertion := s[start:end]
	evil := strings.ReplaceAll(assertion, "ann@corp.example", "eve@corp.example")
	evilNoSig := evil
	if i, j := strings.Index(evil, "<ds:Signature"), strings.Index(evil, "</ds:Signature>"); i >= 0 && j > i {
		evilNoSig = evil[:i] + evil[j+len("</ds:Signature>"):]
	}
	return [][]byte{
		[]byte(s[:start] + evilNoSig + assertion + s[end:]),
		[]byte(s[:end] + evilNoSig + s[end:]),
		[]byte(strings.Replace(s, "ann@corp.example", "eve@corp.example", 1)),
		[]byte(strings.ReplaceAll(s, ">Ann<", ">Eve<")),
		[]byte(s[:start] + evilNoSig + s[end:]),
		[]byte(strings.Replace(s, "<saml:Subject>", "<saml:Subject>"+evilNoSig, 1)),
		[]byte(strings.Replace(s, `URI="#`, `URI="#x`, 1)),
		[]byte(strings.Replace(s, "<saml:NameID", "<!-- c --><saml:NameID", 1)),
		[]byte(strings.Replace(s, "ann@corp.example</saml:NameID>", "ann@corp.example<!---->.evil</saml:NameID>", 1)),
	}
}

// FuzzSAMLResponse mutates a response that crewjam's IdentityProvider
// signed, as XML and as its base64 form, and posts it to the connector.
// HandleResponse never panics, refuses with ErrInvalidResponse, and
// whatever it accepts carries exactly the signed assertion's subject,
// attributes and ID.
func FuzzSAMLResponse(f *testing.F) {
	fx := newSAMLFixture(f)
	f.Add(fx.response, false)
	f.Add([]byte(base64.StdEncoding.EncodeToString(fx.response)), true)
	for _, s := range samlWrapSeeds(fx.response) {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, isBase64 bool) {
		encoded := string(data)
		if !isBase64 {
			encoded = base64.StdEncoding.EncodeToString(data)
		}
		id, info, err := fx.handle(encoded)
		if err != nil {
			if !errors.Is(err, connectors.ErrInvalidResponse) {
				t.Fatalf("refused with %v, want ErrInvalidResponse", err)
			}
			return
		}
		if !reflect.DeepEqual(id, fx.identity) || info != fx.info {
			t.Fatalf("accepted a changed response:\nidentity %+v\nwant     %+v\ninfo %+v, want %+v", id, fx.identity, info, fx.info)
		}
	})
}
