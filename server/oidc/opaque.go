package oidc

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"

	"golang.org/x/crypto/chacha20poly1305"
)

// Opaque access tokens. A user access token without an `audience` is good
// only at /userinfo (docs/SCOPES.md: Auth0 issues an opaque token then), so no
// resource server ever needs to read it: unless the rules added access token
// claims (which clients may read), it is not a JWT but a value only this
// issuer can open. That saves an RSA signature per login and refresh
// (about a third of their CPU outside the password hash).
//
// The token is XChaCha20-Poly1305 over its claims, with a key derived from
// the provider's CryptoKey (so every node opens every node's tokens) and a
// random 192-bit nonce: nobody else can read, forge or alter it. It is
// checked exactly like the JWT it replaces: it carries its expiry, and its
// grant (the same one a JWT's jti names) must exist, belong to the client
// and not be revoked, so logout, revocation (RFC 7009, which revokes the
// grant), refresh-token reuse and identity.RevokeAccess (block, delete,
// password change) all end it; /userinfo also refuses a blocked or deleted
// user. Introspection reports the same fields as for a JWT. It is not
// stored: like the JWT, it lives in the client only.

// opaqueVersion prefixes the sealed bytes, so the format can change.
const opaqueVersion byte = 1

// opaqueAD binds the ciphertext to its use.
var opaqueAD = []byte("authgraph userinfo access token v1")

// maxOpaqueTokenBytes bounds what is decoded (ours are ~400 characters).
const maxOpaqueTokenBytes = 4 << 10

// opaqueClaims are what an opaque access token says.
type opaqueClaims struct {
	Grant    string `json:"g"`
	JTI      string `json:"j"`
	Subject  string `json:"s"`
	ClientID string `json:"c"`
	Scope    string `json:"sc"`
	IssuedAt int64  `json:"i"`
	Expiry   int64  `json:"e"`
}

// opaqueSealer seals and opens opaque access tokens. Safe for concurrent
// use.
// The first AEAD seals; all open (the others come from previous master
// keys, so a master key rotation does not end live tokens).
type opaqueSealer struct{ aeads []cipher.AEAD }

var errBadOpaque = errors.New("not an opaque access token of this issuer")

func newOpaqueSealer(cryptoKeys ...[]byte) (*opaqueSealer, error) {
	s := &opaqueSealer{}
	for _, ck := range cryptoKeys {
		key, err := hkdf.Key(sha256.New, ck, nil, "authgraph opaque access token", chacha20poly1305.KeySize)
		if err != nil {
			return nil, err
		}
		aead, err := chacha20poly1305.NewX(key)
		if err != nil {
			return nil, err
		}
		s.aeads = append(s.aeads, aead)
	}
	if len(s.aeads) == 0 {
		return nil, errors.New("oidc: no crypto key")
	}
	return s, nil
}

// seal returns the token for c.
func (s *opaqueSealer) seal(c *opaqueClaims) (string, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	aead := s.aeads[0]
	ns := aead.NonceSize()
	buf := make([]byte, 1+ns, 1+ns+len(plain)+aead.Overhead())
	buf[0] = opaqueVersion
	if _, err := rand.Read(buf[1:]); err != nil {
		return "", err
	}
	sealed := aead.Seal(buf, buf[1:1+ns], plain, opaqueAD)
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// open returns the claims of a token sealed by seal, or errBadOpaque.
// Expiry and the grant are the caller's to check.
func (s *opaqueSealer) open(token string) (*opaqueClaims, error) {
	if s == nil || len(token) < 64 || len(token) > maxOpaqueTokenBytes {
		return nil, errBadOpaque
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	ns := s.aeads[0].NonceSize()
	if err != nil || len(raw) < 1+ns+s.aeads[0].Overhead() || raw[0] != opaqueVersion {
		return nil, errBadOpaque
	}
	var plain []byte
	for _, aead := range s.aeads {
		if plain, err = aead.Open(nil, raw[1:1+ns], raw[1+ns:], opaqueAD); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errBadOpaque
	}
	var c opaqueClaims
	if err := json.Unmarshal(plain, &c); err != nil || c.Grant == "" || c.Subject == "" {
		return nil, errBadOpaque
	}
	return &c, nil
}
