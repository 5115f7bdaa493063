package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

// syncBuffer is a log destination safe for the checker's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

// eventually polls cond every 20ms for at most d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// usersQueries counts the SELECTs on users sent through db's ent client
// (the replica's checker uses the pools directly and is not counted).
func usersQueries(t *testing.T, db *store.DB) *atomic.Int64 {
	var n atomic.Int64
	db.TraceStatements(func(q string, _ bool) {
		if strings.HasPrefix(q, "SELECT") && strings.Contains(q, `FROM "users"`) {
			n.Add(1)
		}
	})
	t.Cleanup(func() { db.TraceStatements(nil) })
	return &n
}

func hasUser(ctx context.Context, db *store.DB, userID string) (bool, error) {
	return store.Read(ctx, db.Ent, func(c *ent.Client) (bool, error) {
		return c.User.Query().Where(user.UserID(userID)).Exist(ctx)
	})
}

// TestReplica runs against a real streaming replica: reads follow the
// primary's writes within the bound, go to the replica while it is fresh,
// and return to the primary when it lags or stops.
func TestReplica(t *testing.T) {
	pair := testenv.PostgresWithReplica(t)
	db := open(t, pair.PrimaryURL)
	logs := &syncBuffer{}
	const maxLag = time.Second
	rep, err := store.OpenReplica(context.Background(), db, pair.ReplicaURL, store.ReplicaOptions{
		MaxLag: maxLag, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if store.ReplicaOf(db.Ent) != rep {
		t.Fatal("the replica is not attached to its primary")
	}
	eventually(t, 10*time.Second, "the replica becomes usable", rep.Usable)

	t.Run("a user created on the primary is listed from the replica", func(t *testing.T) {
		onPrimary := usersQueries(t, db)
		var onReplica, inserts atomic.Int64
		rep.DB().TraceStatements(func(q string, _ bool) {
			if strings.HasPrefix(q, "INSERT") {
				inserts.Add(1)
			}
			if strings.HasPrefix(q, "SELECT") && strings.Contains(q, `FROM "users"`) {
				onReplica.Add(1)
			}
		})
		newUser(t, db, "auth0|replicated")
		before := rep.Stats()
		eventually(t, 5*time.Second, "the new user is listed", func() bool {
			ok, err := hasUser(sys, db, "auth0|replicated")
			if err != nil {
				t.Fatal(err)
			}
			return ok
		})
		if onReplica.Load() == 0 || onPrimary.Load() != 0 {
			t.Fatalf("users SELECTs: %d on the replica, %d on the primary; want them all on the replica", onReplica.Load(), onPrimary.Load())
		}
		if inserts.Load() != 0 {
			t.Fatalf("%d INSERTs reached the replica", inserts.Load())
		}
		if st := rep.Stats(); st.ReplicaReads <= before.ReplicaReads || st.PrimaryReads != before.PrimaryReads {
			t.Fatalf("stats %+v after %+v: want replica reads only", st, before)
		}
		if lag, ok := rep.Lag(); !ok || lag > maxLag {
			t.Fatalf("lag %v (known %v), want at most %v", lag, ok, maxLag)
		}
	})

	t.Run("the replica client cannot write", func(t *testing.T) {
		_, err := rep.Client().User.Create().SetUserID("auth0|written-to-replica").Save(sys)
		if !errors.Is(err, store.ErrReadOnlyReplica) {
			t.Fatalf("create through the replica client: %v, want ErrReadOnlyReplica", err)
		}
		var ro string
		if err := rep.DB().SQL.QueryRow("SHOW default_transaction_read_only").Scan(&ro); err != nil || ro != "on" {
			t.Fatalf("default_transaction_read_only = %q (%v), want on", ro, err)
		}
	})

	t.Run("privacy policies apply on the replica", func(t *testing.T) {
		noScope := authz.NewContext(context.Background(), &authz.Viewer{Subject: "c@clients", ClientID: "c"})
		if _, err := rep.Client().User.Query().All(noScope); err == nil {
			t.Fatal("a viewer without read:users listed users on the replica")
		}
		reader := authz.NewContext(context.Background(), &authz.Viewer{Subject: "c@clients", ClientID: "c", Scopes: []string{"read:users"}})
		if n, err := rep.Client().User.Query().Count(reader); err != nil || n == 0 {
			t.Fatalf("a viewer with read:users: %d users, %v", n, err)
		}
	})

	t.Run("a replica lagging beyond the bound is not read", func(t *testing.T) {
		if _, err := rep.DB().SQL.Exec("SELECT pg_wal_replay_pause()"); err != nil {
			t.Fatal(err)
		}
		newUser(t, db, "auth0|while-paused")
		eventually(t, maxLag+3*time.Second, "reads leave the paused replica", func() bool { return !rep.Usable() })
		if store.ReadOf(db.Ent) != db.Ent {
			t.Fatal("ReadOf chose a replica beyond its bound")
		}
		onReplica := usersQueries(t, rep.DB())
		if ok, err := hasUser(sys, db, "auth0|while-paused"); err != nil || !ok {
			t.Fatalf("the user written while the replica is paused: found %v, %v", ok, err)
		}
		if onReplica.Load() != 0 {
			t.Fatal("the read went to the lagging replica")
		}
		eventually(t, 2*time.Second, "a warning is logged", func() bool { return logs.count("lags beyond its bound") > 0 })
		if _, err := rep.DB().SQL.Exec("SELECT pg_wal_replay_resume()"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "the resumed replica is read again", rep.Usable)
	})

	t.Run("a stopped replica is not read", func(t *testing.T) {
		if err := pair.StopReplica(); err != nil {
			t.Fatal(err)
		}
		// Whether the checker has noticed yet or not, the read answers.
		if ok, err := hasUser(sys, db, "auth0|replicated"); err != nil || !ok {
			t.Fatalf("with the replica stopped: found %v, %v", ok, err)
		}
		eventually(t, 3*time.Second, "the stopped replica is set aside", func() bool { return !rep.Usable() })
		if _, ok := rep.Lag(); ok {
			t.Fatal("a stopped replica's lag is known")
		}
		time.Sleep(3 * rep.MaxLag() / 2) // more checks fail: the warnings stay few
		if n := logs.count("level=WARN"); n > 3 {
			t.Fatalf("%d warnings in a few seconds: not rate-limited\n%s", n, logs.b.String())
		}
	})
}

// TestReplicaOfAPrimaryIsNeitherReadNorWritten: a replica URL that names a
// server not in recovery gives no reads, and its sessions are read-only
// whatever the server.
func TestReplicaOfAPrimaryIsNeitherReadNorWritten(t *testing.T) {
	dsn := testenv.Postgres(t)
	db := open(t, dsn)
	rep, err := store.OpenReplica(context.Background(), db, dsn, store.ReplicaOptions{MaxLag: time.Second,
		Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Usable() || store.ReadOf(db.Ent) != db.Ent {
		t.Fatal("a server that is not a standby is used as the replica")
	}
	var id string
	err = rep.DB().QueryRow(context.Background(), `INSERT INTO users (user_id) VALUES ('auth0|x') RETURNING id`).Scan(&id)
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "25006" {
		t.Fatalf("a hand-written INSERT through the replica's pool: %v, want read_only_sql_transaction (25006)", err)
	}
	if n := db.Ent.User.Query().Where(user.UserID("auth0|x")).CountX(sys); n != 0 {
		t.Fatal("the write through the replica's pool was stored")
	}
}

func TestReplicaNeedsPostgres(t *testing.T) {
	lite := open(t, testenv.SQLite(t))
	if _, err := store.OpenReplica(context.Background(), lite, "postgres://127.0.0.1:1/x", store.ReplicaOptions{}); !errors.Is(err, store.ErrReplicaNeedsPostgres) {
		t.Fatalf("a replica of SQLite: %v", err)
	}
	pg := open(t, testenv.Postgres(t))
	for _, u := range []string{"sqlite:replica.db", "mysql://127.0.0.1/x", "postgres://%zz", "postgres://app:s3cr3t-pw@db:port/x"} {
		_, err := store.OpenReplica(context.Background(), pg, u, store.ReplicaOptions{})
		if !errors.Is(err, store.ErrBadReplicaURL) {
			t.Fatalf("replica URL %q: %v, want ErrBadReplicaURL", u, err)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("the error repeats the replica URL's password: %v", err)
		}
	}
	if store.ReplicaOf(pg.Ent) != nil {
		t.Fatal("a refused replica was attached")
	}
}
