package oidc

import (
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/internal/testenv"
)

// TestOpaqueSealer: only the key that sealed a token opens it, and any
// change to the token is refused.
func TestOpaqueSealer(t *testing.T) {
	a, _ := newOpaqueSealer(make([]byte, 32))
	b, _ := newOpaqueSealer([]byte("another key, 32 bytes long......"))
	c := &opaqueClaims{Grant: "grt_x", JTI: "j", Subject: "auth0|1", ClientID: "cid", Scope: "openid", IssuedAt: 1, Expiry: 2}
	tok, err := a.seal(c)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.open(tok); err != nil || *got != *c {
		t.Fatalf("open: %+v %v", got, err)
	}
	if tok2, _ := a.seal(c); tok2 == tok {
		t.Error("two tokens of the same claims are equal")
	}
	if _, err := b.open(tok); !errors.Is(err, errBadOpaque) {
		t.Errorf("opened with another key: %v", err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 1
		if _, err := a.open(base64.RawURLEncoding.EncodeToString(bad)); err == nil {
			t.Fatalf("byte %d altered: still opens", i)
		}
	}
	var nilSealer *opaqueSealer
	for _, s := range []string{"", "x", tok + "A", tok[:len(tok)-2]} {
		if _, err := a.open(s); err == nil {
			t.Errorf("%q opens", s)
		}
		if _, err := nilSealer.open(s); err == nil {
			t.Errorf("nil sealer opens %q", s)
		}
	}
}

// TestOpaqueAccessTokenExpiry: an opaque token stops working at its expiry,
// at /userinfo and in introspection.
func TestOpaqueAccessTokenExpiry(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), "")
	r := e.newRP(t, clients.TypeRegularWeb)
	tok, _ := r.tokens(t, e.newBrowser(e.newUser(t)), "openid")
	if st, _ := e.userinfo(t, tok.AccessToken); st != http.StatusOK {
		t.Fatalf("userinfo %d", st)
	}
	e.provider.now = func() time.Time { return time.Now().Add(DefaultAccessTokenLifetime + time.Second) }
	if st, _ := e.userinfo(t, tok.AccessToken); st != http.StatusUnauthorized {
		t.Errorf("expired token at userinfo: %d", st)
	}
	if _, m := e.form(t, "oauth/introspect", map[string][]string{"token": {tok.AccessToken}}, r.cfg.ClientID, r.cfg.ClientSecret); m["active"] != false {
		t.Errorf("expired token introspected as %v", m)
	}
}
