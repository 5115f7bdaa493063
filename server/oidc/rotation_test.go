package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/signingkey"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/rbac"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/store"
)

// clock is a settable time for KeySets.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func jwksKIDs(t *testing.T, ks *KeySet) []string {
	t.Helper()
	keys, err := ks.PublicKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range keys {
		out = append(out, k.ID())
	}
	return out
}

func signerKID(t *testing.T, ks *KeySet) string {
	t.Helper()
	k, err := ks.Signer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return k.ID()
}

// signWith makes a compact JWS with ks's active RS256 key.
func signWith(t *testing.T, ks *KeySet) string {
	t.Helper()
	k, err := ks.Signer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.SignatureAlgorithm(), Key: jose.JSONWebKey{Key: k.Key(), KeyID: k.ID()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign([]byte(`{"sub":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}

// verifies reports whether ks verifies a token it signed earlier.
func verifies(ks *KeySet, token string) bool {
	jws, err := jose.ParseSigned(token, ourAlgorithms)
	if err != nil {
		return false
	}
	key, alg, err := ks.PublicKey(context.Background(), jws.Signatures[0].Protected.KeyID)
	if err != nil || string(alg) != jws.Signatures[0].Protected.Algorithm {
		return false
	}
	_, err = jws.Verify(key)
	return err == nil
}

// A scheduled rotation publishes the successor PublishAhead before it
// signs, is done once by two nodes on the same database, switches every
// node at the activation time, and keeps the old key verifying for
// Retention.
func TestScheduledRotation(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, b.dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			migrateMu.Lock()
			_, err = db.Migrate(ctx)
			migrateMu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			box, _ := secretbox.New(secretbox.NewKey())
			clk := &clock{t: time.Now()}
			node := func() *KeySet {
				ks := NewKeySet(db.Ent, box)
				ks.now = clk.now
				ks.RotationPeriod = 10 * 24 * time.Hour
				ks.PublishAhead = 24 * time.Hour
				return ks
			}
			a, b2 := node(), node()
			if err := a.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			if err := b2.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			old := signerKID(t, a)
			oldToken := signWith(t, a)
			t0 := clk.now()

			// Not yet due: nothing happens.
			clk.set(t0.Add(8 * 24 * time.Hour))
			if changed, err := a.RotateIfDue(ctx); err != nil || changed {
				t.Fatalf("RotateIfDue before the window = %v, %v", changed, err)
			}

			// In the publish window: both nodes run the schedule at once,
			// one successor is stored.
			clk.set(t0.Add(9*24*time.Hour + time.Hour))
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, ks := range []*KeySet{a, b2} {
				wg.Go(func() { _, errs[i] = ks.RotateIfDue(ctx) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			rows, err := db.Ent.SigningKey.Query().Where(signingkey.RetiredAtIsNil()).All(authz.SystemContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 {
				t.Fatalf("%d unretired keys after two nodes rotated, want 2 (the active one and one successor)", len(rows))
			}
			next := successorKID(old)
			for _, ks := range []*KeySet{a, b2} {
				if kids := jwksKIDs(t, ks); !slices.Contains(kids, next) || !slices.Contains(kids, old) {
					t.Fatalf("JWKS before activation = %v, want the successor %s and the active %s", kids, next, old)
				}
				if got := signerKID(t, ks); got != old {
					t.Fatalf("signing before activation with %s, want %s", got, old)
				}
			}

			// The successor activates when the period ends, but never
			// less than PublishAhead after it was published.
			published := clk.now()
			succ, err := db.Ent.SigningKey.Query().Where(signingkey.Kid(next)).Only(authz.SystemContext(ctx))
			if err != nil || succ.ActivatesAt == nil {
				t.Fatalf("successor row: %v", err)
			}
			act := *succ.ActivatesAt
			if act.Before(published.Add(a.PublishAhead)) || act.Before(t0.Add(a.RotationPeriod)) {
				t.Fatalf("successor activates at %v: published %v, period ends after %v", act, published, t0.Add(a.RotationPeriod))
			}
			clk.set(act.Add(-time.Minute))
			for _, ks := range []*KeySet{a, b2} {
				if got := signerKID(t, ks); got != old {
					t.Fatalf("signing a minute before activation with %s, want %s", got, old)
				}
			}

			// A minute after activation every node signs with the
			// successor, without waiting for a reload.
			clk.set(act.Add(time.Minute))
			for _, ks := range []*KeySet{a, b2} {
				if got := signerKID(t, ks); got != next {
					t.Fatalf("signing after activation with %s, want %s", got, next)
				}
				if !verifies(ks, oldToken) {
					t.Fatal("a token of the old key no longer verifies right after the rotation")
				}
			}
			newToken := signWith(t, b2)
			if !verifies(a, newToken) {
				t.Fatal("node a does not verify node b's token of the new key")
			}
			// The schedule records the old key's retirement (once).
			if _, err := a.RotateIfDue(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := b2.RotateIfDue(ctx); err != nil {
				t.Fatal(err)
			}
			oldRow, err := db.Ent.SigningKey.Query().Where(signingkey.Kid(old)).Only(authz.SystemContext(ctx))
			if err != nil || oldRow.RetiredAt == nil {
				t.Fatalf("old key retired_at not recorded: %v", err)
			}
			if d := oldRow.RetiredAt.Sub(act); d < -time.Second || d > time.Second {
				t.Errorf("old key retired at %v, want its successor's activation %v", oldRow.RetiredAt, act)
			}
			// Within Retention the old key verifies; after, it is gone.
			clk.set(act.Add(a.Retention - time.Minute))
			if !verifies(a, oldToken) {
				t.Fatal("old key's token refused within Retention")
			}
			clk.set(act.Add(a.Retention + time.Minute))
			if verifies(a, oldToken) {
				t.Fatal("old key's token accepted after Retention")
			}
			if kids := jwksKIDs(t, a); slices.Contains(kids, old) {
				t.Fatalf("JWKS after Retention still has the old key: %v", kids)
			}
			// The next period's successor is published in its window.
			clk.set(act.Add(9*24*time.Hour + time.Hour))
			if changed, err := a.RotateIfDue(ctx); err != nil || !changed {
				t.Fatalf("second rotation = %v, %v", changed, err)
			}
			if kids := jwksKIDs(t, a); !slices.Contains(kids, successorKID(next)) {
				t.Fatalf("second successor not published: %v", kids)
			}
		})
	}
}

// Access tokens of an API with signing_alg ES256 or EdDSA are signed with a
// key of that algorithm, which the JWKS publishes; a verifier that knows
// only the JWKS (go-jose) accepts them. ID tokens and other APIs stay RS256.
func TestAccessTokenAlgorithms(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), "")
	e.provider.authorization = rbac.NewAuthorizer(e.db.Ent)
	sys := authz.SystemContext(e.ctx)
	c := e.client("m2m")
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		ident := "urn:api:" + strings.ToLower(alg)
		name := alg + " API"
		a := alg
		if _, err := apis.Create(sys, e.db.Ent, e.issuer, apis.Params{Identifier: ident, Name: &name,
			Scopes: []apis.Scope{{"value": "read", "description": ""}}, SigningAlg: &a}); err != nil {
			t.Fatal(err)
		}
		if _, err := (rbac.Manager{DB: e.db.Ent, Issuer: e.issuer}).CreateClientGrant(sys, c.Client.ClientID, ident, []string{"read"}); err != nil {
			t.Fatal(err)
		}
		r := e.post(ccForm(c.Client.ClientID, c.Secret, "audience", ident), "", "")
		if r.status != http.StatusOK {
			t.Fatalf("%s token: %d %s", alg, r.status, r.body)
		}
		token, _ := r.json(t)["access_token"].(string)

		resp, err := e.srv.Client().Get(e.provider.URL(JWKSPath))
		if err != nil {
			t.Fatal(err)
		}
		var set jose.JSONWebKeySet
		err = json.NewDecoder(resp.Body).Decode(&set)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
		if err != nil {
			t.Fatalf("%s token is not an %s JWS: %v", alg, alg, err)
		}
		kid := jws.Signatures[0].Protected.KeyID
		found := set.Key(kid)
		if len(found) != 1 || found[0].Algorithm != alg {
			t.Fatalf("JWKS has no %s key %s: %+v", alg, kid, found)
		}
		payload, err := jws.Verify(found[0].Key)
		if err != nil {
			t.Fatalf("%s token does not verify against the JWKS: %v", alg, err)
		}
		if !strings.Contains(string(payload), ident) {
			t.Errorf("%s token payload %s", alg, payload)
		}
		// The issuer's own checks (introspection) accept it too.
		if _, err := e.provider.parseJWT(e.ctx, token); err != nil {
			t.Errorf("parseJWT(%s token): %v", alg, err)
		}
	}
	// Unknown algorithms are refused with a typed error and change nothing.
	bad := "HS256"
	name := "bad"
	if _, err := apis.Create(sys, e.db.Ent, e.issuer, apis.Params{Identifier: "urn:api:bad", Name: &name, SigningAlg: &bad}); !errors.Is(err, apis.ErrInvalid) {
		t.Fatalf("signing_alg HS256 = %v, want ErrInvalid", err)
	}
	if n, _ := e.db.Ent.ResourceServer.Query().Count(sys); n != 3 {
		t.Errorf("%d resource servers after a refused create, want 3", n)
	}
}
