package clients

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/store"
)

// CacheTTL is how long Cache uses a client read from the database: the
// longest a change made by another process (another node, the CLI) takes
// to apply here. Changes made through this process apply at once.
const CacheTTL = 2 * time.Second

// cacheSize bounds the cached client ids (unknown ones included).
const cacheSize = 4096

// Cache serves the OpenID Provider's client lookups (every authorize, login
// page and token request makes one or two) from memory. Entries live at
// most CacheTTL and are dropped as soon as any client is created, changed
// or deleted through the same ent client (store.Cache). Unknown ids are
// cached too, so a known and an unknown client_id take the same time.
// The returned *ent.Application is shared: do not modify it.
type Cache struct {
	db *ent.Client
	c  *store.Cache[string, *ent.Application]
}

// NewCache returns a cache of db's clients.
func NewCache(db *ent.Client) *Cache {
	return &Cache{db: db, c: store.NewCache[string, *ent.Application](db, CacheTTL, cacheSize, ent.TypeApplication).Named("clients").KeepTTL()}
}

// Get returns the client with this client_id, nil when there is none. It
// reads as the system.
func (c *Cache) Get(ctx context.Context, clientID string) (*ent.Application, error) {
	return c.c.Get(ctx, clientID, func(ctx context.Context) (*ent.Application, error) {
		app, err := c.db.Application.Query().Where(application.ClientID(clientID)).Only(authz.SystemContext(ctx))
		if ent.IsNotFound(err) {
			return nil, nil
		}
		return app, err
	})
}

// Authenticate is the package's Authenticate through the cache: the secret's
// SHA-256 is compared in constant time with the stored one.
func (c *Cache) Authenticate(ctx context.Context, clientID, secret string) (*ent.Application, error) {
	app, err := c.Get(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return checkSecret(app, secret)
}

// checkSecret returns app when secret is its secret, else ErrInvalidClient;
// the same work is done whether app is nil, secretless or not.
func checkSecret(app *ent.Application, secret string) (*ent.Application, error) {
	want := dummyHash
	if app != nil && app.SecretHash != nil {
		want = *app.SecretHash
	}
	ok := subtle.ConstantTimeCompare(HashSecret(secret), want) == 1
	if app == nil || app.SecretHash == nil || !ok || secret == "" {
		return nil, ErrInvalidClient
	}
	return app, nil
}
