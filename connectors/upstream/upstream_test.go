package upstream

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/upstreamstate"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var sys = authz.SystemContext(context.Background())

type spMeta struct{ s *Service }

func (p spMeta) GetServiceProvider(_ *http.Request, id string) (*crewjam.EntityDescriptor, error) {
	md, err := p.s.SAMLMetadata(sys, "acme")
	if err != nil {
		return nil, err
	}
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(md, &ed); err != nil || ed.EntityID != id {
		return nil, os.ErrNotExist
	}
	return &ed, nil
}

// TestSAMLStateAndReplayCache drives StartSAML and ACS with crewjam's
// IdentityProvider: the RelayState's pending request is single use, the
// assertion ID is kept in the database, and refused responses write nothing
// but a log event.
func TestSAMLStateAndReplayCache(t *testing.T) {
	for _, b := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}} {
		t.Run(b.name, func(t *testing.T) {
			db, err := store.Open(context.Background(), b.dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			box, _ := secretbox.New(secretbox.NewKey())
			conns := &connections.Service{Box: box}
			s := &Service{DB: db.Ent, Connections: conns, Sealer: box, Issuer: "https://ag.test/", Logger: slog.New(slog.DiscardHandler)}

			key, _ := rsa.GenerateKey(rand.Reader, 2048)
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
			der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
			cert, _ := x509.ParseCertificate(der)
			md, _ := url.Parse("https://idp.test/metadata")
			sso, _ := url.Parse("https://idp.test/sso")
			idp := &crewjam.IdentityProvider{Key: key, Signer: key, Certificate: cert, MetadataURL: *md, SSOURL: *sso,
				SignatureMethod: dsig.RSASHA256SignatureMethod, ServiceProviderProvider: spMeta{s}}
			idpXML, _ := xml.Marshal(idp.Metadata())
			if _, err := conns.Create(sys, db.Ent, connections.CreateParams{Name: "acme", Strategy: "saml",
				Options: map[string]any{"metadataXml": string(idpXML)}}); err != nil {
				t.Fatal(err)
			}

			red, err := s.StartSAML(sys, "acme", "arq_1")
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", red.URL, nil)
			req, err := crewjam.NewIdpAuthnRequest(idp, r)
			if err == nil {
				err = req.Validate()
			}
			if err != nil {
				t.Fatal(err)
			}
			session := &crewjam.Session{ID: "x", NameID: "rr@acme.test", NameIDFormat: string(crewjam.EmailAddressNameIDFormat), UserEmail: "rr@acme.test"}
			if err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(req, session); err != nil {
				t.Fatal(err)
			}
			form, err := req.PostBinding()
			if err != nil {
				t.Fatal(err)
			}
			post := func() *http.Request {
				body := url.Values{"SAMLResponse": {form.SAMLResponse}, "RelayState": {form.RelayState}}.Encode()
				p := httptest.NewRequest("POST", form.URL, strings.NewReader(body))
				p.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				p.ParseForm()
				return p
			}
			// Posted by a browser without the RelayState's binding: refused,
			// and nothing consumed, so the right browser still completes.
			if _, loginReq, err := s.ACS(sys, "acme", post(), false); !errors.Is(err, ErrOtherBrowser) || loginReq != "" {
				t.Fatalf("unbound browser: %q %v", loginReq, err)
			}
			if n := db.Ent.User.Query().CountX(sys); n != 0 {
				t.Fatalf("users after a refused response: %d", n)
			}
			res, loginReq, err := s.ACS(sys, "acme", post(), true)
			if err != nil {
				t.Fatal(err)
			}
			if loginReq != "arq_1" || res.User.UserID != "samlp|acme|rr@acme.test" {
				t.Fatalf("ACS: %q %+v", loginReq, res.User)
			}
			kinds := map[upstreamstate.Kind]int{}
			for _, st := range db.Ent.UpstreamState.Query().AllX(sys) {
				kinds[st.Kind]++
			}
			if kinds[upstreamstate.KindSamlRequest] != 0 || kinds[upstreamstate.KindSamlAssertion] != 1 {
				t.Fatalf("state after ACS: %v", kinds)
			}
			users := db.Ent.User.Query().CountX(sys)
			// Again: the RelayState is used up (so it reads as IdP-initiated,
			// which is off), and the assertion is in the replay cache.
			_, loginReq, err = s.ACS(sys, "acme", post(), true)
			if !errors.Is(err, connectors.ErrInvalidResponse) || loginReq != "" {
				t.Fatalf("second POST: %q %v", loginReq, err)
			}
			if n := db.Ent.User.Query().CountX(sys); n != users {
				t.Fatalf("users %d -> %d", users, n)
			}
			if n := db.Ent.LogEvent.Query().Where(logevent.Type("f"), logevent.Connection("acme")).CountX(sys); n != 2 {
				t.Fatalf("f events: %d", n)
			}
			// Replay cache directly: a second Consume of one id fails.
			rc := &replayCache{s: s, conn: "acme"}
			if err := rc.Consume("id-1", time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := rc.Consume("id-1", time.Now().Add(time.Minute)); !errors.Is(err, crewjam.ErrAssertionReplayed) {
				t.Fatalf("replayed id: %v", err)
			}
		})
	}
}
