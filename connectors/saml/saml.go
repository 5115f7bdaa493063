// Package saml signs users in through a SAML 2.0 identity provider
// (strategy `saml`) with crewjam/saml's ServiceProvider used directly:
// AuthnRequests by HTTP-Redirect, responses by HTTP-POST to the ACS.
//
// Beyond crewjam's checks (signature against the IdP's certificates,
// audience, recipient, destination, time window, InResponseTo), it requires
// the assertion itself to be signed (a signed Response around an unsigned
// assertion is refused), refuses SHA-1 signatures unless allow_sha1, keeps
// assertion IDs in a replay cache until NotOnOrAfter, refuses transient
// NameIDs unless user_id_attribute names a stable attribute, and accepts
// IdP-initiated responses only when idpinitiated.enabled.
package saml

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/mapping"
	"github.com/authgraph/authgraph/outbound"
)

// Provider is the provider of SAML users: user_id "samlp|<connection>|<id>".
const Provider = "samlp"

// Config is a `saml` connection's options (docs/CONNECTIONS.md) plus what the server
// knows. Example options:
//
//	{
//	  "metadataUrl": "https://idp.corp.example/saml/metadata",
//	  "fieldsMap": {"nickname": ["uid", "sAMAccountName"], "department": "dept"},
//	  "signSAMLRequest": true,
//	  "idpinitiated": {"enabled": false},
//	  "domain_aliases": ["corp.example"]
//	}
//
// or {"signInEndpoint": "https://idp…/sso", "signingCert": "-----BEGIN CERTIFICATE-----…"}.
type Config struct {
	Connection string
	// EntityID is the SP's entity ID; MetadataURL and ACSURL are
	// {issuer}saml/<connection>/metadata and …/acs.
	EntityID, MetadataURL, ACSURL string
	// IdP: metadata as XML, or fetched from a URL, or an SSO endpoint with
	// its signing certificate (PEM or base64 DER).
	IDPMetadataXML, IDPMetadataURL string
	SignInEndpoint, SigningCert    string
	// FieldsMap overrides the default attribute table (≤4 fallbacks each).
	FieldsMap map[string]any
	// UserIDAttribute names the attribute holding the user id instead of
	// the NameID (required for transient NameIDs).
	UserIDAttribute string
	// SignRequest signs AuthnRequests with Key/Certificate.
	SignRequest bool
	Key         crypto.Signer
	Certificate *x509.Certificate
	// AllowIDPInitiated accepts unsolicited responses.
	AllowIDPInitiated bool
	// AllowSHA1 accepts rsa-sha1/sha1 signatures (legacy IdPs only).
	AllowSHA1     bool
	DomainAliases []string
	// ReplayCache records accepted assertion IDs (required).
	ReplayCache crewjam.AssertionReplayCache
	// AllowPrivateNetwork lets metadataUrl be on loopback or a private
	// network, over plain http too (option allow_private_network; see
	// package outbound).
	AllowPrivateNetwork bool
	// Failures is shared by the connectors of one service (outbound).
	Failures *outbound.FailureCache
	// Clock is for tests.
	Clock *dsig.Clock
}

// FromOptions builds a Config from a connection's options; the caller adds
// the URLs, the replay cache and the SP key.
func FromOptions(name string, opts map[string]any) Config {
	s := func(k string) string { v, _ := opts[k].(string); return v }
	b := func(k string) bool { v, _ := opts[k].(bool); return v }
	fm, _ := opts["fieldsMap"].(map[string]any)
	ii, _ := opts["idpinitiated"].(map[string]any)
	idpInit, _ := ii["enabled"].(bool)
	return Config{
		Connection: name, IDPMetadataXML: s("metadataXml"), IDPMetadataURL: s("metadataUrl"),
		SignInEndpoint: s("signInEndpoint"), SigningCert: s("signingCert"), FieldsMap: fm,
		UserIDAttribute: s("user_id_attribute"), SignRequest: b("signSAMLRequest"),
		AllowIDPInitiated: idpInit, AllowSHA1: b("allow_sha1"), DomainAliases: mapping.Strings(opts["domain_aliases"]),
		AllowPrivateNetwork: b("allow_private_network"),
	}
}

// Connector is a SAMLConnector.
type Connector struct {
	cfg    Config
	table  mapping.Table
	acs    url.URL
	meta   url.URL
	client *http.Client

	// mu guards sp, the ServiceProvider with the IdP's metadata: known from
	// the start for metadataXml and signInEndpoint, fetched on first use
	// (never by the SP metadata endpoint) and kept for metadataUrl.
	mu sync.Mutex
	sp *crewjam.ServiceProvider
	// failed remembers a failed fetch, including metadata that came back
	// but does not parse, which the outbound failure cache does not see.
	failed     error
	failedTill time.Time
}

