package identity

import (
	"context"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var sysCtx = authz.SystemContext(context.Background())

func syncDB(t *testing.T, dsn string) *ent.Client {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Ent
}

func forBackends(t *testing.T, fn func(t *testing.T, db *ent.Client)) {
	for _, b := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}} {
		t.Run(b.name, func(t *testing.T) { fn(t, syncDB(t, b.dsn(t))) })
	}
}

func mkConn(t *testing.T, db *ent.Client, name string, strategy connection.Strategy, opts map[string]any) *ent.Connection {
	t.Helper()
	mode := "on_each_login"
	if m, ok := opts["set_user_root_attributes"].(string); ok {
		mode = m
	}
	c, err := db.Connection.Create().SetName(name).SetStrategy(strategy).SetOptions(opts).
		SetSyncMode(connection.SyncMode(mode)).Save(sysCtx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func upstream(conn, sub, email, name string) connectors.Identity {
	return connectors.Identity{Provider: "oidc", UserID: conn + "|" + sub, Email: email, EmailVerified: true,
		Name: name, Nickname: strings.Split(email, "@")[0],
		Raw: map[string]any{"sub": sub, "email": email, "name": name, "ssn": "123-45-6789"}}
}

func TestSyncUpstream(t *testing.T) {
	forBackends(t, func(t *testing.T, db *ent.Client) {
		box, _ := secretbox.New(secretbox.NewKey())
		each := mkConn(t, db, "each", connection.StrategyOidc, map[string]any{"non_persistent_attrs": []any{"ssn", "picture"}})
		first := mkConn(t, db, "first", connection.StrategyOidc, map[string]any{"set_user_root_attributes": "on_first_login"})
		never := mkConn(t, db, "never", connection.StrategyOidc, map[string]any{"set_user_root_attributes": "never_on_login"})

		in := upstream("each", "s1", "ann@x.test", "Ann")
		in.Picture = "https://img.test/a.png"
		in.Tokens = &connectors.Tokens{AccessToken: "at-1", RefreshToken: "rt-1"}
		r1, err := SyncUpstream(sysCtx, db, UpstreamLogin{Connection: each, Identity: in, Sealer: box, IP: "10.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		u := r1.User
		if !r1.Created || u.UserID != "oidc|each|s1" || *u.Email != "ann@x.test" || !u.EmailVerified || *u.Name != "Ann" || u.LoginsCount != 1 {
			t.Fatalf("created user: %+v", u)
		}
		if u.Picture != nil {
			t.Fatal("picture stored although in non_persistent_attrs")
		}
		if _, ok := r1.Identity.ProfileData["ssn"]; ok {
			t.Fatal("ssn stored although in non_persistent_attrs")
		}
		if r1.Identity.Provider != "oidc" || r1.Identity.UpstreamID != "each|s1" {
			t.Fatalf("identity: %+v", r1.Identity)
		}
		if toks, err := OpenTokens(box, "each", r1.Identity); err != nil || toks.AccessToken != "at-1" {
			t.Fatalf("tokens: %v %v", toks, err)
		}
		if strings.Contains(string(*r1.Identity.TokensSealed), "at-1") {
			t.Fatal("tokens stored in clear")
		}

		// Second login: found by (connection, id); on_each_login overwrites.
		in.Name, in.Email = "Ann B", "ann.b@x.test"
		r2, err := SyncUpstream(sysCtx, db, UpstreamLogin{Connection: each, Identity: in, Sealer: box})
		if err != nil {
			t.Fatal(err)
		}
		if r2.Created || r2.User.ID != u.ID || *r2.User.Name != "Ann B" || *r2.User.Email != "ann.b@x.test" || r2.User.LoginsCount != 2 {
			t.Fatalf("second login: %+v", r2.User)
		}

		// Same email through another connection: another user, never merged.
		r3, err := SyncUpstream(sysCtx, db, UpstreamLogin{Connection: first, Identity: upstream("first", "s1", "ann.b@x.test", "Imposter")})
		if err != nil {
			t.Fatal(err)
		}
		if r3.User.ID == u.ID || !r3.Created {
			t.Fatal("matched a user by email across connections")
		}
		// on_first_login: set once, then the admin's value stays.
		if _, err := db.User.UpdateOne(r3.User).SetName("Edited").Save(sysCtx); err != nil {
			t.Fatal(err)
		}
		r3b, err := SyncUpstream(sysCtx, db, UpstreamLogin{Connection: first, Identity: upstream("first", "s1", "ann.b@x.test", "Upstream")})
		if err != nil {
			t.Fatal(err)
		}
		if *r3b.User.Name != "Edited" {
			t.Fatalf("on_first_login overwrote the name: %s", *r3b.User.Name)
		}
		// never_on_login: names never set from the IdP, email still is.
		r4, err := SyncUpstream(sysCtx, db, UpstreamLogin{Connection: never, Identity: upstream("never", "s9", "z@x.test", "Zed")})
		if err != nil {
			t.Fatal(err)
		}
		if r4.User.Name != nil || r4.User.Nickname != nil || *r4.User.Email != "z@x.test" {
			t.Fatalf("never_on_login: %+v", r4.User)
		}

		// A linked (secondary) identity logs in as its owner and leaves the
		// owner's root profile alone.
		if err := db.Identity.UpdateOne(r4.Identity).SetOwnerID(u.ID).Exec(sysCtx); err != nil {
			t.Fatal(err)
		}
		r5, err := SyncUpstream(sysCtx, db, UpstreamLogin{Connection: never, Identity: upstream("never", "s9", "z2@x.test", "Zed")})
		if err != nil {
			t.Fatal(err)
		}
		if r5.User.ID != u.ID || *r5.User.Email != "ann.b@x.test" || *r5.User.Name != "Ann B" {
			t.Fatalf("secondary login: %+v", r5.User)
		}
	})
}
