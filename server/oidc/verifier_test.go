package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/signingkey"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/secretbox"
)

// kidOf returns a JWT's kid header.
func kidOf(t testing.TB, raw string) string {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Protected.KeyID
}

// mint signs claims with key under kid.
func mint(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// goodClaims are the claims of a valid management token from e, issued to
// the m2m client "abc" (created on first use) with its current secret.
func goodClaims(e *env) map[string]any {
	now := time.Now().Unix()
	sys := authz.SystemContext(e.ctx)
	app, err := e.db.Ent.Application.Query().Where(application.ClientID("abc")).Only(sys)
	if ent.IsNotFound(err) {
		var c *clients.Created
		c, err = clients.Create(sys, e.db.Ent, clients.Params{Name: "abc", Type: clients.TypeM2M, ClientID: "abc",
			Scopes: []string{"read:users", "read:logs"}})
		if c != nil {
			app = c.Client
		}
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return map[string]any{
		"iss": e.issuer, "sub": "abc@clients", "aud": []string{authz.ManagementAudience(e.issuer)},
		"iat": now, "nbf": now, "exp": now + 3600, "jti": e.provider.verifier.machines.jti(app),
		"scope": "read:users read:logs", "client_id": "abc", "azp": "abc", "gty": "client-credentials",
	}
}

func with(base map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(base))
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestVerifier(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), "")
	ctx := context.Background()
	sk, err := e.keys.Signer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	priv := sk.Key().(*rsa.PrivateKey)
	kid := sk.ID()
	v := e.provider.Verifier()
	good := goodClaims(e)
	now := time.Now().Unix()

	viewer, err := v.Verify(ctx, mint(t, jose.RS256, priv, kid, good))
	if err != nil {
		t.Fatalf("valid token: %v", err)
	}
	if viewer.Subject != "abc@clients" || viewer.ClientID != "abc" || strings.Join(viewer.Scopes, " ") != "read:users read:logs" {
		t.Errorf("viewer %+v", viewer)
	}
	if viewer.IsSystem() || !viewer.HasScope("read:logs") || viewer.HasScope("delete:users") {
		t.Errorf("viewer rights %+v", viewer)
	}
	// A string aud and clock skew within the leeway are accepted.
	for name, c := range map[string]map[string]any{
		"string aud":          with(good, "aud", authz.ManagementAudience(e.issuer)),
		"aud among others":    with(good, "aud", []string{"https://other/", authz.ManagementAudience(e.issuer)}),
		"expired 20s ago":     with(good, "exp", now-20),
		"nbf 20s ahead":       with(good, "nbf", now+20, "iat", now+20),
		"no nbf, no iat":      with(good, "nbf", nil, "iat", nil),
		"azp but no clientid": with(good, "client_id", nil),
	} {
		if _, err := v.Verify(ctx, mint(t, jose.RS256, priv, kid, c)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := mint(t, jose.RS256, priv, kid, good)
	parts := strings.Split(valid, ".")
	tamperedClaims, _ := json.Marshal(with(good, "scope", "read:users delete:users create:users"))
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"` + kid + `"}`))

	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrMalformedToken},
		{"garbage", "not-a-token", ErrMalformedToken},
		{"huge", strings.Repeat("a", 20000), ErrMalformedToken},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedClaims) + "." + parts[2], ErrTokenSignature},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flipLast(parts[2]), ErrTokenSignature},
		{"wrong key, same kid", mint(t, jose.RS256, otherKey, kid, good), ErrTokenSignature},
		{"unknown kid", mint(t, jose.RS256, otherKey, "nope", good), ErrTokenKey},
		{"no kid", mint(t, jose.RS256, priv, "", good), ErrTokenKey},
		{"alg none", noneHeader + "." + parts[1] + ".", ErrTokenAlgorithm},
		{"HS256 keyed with the public key", mint(t, jose.HS256, pubDER, kid, good), ErrTokenAlgorithm},
		{"RS512", mint(t, jose.RS512, priv, kid, good), ErrTokenAlgorithm},
		{"PS256", mint(t, jose.PS256, priv, kid, good), ErrTokenAlgorithm},
		{"wrong audience", mint(t, jose.RS256, priv, kid, with(good, "aud", []string{"abc"})), ErrTokenAudience},
		{"issuer as audience", mint(t, jose.RS256, priv, kid, with(good, "aud", e.issuer)), ErrTokenAudience},
		{"no audience", mint(t, jose.RS256, priv, kid, with(good, "aud", nil)), ErrTokenAudience},
		{"wrong issuer", mint(t, jose.RS256, priv, kid, with(good, "iss", "https://evil.example.com/")), ErrTokenIssuer},
		{"issuer without slash", mint(t, jose.RS256, priv, kid, with(good, "iss", strings.TrimSuffix(e.issuer, "/"))), ErrTokenIssuer},
		{"expired", mint(t, jose.RS256, priv, kid, with(good, "exp", now-60)), ErrTokenExpired},
		{"no exp", mint(t, jose.RS256, priv, kid, with(good, "exp", nil)), ErrMalformedToken},
		{"not yet valid", mint(t, jose.RS256, priv, kid, with(good, "nbf", now+120)), ErrTokenNotYetValid},
		{"issued in the future", mint(t, jose.RS256, priv, kid, with(good, "iat", now+120)), ErrTokenNotYetValid},
		{"no sub", mint(t, jose.RS256, priv, kid, with(good, "sub", nil)), ErrMalformedToken},
		{"aud not a string", mint(t, jose.RS256, priv, kid, with(good, "aud", 42)), ErrMalformedToken},
	}
	for _, tc := range cases {
		_, err := v.Verify(ctx, tc.token)
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			continue
		}
		if tc.token != "" && strings.Contains(err.Error(), tc.token[:min(len(tc.token), 20)]) {
			t.Errorf("%s: error echoes the token", tc.name)
		}
	}

	// A real token from the endpoint for another issuer's verifier fails.
	c := e.client(clients.TypeM2M, "read:users")
	tok := fetch(t, e, c.Client.ClientID, c.Secret, oauth2.AuthStyleInHeader)
	if _, err := NewVerifier("https://elsewhere.example.com/", e.keys).Verify(ctx, tok.AccessToken); !errors.Is(err, ErrTokenIssuer) {
		t.Errorf("foreign verifier: %v", err)
	}
}

func flipLast(s string) string {
	b := []byte(s)
	if b[len(b)-2] == 'A' {
		b[len(b)-2] = 'B'
	} else {
		b[len(b)-2] = 'A'
	}
	return string(b)
}

func TestKeySet(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), "")
	ctx := authz.SystemContext(context.Background())
	rows, err := e.db.Ent.SigningKey.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Algorithm != "RS256" || rows[0].RetiredAt != nil {
		t.Fatalf("after Ensure: %d keys %+v", len(rows), rows)
	}
	row := rows[0]
	// Ensure is idempotent.
	if err := e.keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.db.Ent.SigningKey.Query().Count(ctx); n != 1 {
		t.Errorf("second Ensure made %d keys", n)
	}
	// The private key is sealed, bound to its kid, and a PKCS#8 RSA-2048 key.
	if _, err := e.box.Open(row.PrivateSealed, "signing_key:other"); err == nil {
		t.Error("sealed key opens with another kid")
	}
	der, err := e.box.Open(row.PrivateSealed, "signing_key:"+row.Kid)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	if k := parsed.(*rsa.PrivateKey); k.N.BitLen() != 2048 {
		t.Errorf("key size %d", k.N.BitLen())
	}
	// A wrong master key fails at start-up, not at the first token.
	wrongBox, _ := secretbox.New(secretbox.NewKey())
	if err := NewKeySet(e.db.Ent, wrongBox).Ensure(ctx); !errors.Is(err, secretbox.ErrOpen) {
		t.Errorf("Ensure with the wrong master key: %v", err)
	}
	// Unknown kids reload at most once per MinReload.
	ks := NewKeySet(e.db.Ent, e.box)
	if err := ks.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	first := ks.tried
	for range 50 {
		if _, _, err := ks.PublicKey(ctx, "random-kid"); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if ks.tried != first {
		t.Error("unknown kids reloaded within MinReload")
	}
	// Rotation retires the old key and keeps it in the JWKS.
	if err := ks.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := ks.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[1].ID() != row.Kid {
		t.Errorf("JWKS after rotation: %d keys", len(keys))
	}
	active, err := ks.Signer(ctx)
	if err != nil || active.ID() == row.Kid {
		t.Errorf("active after rotation: %v", err)
	}
	if n, _ := e.db.Ent.SigningKey.Query().Where(signingkey.RetiredAtIsNil()).Count(ctx); n != 1 {
		t.Errorf("%d active keys after rotation", n)
	}
}

// BenchmarkVerify measures Verifier.Verify on a cached key: the cost every
// management request pays.
func BenchmarkVerify(b *testing.B) {
	e := newEnv(b, testenv.SQLite(b), "")
	ctx := context.Background()
	sk, err := e.keys.Signer(ctx)
	if err != nil {
		b.Fatal(err)
	}
	raw := mint(b, jose.RS256, sk.Key(), sk.ID(), goodClaims(e))
	v := e.provider.Verifier()
	if _, err := v.Verify(ctx, raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, raw); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkClientCredentials measures client_credentials tokens over HTTP
// (client authentication on SQLite, RS256 signing).
func BenchmarkClientCredentials(b *testing.B) {
	e := newEnv(b, testenv.SQLite(b), "")
	c := e.client(clients.TypeM2M, "read:users")
	form := ccForm(c.Client.ClientID, c.Secret).Encode()
	hc := e.srv.Client()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := hc.Post(e.tokenURL, "application/x-www-form-urlencoded", strings.NewReader(form))
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