var _ connectors.SAMLConnector = (*Connector)(nil)

// New validates cfg. IdP metadata given inline is parsed now; metadata
// given by URL is fetched at the first login that needs it, so that a
// server starting, or the SP metadata being read, reaches no upstream.
func New(_ context.Context, cfg Config) (*Connector, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: saml: %s", connectors.ErrConfig, fmt.Sprintf(format, args...))
	}
	if cfg.ReplayCache == nil {
		return nil, bad("a replay cache is required")
	}
	acs, err := url.Parse(cfg.ACSURL)
	if err != nil || acs.Host == "" {
		return nil, bad("ACS URL %q", cfg.ACSURL)
	}
	meta, err := url.Parse(cfg.MetadataURL)
	if err != nil || meta.Host == "" {
		return nil, bad("metadata URL %q", cfg.MetadataURL)
	}
	table, err := mapping.Override(mapping.SAML, cfg.FieldsMap)
	if err != nil {
		return nil, err
	}
	if cfg.SignRequest && (cfg.Key == nil || cfg.Certificate == nil) {
		return nil, bad("signSAMLRequest needs the server's SP key")
	}
	c := &Connector{cfg: cfg, table: table, acs: *acs, meta: *meta,
		client: outbound.New(outbound.Options{AllowPrivateNetwork: cfg.AllowPrivateNetwork, MaxBody: maxMetadata, Failures: cfg.Failures})}
	if cfg.IDPMetadataURL == "" || cfg.IDPMetadataXML != "" {
		idp, err := idpMetadata(context.Background(), cfg, nil)
		if err != nil {
			return nil, err
		}
		c.sp = c.serviceProviderFor(idp)
	}
	return c, nil
}

// serviceProviderFor is crewjam's ServiceProvider for this connection; idp
// is nil for the SP metadata alone.
func (c *Connector) serviceProviderFor(idp *crewjam.EntityDescriptor) *crewjam.ServiceProvider {
	sp := &crewjam.ServiceProvider{
		EntityID: c.cfg.EntityID, AcsURL: c.acs, MetadataURL: c.meta, IDPMetadata: idp,
		AllowIDPInitiated:                c.cfg.AllowIDPInitiated,
		RejectSHA1Signatures:             !c.cfg.AllowSHA1,
		ReplayCache:                      c.cfg.ReplayCache,
		AssertionConsumerServiceBindings: []string{crewjam.HTTPPostBinding},
		AuthnNameIDFormat:                crewjam.UnspecifiedNameIDFormat,
		HTTPClient:                       c.client,
		Clock:                            c.cfg.Clock,
		LimitRelayStateLength:            true,
	}
	if c.cfg.SignRequest {
		sp.Key, sp.Certificate = c.cfg.Key, c.cfg.Certificate
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	} else if c.cfg.Certificate != nil {
		sp.Certificate = c.cfg.Certificate // published in the metadata only
	}
	return sp
}

// serviceProvider returns the ServiceProvider with the IdP's metadata,
// fetching it (through the outbound client, whose failure cache spares the
// IdP repeated attempts) the first time.
func (c *Connector) serviceProvider(ctx context.Context) (*crewjam.ServiceProvider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sp != nil {
		return c.sp, nil
	}
	if c.failed != nil && time.Now().Before(c.failedTill) {
		return nil, c.failed
	}
	idp, err := idpMetadata(ctx, c.cfg, c.client)
	if err != nil {
		if ctx.Err() == nil { // the caller giving up is not the IdP's failure
			c.failed, c.failedTill = err, time.Now().Add(outbound.DefaultFailureTTL)
		}
		return nil, err
	}
	c.sp = c.serviceProviderFor(idp)
	return c.sp, nil
}

// maxMetadata bounds fetched IdP metadata.
const maxMetadata = 1 << 20

