package oidc

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	jose "github.com/go-jose/go-jose/v4"
)

// JWT header types.
const (
	typeAccessToken = "at+jwt" // RFC 9068
	typeIDToken     = "JWT"
)

// signerCache keeps, per (key, typ), the encoded JWS protected header, so
// signing is the RSA operation plus two base64 encodings.
type signerCache struct {
	m sync.Map // kid + "|" + typ → string: base64url(header) + "."
	n atomic.Int32
}

func newSignerCache() *signerCache { return &signerCache{} }

// sign signs claims with the active key and header typ.
func (p *Provider) sign(ctx context.Context, typ string, claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return p.signPayload(ctx, typ, payload)
}

// jwsHeader is the protected header of our tokens, in the order go-jose
// wrote it (sorted names).
type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// signPayload returns the RS256 JWS compact serialisation of payload (JSON)
// with the active key and header typ. The key has its CRT values
// precomputed (KeySet.openPrivate).
func (p *Provider) signPayload(ctx context.Context, typ string, payload []byte) (string, error) {
	key, err := p.keys.Signer(ctx)
	if err != nil {
		return "", err
	}
	priv, ok := key.Key().(*rsa.PrivateKey)
	if !ok {
		return "", fmt.Errorf("signing key %s is not an RSA key", key.ID())
	}
	cacheKey := key.ID() + "|" + typ
	var head string
	if v, ok := p.signers.m.Load(cacheKey); ok {
		head = v.(string)
	} else {
		h, err := json.Marshal(jwsHeader{Alg: string(jose.RS256), Kid: key.ID(), Typ: typ})
		if err != nil {
			return "", err
		}
		head = base64.RawURLEncoding.EncodeToString(h) + "."
		if p.signers.n.Add(1) > 16 { // old keys after rotations
			p.signers.m.Clear()
			p.signers.n.Store(1)
		}
		p.signers.m.Store(cacheKey, head)
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(head)+enc.EncodedLen(len(payload))+1+enc.EncodedLen(priv.Size()))
	buf = append(buf, head...)
	buf = enc.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)
	sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// errBadJWT is any token that is not one of ours.
var errBadJWT = errors.New("not a valid token of this issuer")

// parsedJWT is a verified token of this issuer.
type parsedJWT struct {
	typ    string
	claims map[string]any
}

func (t *parsedJWT) str(name string) string {
	s, _ := t.claims[name].(string)
	return s
}

func (t *parsedJWT) num(name string) (int64, bool) {
	f, ok := t.claims[name].(float64)
	return int64(f), ok
}

func (t *parsedJWT) audiences() []string {
	switch v := t.claims["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, a := range v {
			if s, ok := a.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// parseJWT verifies the signature (RS256, a key of the KeySet) and issuer of
// one of our tokens. Expiry is the caller's business (an expired
// id_token_hint is still a good hint).
func (p *Provider) parseJWT(ctx context.Context, raw string) (*parsedJWT, error) {
	if raw == "" || len(raw) > maxTokenBytes {
		return nil, errBadJWT
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errBadJWT
	}
	h := jws.Signatures[0].Protected
	if h.KeyID == "" {
		return nil, errBadJWT
	}
	key, err := p.keys.PublicKey(ctx, h.KeyID)
	if errors.Is(err, ErrUnknownKey) {
		return nil, errBadJWT
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, errBadJWT
	}
	t := &parsedJWT{}
	if typ, ok := h.ExtraHeaders[jose.HeaderType].(string); ok {
		t.typ = typ
	}
	if err := json.Unmarshal(payload, &t.claims); err != nil {
		return nil, errBadJWT
	}
	if t.str("iss") != p.issuer || t.str("sub") == "" {
		return nil, errBadJWT
	}
	return t, nil
}

// leftHalfHash is at_hash (OIDC Core §3.1.3.6) for RS256.
func leftHalfHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// hashToken is how codes and refresh tokens are stored: SHA-256, hex. They
// are 256-bit random values, so a fast hash is enough.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newSecret returns 256 random bits, base64url.
func newSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// grantJTI makes an access token's jti: the grant id, a dot, 128 random
// bits. Userinfo, introspection, revocation and the management Verifier read
// the grant back from it.
func grantJTI(grantID string) string { return grantJTIOf(grantID, newTokenID()) }

// grantJTIOf is the jti of a token of grant grantID with random part r.
func grantJTIOf(grantID, r string) string { return grantID + "." + r }

// grantFromJTI returns the grant id of a user access token's jti.
func grantFromJTI(jti string) (string, bool) {
	id, _, ok := strings.Cut(jti, ".")
	if !ok || !strings.HasPrefix(id, "grt_") {
		return "", false
	}
	return id, true
}
