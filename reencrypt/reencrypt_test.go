package reencrypt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/reencrypt"
	"github.com/authgraph/authgraph/rulesrun"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/server/oidc"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// seed stores n secrets of every kind sealed with box, the way their
// owners seal them.
func seed(t *testing.T, db *store.DB, box *secretbox.Box, n int) {
	t.Helper()
	ctx := authz.SystemContext(context.Background())
	if err := oidc.NewKeySet(db.Ent, box).Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("upstream-%d", i)
		sec, _ := json.Marshal(map[string]any{"client_secret": "s3cret"})
		conn, err := db.Ent.Connection.Create().SetName(name).SetStrategy(connection.StrategyOidc).
			SetSecretsSealed(box.Seal(sec, "connection-secrets:"+name)).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r, err := db.Ent.Rule.Create().SetName(fmt.Sprintf("rule-%d", i)).SetModule([]byte("\x00asm")).SetVersion("1").SetEnabled(false).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rs, _ := json.Marshal(map[string]string{"API_KEY": "k"})
		if err := r.Update().SetSecretsSealed(box.Seal(rs, "rule-secrets:"+string(r.ID))).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		u, err := db.Ent.User.Create().SetUserID(fmt.Sprintf("oidc|%d", i)).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a, err := db.Ent.Authenticator.Create().SetUserRef(u.ID).SetType(authenticator.TypeTotp).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Update().SetSecretSealed(box.Seal([]byte("JBSWY3DPEHPK3PXP"), "authenticator:"+string(a.ID)+":user:"+string(u.ID))).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		up := fmt.Sprintf("sub-%d", i)
		tok, _ := json.Marshal(connectors.Tokens{AccessToken: "at"})
		if err := db.Ent.Identity.Create().SetOwnerID(u.ID).SetConnectionID(conn.ID).SetProvider("oidc").SetUpstreamID(up).
			SetTokensSealed(box.Seal(tok, identity.TokensAD(name, up))).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// openAll opens every stored secret with box through its owner's code; it
// returns the first failure.
func openAll(t *testing.T, db *store.DB, box *secretbox.Box) error {
	t.Helper()
	ctx := authz.SystemContext(context.Background())
	if err := oidc.NewKeySet(db.Ent, box).Ensure(ctx); err != nil {
		return err
	}
	keys, err := db.Ent.SigningKey.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, err := box.Open(k.PrivateSealed, oidc.SealAD(k.Kid)); err != nil {
			return fmt.Errorf("signing key %s: %w", k.Kid, err)
		}
	}
	conns, err := db.Ent.Connection.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, c := range conns {
		names[string(c.ID)] = c.Name
		if _, err := (&connections.Service{Box: box}).Secrets(c); err != nil {
			return err
		}
	}
	rules, err := db.Ent.Rule.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if _, err := (&rulesrun.Service{Box: box}).Secrets(r); err != nil {
			return err
		}
	}
	auths, err := db.Ent.Authenticator.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range auths {
		if _, err := box.Open(*a.SecretSealed, "authenticator:"+string(a.ID)+":user:"+string(a.UserRef)); err != nil {
			return fmt.Errorf("authenticator %s: %w", a.ID, err)
		}
	}
	idns, err := db.Ent.Identity.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, idn := range idns {
		if _, err := identity.OpenTokens(box, names[string(idn.ConnectionID)], idn); err != nil {
			return fmt.Errorf("identity %s: %w", idn.ID, err)
		}
	}
	return nil
}

// Secrets of every kind sealed under A open with "B,A"; reencrypt moves
// them to B, after which "B" alone opens them. An interrupted run resumes.
func TestReencrypt(t *testing.T) {
	for _, b := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, b.dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			keyA, keyB := secretbox.NewKey(), secretbox.NewKey()
			boxA, _ := secretbox.New(keyA)
			boxBA, _ := secretbox.New(keyB, keyA)
			boxB, _ := secretbox.New(keyB)
			const n = 7
			seed(t, db, boxA, n)
			if err := openAll(t, db, boxBA); err != nil {
				t.Fatalf("B,A before reencrypt: %v", err)
			}
			if err := openAll(t, db, boxB); !errors.Is(err, secretbox.ErrOpen) {
				t.Fatalf("B alone before reencrypt = %v, want ErrOpen", err)
			}

			// Interrupted after the third batch of one row.
			stopCtx, stop := context.WithCancel(ctx)
			batches := 0
			_, err = reencrypt.Run(stopCtx, db.SQL, db.Dialect, boxBA, reencrypt.Options{BatchSize: 1, Progress: func(reencrypt.Counts) {
				if batches++; batches == 3 {
					stop()
				}
			}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run = %v", err)
			}
			// Resumed: what the first run did is skipped.
			counts, err := reencrypt.Run(ctx, db.SQL, db.Dialect, boxBA, reencrypt.Options{BatchSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			resealed, current := 0, 0
			for _, c := range counts {
				resealed += c.Resealed
				current += c.Current
			}
			total := 1 + 4*n // one signing key, n of each other kind
			if resealed+current != total || current != 3 {
				t.Errorf("resumed run: %d re-sealed, %d current; want %d in all, 3 current (done before the interruption): %+v", resealed, current, total, counts)
			}
			if err := openAll(t, db, boxB); err != nil {
				t.Fatalf("B alone after reencrypt: %v", err)
			}
			// A second run finds nothing to do.
			counts, err = reencrypt.Run(ctx, db.SQL, db.Dialect, boxB, reencrypt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range counts {
				if c.Resealed != 0 || c.Changed != 0 {
					t.Errorf("second run changed %s: %+v", c.Kind, c)
				}
			}
			// A box without the key that sealed a value stops with a
			// typed error.
			_, err = reencrypt.Run(ctx, db.SQL, db.Dialect, boxA, reencrypt.Options{})
			if !errors.Is(err, reencrypt.ErrUnopenable) {
				t.Fatalf("run with only the old key = %v, want ErrUnopenable", err)
			}
		})
	}
}