func idpMetadata(ctx context.Context, cfg Config, client *http.Client) (*crewjam.EntityDescriptor, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: saml: %s", connectors.ErrConfig, fmt.Sprintf(format, args...))
	}
	raw := []byte(cfg.IDPMetadataXML)
	switch {
	case len(raw) > 0:
	case cfg.IDPMetadataURL != "":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.IDPMetadataURL, nil)
		if err != nil {
			return nil, bad("metadataUrl: %v", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, connectors.Unavailable(fmt.Errorf("saml: fetching IdP metadata: %w", err))
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, connectors.Unavailable(fmt.Errorf("saml: fetching IdP metadata: %s", resp.Status))
		}
		if raw, err = io.ReadAll(resp.Body); err != nil { // capped at maxMetadata
			return nil, connectors.Unavailable(fmt.Errorf("saml: fetching IdP metadata: %w", err))
		}
	case cfg.SignInEndpoint != "" && cfg.SigningCert != "":
		der, err := certDER(cfg.SigningCert)
		if err != nil {
			return nil, bad("signingCert: %v", err)
		}
		return &crewjam.EntityDescriptor{
			EntityID: cfg.SignInEndpoint,
			IDPSSODescriptors: []crewjam.IDPSSODescriptor{{
				SSODescriptor: crewjam.SSODescriptor{RoleDescriptor: crewjam.RoleDescriptor{
					ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
					KeyDescriptors: []crewjam.KeyDescriptor{{Use: "signing", KeyInfo: crewjam.KeyInfo{
						X509Data: crewjam.X509Data{X509Certificates: []crewjam.X509Certificate{{Data: base64.StdEncoding.EncodeToString(der)}}}}}},
				}},
				SingleSignOnServices: []crewjam.Endpoint{{Binding: crewjam.HTTPRedirectBinding, Location: cfg.SignInEndpoint}},
			}},
		}, nil
	default:
		return nil, bad("metadataXml, metadataUrl, or signInEndpoint with signingCert is required")
	}
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(raw, &ed); err != nil {
		return nil, bad("IdP metadata: %v", err)
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return nil, bad("IdP metadata has no IDPSSODescriptor")
	}
	return &ed, nil
}

func certDER(s string) ([]byte, error) {
	if b, _ := pem.Decode([]byte(s)); b != nil {
		return b.Bytes, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, errors.New("neither PEM nor base64 DER")
	}
	if _, err := x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	return der, nil
}

// Metadata implements connectors.SAMLConnector. No encryption key is
// advertised: encrypted assertions are refused (the assertion's own
// signature could only be checked after decryption), so IdPs must not
// encrypt.
// It is made from the configuration alone: reading it reaches no IdP.
func (c *Connector) Metadata() ([]byte, error) {
	md := c.serviceProviderFor(nil).Metadata()
	for i := range md.SPSSODescriptors {
		var kds []crewjam.KeyDescriptor
		for _, kd := range md.SPSSODescriptors[i].KeyDescriptors {
			if kd.Use != "encryption" {
				kds = append(kds, kd)
			}
		}
		md.SPSSODescriptors[i].KeyDescriptors = kds
	}
	return xml.MarshalIndent(md, "", "  ")
}

// AuthnRequest implements connectors.SAMLConnector.
func (c *Connector) AuthnRequest(ctx context.Context, relayState string) (string, string, error) {
	sp, err := c.serviceProvider(ctx)
	if err != nil {
		return "", "", err
	}
	loc := sp.GetSSOBindingLocation(crewjam.HTTPRedirectBinding)
	if loc == "" {
		return "", "", fmt.Errorf("%w: saml: the IdP has no HTTP-Redirect SSO endpoint", connectors.ErrConfig)
	}
	req, err := sp.MakeAuthenticationRequest(loc, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		return "", "", err
	}
	u, err := req.Redirect(relayState, sp)
	if err != nil {
		return "", "", err
	}
	return u.String(), req.ID, nil
}

// maxResponse bounds a decoded SAMLResponse.
const maxResponse = 512 << 10

const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
)

// checkAssertionSigned requires the response to carry exactly one
// assertion, in clear, with an enveloped signature of its own; crewjam then
// verifies that signature (a present signature must be valid).
func checkAssertionSigned(encoded string) error {
	if len(encoded) > maxResponse*4/3+4 {
		return connectors.Invalid("saml: response too large")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(encoded), ""))
	if err != nil {
		return connectors.Invalid("saml: SAMLResponse is not base64")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return connectors.Invalid("saml: SAMLResponse is not XML")
	}
	root := doc.Root()
	if root == nil || root.Tag != "Response" || root.NamespaceURI() != nsProtocol {
		return connectors.Invalid("saml: not a samlp:Response")
	}
	var assertions []*etree.Element
	for _, el := range root.ChildElements() {
		switch {
		case el.Tag == "EncryptedAssertion":
			return connectors.Invalid("saml: encrypted assertions are not supported")
		case el.Tag == "Assertion" && el.NamespaceURI() == nsAssertion:
			assertions = append(assertions, el)
		}
	}
	if len(assertions) != 1 {
		return connectors.Invalid("saml: the response must carry exactly one assertion, not %d", len(assertions))
	}
	a := assertions[0]
	id := a.SelectAttrValue("ID", "")
	for _, el := range a.ChildElements() {
		if el.Tag != "Signature" || el.NamespaceURI() != nsDSig {
			continue
		}
		for _, ref := range el.FindElements("./SignedInfo/Reference") {
			if id != "" && ref.SelectAttrValue("URI", "") == "#"+id {
				return nil
			}
		}
	}
	return connectors.Invalid("saml: the assertion is not signed (a signed response around an unsigned assertion is refused)")
}

