package saml

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/outbound"
)

type memCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (m *memCache) Consume(id string, exp time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	if _, ok := m.seen[id]; ok {
		return crewjam.ErrAssertionReplayed
	}
	m.seen[id] = exp
	return nil
}

func keyPair(t testing.TB, cn string) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

type spProvider struct{ md *crewjam.EntityDescriptor }

func (p spProvider) GetServiceProvider(_ *http.Request, id string) (*crewjam.EntityDescriptor, error) {
	if p.md == nil || id != p.md.EntityID {
		return nil, os.ErrNotExist
	}
	return p.md, nil
}

// testIdP is crewjam's IdentityProvider driven by hand, so tests can bend
// the assertion before it is signed.
type testIdP struct {
	t   testing.TB
	idp *crewjam.IdentityProvider
}

func mustURL(s string) url.URL { u, _ := url.Parse(s); return *u }

func newIdP(t testing.TB) *testIdP {
	key, cert := keyPair(t, "idp.test")
	return &testIdP{t: t, idp: &crewjam.IdentityProvider{
		Key: key, Signer: key, Certificate: cert,
		MetadataURL: mustURL("https://idp.test/metadata"), SSOURL: mustURL("https://idp.test/sso"),
		SignatureMethod: dsig.RSASHA256SignatureMethod,
	}}
}

func (p *testIdP) metadataXML() string {
	b, err := xml.Marshal(p.idp.Metadata())
	if err != nil {
		p.t.Fatal(err)
	}
	return string(b)
}

const acsURL = "https://ag.test/saml/corp/acs"

func newSP(t testing.TB, idp *testIdP, mod func(*Config)) (*Connector, *memCache) {
	t.Helper()
	cache := &memCache{}
	cfg := Config{Connection: "corp", MetadataURL: "https://ag.test/saml/corp/metadata", ACSURL: acsURL,
		IDPMetadataXML: idp.metadataXML(), ReplayCache: cache, DomainAliases: []string{"corp.example"}}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	md, err := c.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(md, &ed); err != nil {
		t.Fatal(err)
	}
	idp.idp.ServiceProviderProvider = spProvider{&ed}
	return c, cache
}

var ann = &crewjam.Session{ID: "s1", NameID: "ann@corp.example", NameIDFormat: string(crewjam.EmailAddressNameIDFormat),
	UserName: "ann", UserEmail: "ann@corp.example", UserGivenName: "Ann", UserSurname: "Smith", UserCommonName: "Ann Smith",
	Groups: []string{"admins", "staff"}}

