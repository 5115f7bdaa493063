package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
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

// sign signs claims with the active RS256 key and header typ.
func (p *Provider) sign(ctx context.Context, typ string, claims map[string]any) (string, error) {
	return p.signAlg(ctx, jose.RS256, typ, claims)
}

// signAlg signs claims with the active key of alg and header typ.
func (p *Provider) signAlg(ctx context.Context, alg jose.SignatureAlgorithm, typ string, claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return p.signPayloadAlg(ctx, alg, typ, payload)
}

// apiAlg is the signing algorithm of an API's access tokens (RS256 unless
// the API chose another).
func apiAlg(api *API) jose.SignatureAlgorithm {
	if api == nil || api.SigningAlg == "" {
		return jose.RS256
	}
	return jose.SignatureAlgorithm(api.SigningAlg)
}

// jwsHeader is the protected header of our tokens, in the order go-jose
// wrote it (sorted names).
type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// signPayload returns the RS256 JWS compact serialisation of payload (JSON)
// with the active key and header typ.
func (p *Provider) signPayload(ctx context.Context, typ string, payload []byte) (string, error) {
	return p.signPayloadAlg(ctx, jose.RS256, typ, payload)
}

// signPayloadAlg returns the JWS compact serialisation of payload (JSON)
// signed by the active key of alg, with header typ. RSA keys have their
// CRT values precomputed (KeySet.openPrivate).
func (p *Provider) signPayloadAlg(ctx context.Context, alg jose.SignatureAlgorithm, typ string, payload []byte) (string, error) {
	key, err := p.keys.SignerFor(ctx, alg)
	if err != nil {
		return "", err
	}
	cacheKey := key.ID() + "|" + typ
	var head string
	if v, ok := p.signers.m.Load(cacheKey); ok {
		head = v.(string)
	} else {
		h, err := json.Marshal(jwsHeader{Alg: string(key.SignatureAlgorithm()), Kid: key.ID(), Typ: typ})
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
	buf := make([]byte, 0, len(head)+enc.EncodedLen(len(payload))+1+enc.EncodedLen(512))
	buf = append(buf, head...)
	buf = enc.AppendEncode(buf, payload)
	sig, err := jwsSignature(key.Key(), buf)
	if err != nil {
		return "", fmt.Errorf("signing key %s: %w", key.ID(), err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// jwsSignature signs the JWS signing input with key (RFC 7518 §3.3 RS256,
// §3.4 ES256: R‖S of 32 bytes each, RFC 8037 EdDSA).
func jwsSignature(key any, input []byte) ([]byte, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		digest := sha256.Sum256(input)
		return rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	case ed25519.PrivateKey:
		return ed25519.Sign(k, input), nil
	}
	return nil, fmt.Errorf("unsupported key type %T", key)
}

// ourAlgorithms are the JWS algorithms our keys sign with.
var ourAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

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

// parseJWT verifies the signature (a key of the KeySet, with its algorithm) and issuer of
// one of our tokens. Expiry is the caller's business (an expired
// id_token_hint is still a good hint).
func (p *Provider) parseJWT(ctx context.Context, raw string) (*parsedJWT, error) {
	if raw == "" || len(raw) > maxTokenBytes {
		return nil, errBadJWT
	}
	jws, err := jose.ParseSigned(raw, ourAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errBadJWT
	}
	h := jws.Signatures[0].Protected
	if h.KeyID == "" {
		return nil, errBadJWT
	}
	key, alg, err := p.keys.PublicKey(ctx, h.KeyID)
	if errors.Is(err, ErrUnknownKey) {
		return nil, errBadJWT
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	if h.Algorithm != string(alg) {
		return nil, errBadJWT // a key signs with its own algorithm only
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
