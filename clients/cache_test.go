package clients_test

import (
	"context"
	"errors"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestCache: the cache authenticates like Authenticate, and a rotated secret
// or a deleted client stops working at once.
func TestCache(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, testenv.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sys := authz.SystemContext(ctx)
	cache := clients.NewCache(db.Ent)
	if app, err := cache.Get(ctx, "nope"); app != nil || err != nil {
		t.Fatalf("unknown client: %v %v", app, err)
	}
	c, err := clients.Create(sys, db.Ent, clients.Params{Name: "m2m", Type: clients.TypeM2M})
	if err != nil {
		t.Fatal(err)
	}
	// Created after "nope"-style misses: a new client is found at once.
	if app, err := cache.Authenticate(ctx, c.Client.ClientID, c.Secret); err != nil || app.ClientID != c.Client.ClientID {
		t.Fatalf("authenticate: %v %v", app, err)
	}
	for _, bad := range []string{"", "wrong", c.Secret + "x"} {
		if _, err := cache.Authenticate(ctx, c.Client.ClientID, bad); !errors.Is(err, clients.ErrInvalidClient) {
			t.Errorf("secret %q: %v", bad, err)
		}
	}
	if _, err := cache.Authenticate(ctx, "nope", c.Secret); !errors.Is(err, clients.ErrInvalidClient) {
		t.Errorf("unknown client: %v", err)
	}
	secret, err := clients.RotateSecret(sys, db.Ent, c.Client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Authenticate(ctx, c.Client.ClientID, c.Secret); !errors.Is(err, clients.ErrInvalidClient) {
		t.Errorf("old secret after rotation: %v", err)
	}
	if _, err := cache.Authenticate(ctx, c.Client.ClientID, secret); err != nil {
		t.Errorf("new secret: %v", err)
	}
	if err := db.Ent.Application.DeleteOneID(c.Client.ID).Exec(sys); err != nil {
		t.Fatal(err)
	}
	if app, err := cache.Get(ctx, c.Client.ClientID); app != nil || err != nil {
		t.Errorf("deleted client: %v %v", app, err)
	}
}