// respond answers the SP's AuthnRequest (or, with requestURL "", makes an
// IdP-initiated response) as a POST to the ACS. bend changes the assertion
// before it is signed; sign=false leaves it unsigned (the Response is still
// signed).
func (p *testIdP) respond(requestURL string, session *crewjam.Session, bend func(*crewjam.Assertion), sign bool) *http.Request {
	p.t.Helper()
	var req *crewjam.IdpAuthnRequest
	var err error
	if requestURL == "" {
		req, err = p.idp.NewIdpInitiatedRequest(httptest.NewRequest("GET", "https://idp.test/sso", nil),
			"https://ag.test/saml/corp/metadata", "")
	} else {
		req, err = crewjam.NewIdpAuthnRequest(p.idp, httptest.NewRequest("GET", requestURL, nil))
		if err == nil {
			err = req.Validate()
		}
	}
	if err != nil {
		p.t.Fatal(err)
	}
	if err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(req, session); err != nil {
		p.t.Fatal(err)
	}
	if bend != nil {
		bend(req.Assertion)
	}
	if sign {
		if err := req.MakeAssertionEl(); err != nil {
			p.t.Fatal(err)
		}
	} else {
		req.AssertionEl = req.Assertion.Element()
	}
	form, err := req.PostBinding()
	if err != nil {
		p.t.Fatal(err)
	}
	body := url.Values{"SAMLResponse": {form.SAMLResponse}, "RelayState": {form.RelayState}}.Encode()
	r := httptest.NewRequest("POST", form.URL, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := r.ParseForm(); err != nil {
		p.t.Fatal(err)
	}
	return r
}

func start(t *testing.T, c *Connector) (string, string) {
	t.Helper()
	u, id, err := c.AuthnRequest(context.Background(), "rs-1")
	if err != nil {
		t.Fatal(err)
	}
	return u, id
}

func TestSAMLLogin(t *testing.T) {
	idp := newIdP(t)
	c, cache := newSP(t, idp, func(cfg *Config) {
		cfg.FieldsMap = map[string]any{"nickname": []any{"nope", "urn:oid:0.9.2342.19200300.100.1.1"}, "name": "cn"}
	})
	u, reqID := start(t, c)
	if !strings.HasPrefix(u, "https://idp.test/sso?") || !strings.Contains(u, "RelayState=rs-1") {
		t.Fatalf("AuthnRequest URL %s", u)
	}
	id, info, err := c.HandleResponse(context.Background(), idp.respond(u, ann, nil, true), []string{reqID})
	if err != nil {
		t.Fatal(err)
	}
	if id.FullUserID() != "samlp|corp|ann@corp.example" || id.Email != "ann@corp.example" || !id.EmailVerified ||
		id.GivenName != "Ann" || id.FamilyName != "Smith" || id.Nickname != "ann" || id.Name != "Ann Smith" {
		t.Fatalf("identity: %+v", id)
	}
	if info.ID == "" || info.NotOnOrAfter.Before(time.Now()) || len(cache.seen) != 1 {
		t.Fatalf("assertion info %+v, cache %v", info, cache.seen)
	}
	if id.Raw["mail"] != "ann@corp.example" {
		t.Fatalf("raw: %v", id.Raw)
	}

	// A domain outside domain_aliases is not verified.
	other := *ann
	other.NameID, other.UserEmail = "eve@elsewhere.test", "eve@elsewhere.test"
	u, reqID = start(t, c)
	id, _, err = c.HandleResponse(context.Background(), idp.respond(u, &other, nil, true), []string{reqID})
	if err != nil || id.EmailVerified {
		t.Fatalf("foreign domain: %+v %v", id, err)
	}
}

func refused(t *testing.T, err error, want string) {
	t.Helper()
	if !errors.Is(err, connectors.ErrInvalidResponse) {
		t.Fatalf("accepted or wrong error: %v", err)
	}
	if want != "" && !strings.Contains(strings.ToLower(err.Error()), want) {
		t.Fatalf("error %q lacks %q", err, want)
	}
	t.Log(err)
}

func TestSAMLRefusals(t *testing.T) {
	ctx := context.Background()
	t.Run("unsigned assertion in a signed response", func(t *testing.T) {
		idp := newIdP(t)
		c, cache := newSP(t, idp, nil)
		u, reqID := start(t, c)
		_, _, err := c.HandleResponse(ctx, idp.respond(u, ann, nil, false), []string{reqID})
		refused(t, err, "not signed")
		if len(cache.seen) != 0 {
			t.Fatal("refused assertion recorded")
		}
	})
	t.Run("wrongly signed", func(t *testing.T) {
		idp := newIdP(t)
		c, _ := newSP(t, idp, nil)
		other, _ := keyPair(t, "evil")
		idp.idp.Key, idp.idp.Signer = other, other
		u, reqID := start(t, c)
		_, _, err := c.HandleResponse(ctx, idp.respond(u, ann, nil, true), []string{reqID})
		refused(t, err, "")
	})
	t.Run("wrong audience", func(t *testing.T) {
		idp := newIdP(t)
		c, _ := newSP(t, idp, nil)
		u, reqID := start(t, c)
		_, _, err := c.HandleResponse(ctx, idp.respond(u, ann, func(a *crewjam.Assertion) {
			a.Conditions.AudienceRestrictions[0].Audience = crewjam.Audience{Value: "https://other.test/metadata"}
		}, true), []string{reqID})
		refused(t, err, "audience")
	})
	t.Run("expired", func(t *testing.T) {
		idp := newIdP(t)
		c, _ := newSP(t, idp, nil)
		u, reqID := start(t, c)
		_, _, err := c.HandleResponse(ctx, idp.respond(u, ann, func(a *crewjam.Assertion) {
			past := time.Now().Add(-time.Hour)
			a.Conditions.NotOnOrAfter = past
			for i := range a.Subject.SubjectConfirmations {
				a.Subject.SubjectConfirmations[i].SubjectConfirmationData.NotOnOrAfter = past
			}
		}, true), []string{reqID})
		refused(t, err, "expired")
	})
	t.Run("replayed", func(t *testing.T) {
		idp := newIdP(t)
		c, _ := newSP(t, idp, nil)
		u, reqID := start(t, c)
		post := idp.respond(u, ann, nil, true)
		form := post.PostForm.Encode()
		if _, _, err := c.HandleResponse(ctx, post, []string{reqID}); err != nil {
			t.Fatal(err)
		}
		again := httptest.NewRequest("POST", acsURL, strings.NewReader(form))
		again.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		again.ParseForm()
		_, _, err := c.HandleResponse(ctx, again, []string{reqID})
		refused(t, err, "already been used")
	})
	t.Run("sha1", func(t *testing.T) {
		idp := newIdP(t)
		idp.idp.SignatureMethod = dsig.RSASHA1SignatureMethod
		c, _ := newSP(t, idp, nil)
		u, reqID := start(t, c)
		_, _, err := c.HandleResponse(ctx, idp.respond(u, ann, nil, true), []string{reqID})
		refused(t, err, "sha-1")
		// allow_sha1 accepts it.
		c2, _ := newSP(t, idp, func(cfg *Config) { cfg.AllowSHA1 = true })
		u, reqID = start(t, c2)
		if _, _, err := c2.HandleResponse(ctx, idp.respond(u, ann, nil, true), []string{reqID}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("idp-initiated off", func(t *testing.T) {
		idp := newIdP(t)
		c, _ := newSP(t, idp, nil)
		_, _, err := c.HandleResponse(ctx, idp.respond("", ann, nil, true), nil)
		refused(t, err, "idp-initiated")
		on, _ := newSP(t, idp, func(cfg *Config) { cfg.AllowIDPInitiated = true })
		if _, _, err := on.HandleResponse(ctx, idp.respond("", ann, nil, true), nil); err != nil {
			t.Fatalf("idp-initiated enabled: %v", err)
		}
	})
	t.Run("response to another request", func(t *testing.T) {
		idp := newIdP(t)
		c, _ := newSP(t, idp, nil)
		u, _ := start(t, c)
		_, _, err := c.HandleResponse(ctx, idp.respond(u, ann, nil, true), []string{"id-someone-elses"})
		refused(t, err, "")
	})
	t.Run("transient nameid", func(t *testing.T) {
		idp := newIdP(t)
		c, _ := newSP(t, idp, nil)
		tr := *ann
		tr.NameID, tr.NameIDFormat = "_0a1b2c", string(crewjam.TransientNameIDFormat)
		u, reqID := start(t, c)
		_, _, err := c.HandleResponse(ctx, idp.respond(u, &tr, nil, true), []string{reqID})
		refused(t, err, "transient")
		c2, _ := newSP(t, idp, func(cfg *Config) { cfg.UserIDAttribute = "urn:oid:0.9.2342.19200300.100.1.1" })
		u, reqID = start(t, c2)
		id, _, err := c2.HandleResponse(ctx, idp.respond(u, &tr, nil, true), []string{reqID})
		if err != nil || id.UserID != "corp|ann" {
			t.Fatalf("user_id_attribute: %v %v", id.UserID, err)
		}
	})
}

func TestSignedAuthnRequestAndMetadata(t *testing.T) {
	idp := newIdP(t)
	key, cert := keyPair(t, "sp")
	c, _ := newSP(t, idp, func(cfg *Config) { cfg.SignRequest, cfg.Key, cfg.Certificate = true, key, cert })
	u, _ := start(t, c)
	q := mustURL(u)
	if q.Query().Get("Signature") == "" || !strings.Contains(q.Query().Get("SigAlg"), "sha256") {
		t.Fatalf("AuthnRequest not signed: %s", u)
	}
	md, _ := c.Metadata()
	for _, want := range []string{`entityID="https://ag.test/saml/corp/metadata"`, `Location="` + acsURL + `"`, "X509Certificate"} {
		if !strings.Contains(string(md), want) {
			t.Fatalf("metadata lacks %s:\n%s", want, md)
		}
	}
	if strings.Contains(string(md), "HTTP-Artifact") {
		t.Fatal("metadata advertises the artifact binding")
	}
	if _, err := New(context.Background(), Config{Connection: "x", ACSURL: acsURL, MetadataURL: acsURL, ReplayCache: &memCache{},
		IDPMetadataXML: idp.metadataXML(), SignRequest: true}); !errors.Is(err, connectors.ErrConfig) {
		t.Fatalf("signSAMLRequest without key: %v", err)
	}
}

// BenchmarkHandleResponse measures ACS handling of one signed response
// (parse, signature checks, conditions, replay cache, mapping); the
// response is made once and the replay cache reset around each call.
func BenchmarkHandleResponse(b *testing.B) {
	idp := newIdP(b)
	c, cache := newSP(b, idp, nil)
	u, reqID, err := c.AuthnRequest(context.Background(), "rs-1")
	if err != nil {
		b.Fatal(err)
	}
	post := idp.respond(u, ann, nil, true)
	body := post.PostForm.Encode()
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		cache.seen = nil
		start := time.Now()
		r := httptest.NewRequest("POST", acsURL, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.ParseForm()
		if _, _, err := c.HandleResponse(context.Background(), r, []string{reqID}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	// The issue asks for the median ACS handling time, not only the mean.
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// IdP metadata given by URL is fetched through the outbound client, once,
// at the first login, never for the SP metadata; a loopback URL is refused
// without allow_private_network.
func TestMetadataURL(t *testing.T) {
	idp := newIdP(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, idp.metadataXML())
	}))
	defer srv.Close()
	build := func(allow bool) *Connector {
		c, err := New(context.Background(), Config{Connection: "corp", MetadataURL: "https://ag.test/saml/corp/metadata", ACSURL: acsURL,
			IDPMetadataURL: srv.URL + "/metadata", ReplayCache: &memCache{}, AllowPrivateNetwork: allow})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	strict := build(false)
	if md, err := strict.Metadata(); err != nil || !strings.Contains(string(md), acsURL) {
		t.Fatalf("SP metadata: %v", err)
	}
	if _, _, err := strict.AuthnRequest(context.Background(), "rs"); !errors.Is(err, connectors.ErrUnavailable) || !errors.Is(err, outbound.ErrSchemeRefused) {
		t.Fatalf("loopback metadataUrl: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("loopback IdP reached %d times", n)
	}

	c := build(true)
	if _, err := c.Metadata(); err != nil || hits.Load() != 0 {
		t.Fatalf("SP metadata fetched the IdP's: %v, %d hits", err, hits.Load())
	}
	md, _ := c.Metadata()
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(md, &ed); err != nil {
		t.Fatal(err)
	}
	idp.idp.ServiceProviderProvider = spProvider{&ed}
	for range 3 {
		u, reqID := start(t, c)
		if _, _, err := c.HandleResponse(context.Background(), idp.respond(u, ann, nil, true), []string{reqID}); err != nil {
			t.Fatal(err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("IdP metadata fetched %d times, want once", n)
	}

	// Metadata that comes back but does not parse is not fetched again at
	// every login either.
	var bad atomic.Int32
	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad.Add(1)
		io.WriteString(w, "<html>not metadata</html>")
	}))
	defer junk.Close()
	jc, err := New(context.Background(), Config{Connection: "corp", MetadataURL: "https://ag.test/saml/corp/metadata", ACSURL: acsURL,
		IDPMetadataURL: junk.URL, ReplayCache: &memCache{}, AllowPrivateNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := jc.AuthnRequest(context.Background(), "rs"); !errors.Is(err, connectors.ErrConfig) {
			t.Fatalf("unparsable metadata: %v", err)
		}
	}
	if n := bad.Load(); n != 1 {
		t.Fatalf("unparsable metadata fetched %d times, want once", n)
	}
}

// Only the HTTP-POST binding: a SAMLart (in the form or the query) would
// make crewjam call the IdP's artifact service.
func TestArtifactRefused(t *testing.T) {
	idp := newIdP(t)
	c, _ := newSP(t, idp, nil)
	u, reqID := start(t, c)
	post := idp.respond(u, ann, nil, true)
	for _, target := range []string{acsURL + "?SAMLart=AAQAAM", acsURL} {
		form := post.PostForm
		if !strings.Contains(target, "?") {
			form = url.Values{"SAMLResponse": form["SAMLResponse"], "RelayState": form["RelayState"], "SAMLart": {"AAQAAM"}}
		}
		r := httptest.NewRequest("POST", target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.ParseForm()
		_, _, err := c.HandleResponse(context.Background(), r, []string{reqID})
		refused(t, err, "artifact")
	}
}
