package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/migrate"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backends is the storage conformance matrix: every test below runs on the
// embedded SQLite default and on Postgres.
var backends = []struct {
	name string
	dsn  func(testing.TB) string
}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}}

func open(t *testing.T, dsn string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.WithLock(ctx, func(ctx context.Context) error { _, err := db.Migrate(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	return db
}

func forEach(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, open(t, b.dsn(t))) })
	}
}

var sys = authz.SystemContext(context.Background())

func newConn(t *testing.T, db *store.DB, name string) *ent.Connection {
	t.Helper()
	c, err := db.Ent.Connection.Create().SetName(name).SetStrategy(connection.StrategyDatabase).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newUser(t *testing.T, db *store.DB, userID string) *ent.User {
	t.Helper()
	u, err := db.Ent.User.Create().SetUserID(userID).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestMigrationsAreVersionedAndIdempotent(t *testing.T) {
	forEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		v, err := db.Version(ctx)
		if err != nil || v != store.LatestVersion() {
			t.Fatalf("version = %d, %v; want %d", v, err, store.LatestVersion())
		}
		applied, err := db.Migrate(ctx)
		if err != nil || len(applied) != 0 {
			t.Fatalf("second migrate applied %v, %v", applied, err)
		}
	})
}

func TestConcurrentMigrationsTakeTheLock(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.WithLock(ctx, func(ctx context.Context) error { _, err := db.Migrate(ctx); return err })
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migration failed: %v", err)
		}
	}
	db := open(t, dsn)
	var n int
	if err := db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM authgraph_schema_migrations").Scan(&n); err != nil || n != store.LatestVersion() {
		t.Fatalf("migration rows = %d, %v; each version must be recorded once", n, err)
	}
}

func TestIDsArePrefixedAndResolveToTypes(t *testing.T) {
	seen := map[string]bool{}
	for prefix, typ := range pulid.Types {
		if len(prefix) != pulid.PrefixLen || !strings.HasSuffix(prefix, "_") {
			t.Errorf("prefix %q must be %d characters ending in _", prefix, pulid.PrefixLen)
		}
		if seen[typ] {
			t.Errorf("type %s has two prefixes", typ)
		}
		seen[typ] = true
		got, err := pulid.IDToType(context.Background(), pulid.MustNew(prefix))
		if err != nil || got != typ {
			t.Errorf("IDToType(%s…) = %q, %v; want %s", prefix, got, err, typ)
		}
	}
	if _, err := pulid.IDToType(context.Background(), "zzz_123"); !errors.Is(err, pulid.ErrUnknownPrefix) {
		t.Errorf("unknown prefix resolved: %v", err)
	}
	forEach(t, func(t *testing.T, db *store.DB) {
		u := newUser(t, db, "auth0|prefix")
		if u.ID.Prefix() != "usr_" {
			t.Fatalf("user id %q lacks usr_ prefix", u.ID)
		}
		n, err := db.Ent.Noder(sys, u.ID, ent.WithNodeType(pulid.IDToType))
		if err != nil || n.(*ent.User).UserID != "auth0|prefix" {
			t.Fatalf("Noder = %v, %v", n, err)
		}
	})
}

func TestConcurrentInsertsGetUniqueIDs(t *testing.T) {
	forEach(t, func(t *testing.T, db *store.DB) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := db.Ent.User.Create().SetUserID(fmt.Sprintf("auth0|c%d", i)).Save(sys)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := db.Ent.User.Query().CountX(sys); n != 64 {
			t.Fatalf("count = %d", n)
		}
	})
}

