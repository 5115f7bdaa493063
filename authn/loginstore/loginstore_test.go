package loginstore_test

import (
	"context"
	"testing"

	"github.com/authgraph/authgraph/authn/loginstore"
	"github.com/authgraph/authgraph/authn/loginstore/storetest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// open is a new migrated database at dsn, closed when t ends.
func open(t *testing.T, dsn string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestEntSQLite(t *testing.T) {
	db := open(t, testenv.SQLite(t))
	storetest.Run(t, db.Ent, &loginstore.Ent{DB: db.Ent})
}

func TestEntPostgres(t *testing.T) {
	db := open(t, testenv.Postgres(t))
	storetest.Run(t, db.Ent, &loginstore.Ent{DB: db.Ent})
}

func TestPostgres(t *testing.T) {
	db := open(t, testenv.Postgres(t))
	storetest.Run(t, db.Ent, &loginstore.Postgres{DB: db})
}

// TestNew: one statement on Postgres, ent's transaction elsewhere.
func TestNew(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db := open(t, testenv.SQLite(t))
		s, ok := loginstore.New(db.Ent).(*loginstore.Ent)
		if !ok || s.DB != db.Ent {
			t.Errorf("New on SQLite: %#v, want *Ent on the client", loginstore.New(db.Ent))
		}
	})
	t.Run("postgres", func(t *testing.T) {
		db := open(t, testenv.Postgres(t))
		s, ok := loginstore.New(db.Ent).(*loginstore.Postgres)
		if !ok || s.DB != db {
			t.Errorf("New on Postgres: %#v, want *Postgres on the database", loginstore.New(db.Ent))
		}
	})
}
