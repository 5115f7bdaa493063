package server

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"sync"
	"time"

	"github.com/authgraph/authgraph/connectors/upstream"
)

// newUpstream builds the service behind logins through LDAP, OIDC and SAML
// connections: connectors are built from each connection's options and its
// sealed secrets, upstream tokens are sealed with the master key's box, and
// SAML AuthnRequests are signed with the OpenID Provider's active signing
// key (one key pair per tenant, as Auth0 does).
func newUpstream(d *Deps) *upstream.Service {
	s := &upstream.Service{
		DB: d.DB.Ent, Connections: d.Connections, Sealer: d.Box, Logger: d.Logger,
		Issuer: d.Config.Issuer, SPKey: samlSPKey(d),
		Passwords: d.Auth.Passwords, // one bound for every password hash of the node
		Metrics:   d.Metrics,
	}
	if d.Rules != nil { // custom-database scripts run on the rules engine
		s.Scripts = d.Rules.Engine
	}
	return s
}

// samlSPKey returns the active signing key with a self-signed certificate
// for it (SAML metadata carries certificates), made once per key.
func samlSPKey(d *Deps) upstream.SPKeyFunc {
	var mu sync.Mutex
	var lastKey *rsa.PrivateKey
	var lastCert *x509.Certificate
	return func(ctx context.Context) (crypto.Signer, *x509.Certificate, error) {
		sk, err := d.Keys.Signer(ctx)
		if err != nil {
			return nil, nil, err
		}
		key, ok := sk.Key().(*rsa.PrivateKey)
		if !ok {
			return nil, nil, errors.New("saml: the signing key is not RSA")
		}
		mu.Lock()
		defer mu.Unlock()
		if lastKey != nil && lastKey.Equal(key) {
			return lastKey, lastCert, nil
		}
		host := d.Config.Issuer
		if u, err := url.Parse(d.Config.Issuer); err == nil {
			host = u.Host
		}
		serial := sha256.Sum256([]byte(sk.ID()))
		tmpl := &x509.Certificate{
			SerialNumber: new(big.Int).SetBytes(serial[:16]),
			Subject:      pkix.Name{CommonName: host},
			// Fixed dates: every node makes the same certificate for a key
			// (RSA PKCS#1 v1.5 signatures are deterministic), so the SP
			// metadata does not change from node to node.
			NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:  time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
			KeyUsage:  x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return nil, nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, err
		}
		lastKey, lastCert = key, cert
		return key, cert, nil
	}
}