// HandleResponse implements connectors.SAMLConnector. r's form must be
// parsed already (r.ParseForm), as crewjam reads r.PostForm.
func (c *Connector) HandleResponse(ctx context.Context, r *http.Request, possibleRequestIDs []string) (connectors.Identity, connectors.AssertionInfo, error) {
	var none connectors.Identity
	var info connectors.AssertionInfo
	if r.PostForm == nil {
		if err := r.ParseForm(); err != nil {
			return none, info, connectors.Invalid("saml: form: %v", err)
		}
	}
	// crewjam would resolve an artifact (a back-channel request to the
	// IdP) for a SAMLart anywhere in the form or the query string.
	if r.Form.Get("SAMLart") != "" {
		return none, info, connectors.Invalid("saml: the HTTP-Artifact binding is not accepted")
	}
	encoded := r.PostForm.Get("SAMLResponse")
	if encoded == "" {
		return none, info, connectors.Invalid("saml: no SAMLResponse (only the HTTP-POST binding is accepted)")
	}
	if err := checkAssertionSigned(encoded); err != nil {
		return none, info, err
	}
	if len(possibleRequestIDs) == 0 && !c.cfg.AllowIDPInitiated {
		return none, info, connectors.Invalid("saml: IdP-initiated login is not enabled for this connection")
	}
	sp, err := c.serviceProvider(ctx)
	if err != nil {
		return none, info, err
	}
	assertion, err := sp.ParseResponse(r, possibleRequestIDs)
	if err != nil {
		// PrivateErr says why; it goes to logs, never to the user.
		var ire *crewjam.InvalidResponseError
		if errors.As(err, &ire) && ire.PrivateErr != nil {
			err = ire.PrivateErr
		}
		return none, info, connectors.Invalid("saml: %v", err)
	}
	info.ID = assertion.ID
	if assertion.Conditions != nil {
		info.NotOnOrAfter = assertion.Conditions.NotOnOrAfter
	}
	raw := map[string]any{}
	for _, st := range assertion.AttributeStatements {
		for _, a := range st.Attributes {
			var vals []any
			for _, v := range a.Values {
				vals = append(vals, v.Value)
			}
			var val any = vals
			if len(vals) == 1 {
				val = vals[0]
			}
			if len(vals) == 0 {
				continue
			}
			raw[a.Name] = val
			if a.FriendlyName != "" && a.FriendlyName != a.Name {
				if _, taken := raw[a.FriendlyName]; !taken {
					raw[a.FriendlyName] = val
				}
			}
		}
	}
	var nameID, format string
	if assertion.Subject != nil && assertion.Subject.NameID != nil {
		nameID, format = strings.TrimSpace(assertion.Subject.NameID.Value), assertion.Subject.NameID.Format
		raw["nameIdAttributes"] = map[string]any{"value": nameID, "Format": format}
	}
	idValue := nameID
	if c.cfg.UserIDAttribute != "" {
		idValue = ""
		if vals := mapping.Strings(raw[c.cfg.UserIDAttribute]); len(vals) > 0 {
			idValue = vals[0]
		}
		if idValue == "" {
			return none, info, connectors.Invalid("saml: the assertion lacks the user_id_attribute %q", c.cfg.UserIDAttribute)
		}
	} else if format == string(crewjam.TransientNameIDFormat) {
		return none, info, connectors.Invalid("saml: a transient NameID changes at every login: set user_id_attribute")
	}
	if idValue == "" {
		return none, info, connectors.Invalid("saml: the assertion has no NameID")
	}
	id := connectors.Identity{Provider: Provider, Raw: raw}
	mapping.Apply(&id, c.table, raw)
	if id.Email == "" && strings.Contains(nameID, "@") && format == string(crewjam.EmailAddressNameIDFormat) {
		id.Email = nameID
	}
	id.UserID = c.cfg.Connection + "|" + idValue
	id.EmailVerified = id.Email != "" && mapping.VerifiedByDomain(id.Email, c.cfg.DomainAliases)
	return id, info, nil
}

// EntityID returns the SP's entity ID.
func (c *Connector) EntityID() string {
	if c.cfg.EntityID != "" {
		return c.cfg.EntityID
	}
	return c.cfg.MetadataURL
}
