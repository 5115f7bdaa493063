package oidc

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authgraph/authgraph/internal/testenv"
)

// TestSignPayloadIsGoJoseCompatible: our RS256 compact JWS has the header
// go-jose writes and verifies with go-jose.
func TestSignPayloadIsGoJoseCompatible(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), "")
	payload := []byte(`{"iss":"x","sub":"y","n":1}`)
	tok, err := e.provider.signPayload(e.ctx, typeAccessToken, payload)
	if err != nil {
		t.Fatal(err)
	}
	key, err := e.keys.Signer(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	priv := key.Key().(*rsa.PrivateKey)
	want, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: key.ID()}},
		(&jose.SignerOptions{}).WithType(typeAccessToken))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := want.Sign(payload)
	refTok, _ := ref.CompactSerialize()
	// PKCS #1 v1.5 is deterministic: the same key, header and payload give
	// the same token.
	if tok != refTok {
		t.Fatalf("token differs from go-jose's:\n%s\n%s", tok, refTok)
	}
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	got, err := jws.Verify(&priv.PublicKey)
	if err != nil || string(got) != string(payload) {
		t.Fatalf("verify: %v %s", err, got)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := jws.Verify(&other.PublicKey); err == nil {
		t.Fatal("verifies with another key")
	}
	if strings.Count(tok, ".") != 2 {
		t.Fatal(tok)
	}
}