func TestIdentityUniqueness(t *testing.T) {
	forEach(t, func(t *testing.T, db *store.DB) {
		c1, c2 := newConn(t, db, "db-one"), newConn(t, db, "db-two")
		u1, u2 := newUser(t, db, "auth0|u1"), newUser(t, db, "auth0|u2")
		mk := func(u *ent.User, c *ent.Connection, upstream, email string) error {
			q := db.Ent.Identity.Create().SetOwnerID(u.ID).SetConnectionID(c.ID).SetProvider("auth0").SetUpstreamID(upstream)
			if email != "" {
				q.SetEmailLower(email)
			}
			return q.Exec(sys)
		}
		if err := mk(u1, c1, "1", "a@x.io"); err != nil {
			t.Fatal(err)
		}
		// Same email in the same connection: refused.
		if err := mk(u2, c1, "2", "a@x.io"); !ent.IsConstraintError(err) {
			t.Fatalf("duplicate email in a connection: %v", err)
		}
		// Same upstream id in the same connection: refused.
		if err := mk(u2, c1, "1", ""); !ent.IsConstraintError(err) {
			t.Fatalf("duplicate upstream id in a connection: %v", err)
		}
		// Same email and upstream id in another connection: two identities.
		if err := mk(u2, c2, "1", "a@x.io"); err != nil {
			t.Fatalf("other connection: %v", err)
		}
		// Non-database identities (no email_lower) never collide on NULL.
		if err := mk(u2, c1, "3", ""); err != nil {
			t.Fatal(err)
		}
		if err := mk(u1, c1, "4", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Ent.User.Create().SetUserID("auth0|u1").Save(sys); !ent.IsConstraintError(err) {
			t.Fatalf("duplicate user_id: %v", err)
		}
	})
}

func TestDeletingAUserCascadesToIdentities(t *testing.T) {
	forEach(t, func(t *testing.T, db *store.DB) {
		c := newConn(t, db, "db")
		u := newUser(t, db, "auth0|cascade")
		db.Ent.Identity.Create().SetOwnerID(u.ID).SetConnectionID(c.ID).SetProvider("auth0").
			SetUpstreamID("cascade").SetPasswordHash("$argon2id$…").ExecX(sys)
		db.Ent.User.DeleteOne(u).ExecX(sys)
		if n := db.Ent.Identity.Query().CountX(sys); n != 0 {
			t.Fatalf("%d identities (with credentials) survived their user", n)
		}
	})
}

func TestMetadataRoundTripsAndIsSearchable(t *testing.T) {
	forEach(t, func(t *testing.T, db *store.DB) {
		meta := map[string]any{
			"plan": "gold", "seats": 5.0, "beta": true, "tags": []any{"a", "b"},
			"nested": map[string]any{"x": map[string]any{"y": "z"}},
		}
		u, err := db.Ent.User.Create().SetUserID("auth0|meta").SetAppMetadata(meta).
			SetUserMetadata(map[string]any{"theme": "dark"}).SetEmail("Meta@Example.com").SetName("Jo Smith").Save(sys)
		if err != nil {
			t.Fatal(err)
		}
		newUser(t, db, "auth0|other")
		got := db.Ent.User.GetX(sys, u.ID)
		// Postgres jsonb reorders keys: compare decoded values, not text.
		a, _ := json.Marshal(got.AppMetadata)
		b, _ := json.Marshal(meta)
		var ga, gb any
		_ = json.Unmarshal(a, &ga)
		_ = json.Unmarshal(b, &gb)
		if fmt.Sprint(ga) != fmt.Sprint(gb) {
			t.Fatalf("app_metadata = %s, want %s", a, b)
		}
		for q, want := range map[string]int{
			`app_metadata.plan:gold`:                          1,
			`app_metadata.plan:silver`:                        0,
			`app_metadata.seats:5`:                            1,
			`app_metadata.beta:true`:                          1,
			`app_metadata.nested.x.y:z`:                       1,
			`user_metadata.theme:"dark"`:                      1,
			`email:meta@example.com`:                          1,
			`email.domain:EXAMPLE.com`:                        1,
			`name:jo*`:                                        1,
			`name:jo`:                                         0,
			`name:"jo smith"`:                                 1,
			`_exists_:email`:                                  1,
			`NOT _exists_:email`:                              1,
			`app_metadata.plan:gold OR user_id:"auth0|other"`: 2,
			`name:100%*`:                                      0,
		} {
			pred, err := identity.Search(q)
			if err != nil {
				t.Fatalf("Search(%q): %v", q, err)
			}
			n, err := db.Ent.User.Query().Where(pred).Count(sys)
			if err != nil || n != want {
				t.Errorf("%q matched %d (%v), want %d", q, n, err, want)
			}
		}
		if n := db.Ent.User.Query().Where(user.EmailEQ("Meta@Example.com")).CountX(sys); n != 1 {
			t.Fatalf("email case not preserved at the storage layer")
		}
	})
}

func TestEveryTableHasAPrefix(t *testing.T) {
	tables := map[string]bool{}
	for _, table := range pulid.Types {
		tables[table] = true
	}
	for _, table := range migrate.Tables {
		if !tables[table.Name] {
			t.Errorf("table %s has no id prefix in pulid.Types", table.Name)
		}
		delete(tables, table.Name)
	}
	for table := range tables {
		t.Errorf("pulid.Types names table %s, which does not exist", table)
	}
}
