package logstream_test

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/logstream"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

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
	for _, b := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}} {
		t.Run(b.name, func(t *testing.T) { fn(t, open(t, b.dsn(t))) })
	}
}

const secret = "stream-secret-0123456789"

// receiver is a webhook endpoint that checks each delivery's signature
// and answers the statuses it is told to, then 200.
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	fail     []int // statuses to answer first
	posts    int
	accepted []logstream.Item
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, err := strconv.ParseInt(r.Header.Get(logstream.TimestampHeader), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		rc.t.Errorf("delivery timestamp %q", r.Header.Get(logstream.TimestampHeader))
	}
	want := logstream.Sign(secret, time.Unix(ts, 0), body)
	if !hmac.Equal([]byte(r.Header.Get(logstream.SignatureHeader)), []byte(want)) {
		rc.t.Errorf("signature %q, want %q", r.Header.Get(logstream.SignatureHeader), want)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var items []logstream.Item
	if err := json.Unmarshal(body, &items); err != nil || len(items) == 0 {
		rc.t.Errorf("body %s: %v", body, err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts++
	if len(rc.fail) > 0 {
		status := rc.fail[0]
		rc.fail = rc.fail[1:]
		w.WriteHeader(status)
		return
	}
	rc.accepted = append(rc.accepted, items...)
}

func (rc *receiver) ids() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]string, len(rc.accepted))
	for i, it := range rc.accepted {
		out[i] = it.LogID
	}
	return out
}

func (rc *receiver) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if ids := rc.ids(); len(ids) >= n {
			return ids
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("receiver accepted %d events, want %d", len(rc.ids()), n)
	return nil
}

func write(t *testing.T, db *store.DB, n int, typ string) []string {
	t.Helper()
	ctx := authz.SystemContext(context.Background())
	var ids []string
	for i := range n {
		user := fmt.Sprintf("auth0|u%d", i)
		if err := logs.Write(ctx, db.Ent, logs.Event{Type: typ, UserID: user, Description: "event " + user}); err != nil {
			t.Fatal(err)
		}
		e, err := db.Ent.LogEvent.Query().Order(logevent.ByID()).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, string(e[len(e)-1].ID))
	}
	return ids
}

// run starts a streamer and returns the function that stops it and waits
// for it.
func run(t *testing.T, db *store.DB, url, holder string, start time.Time) (stop func()) {
	t.Helper()
	s, err := logstream.New(logstream.Config{DB: db, URL: url, Secret: secret, StartAt: start, Holder: holder,
		Poll: 20 * time.Millisecond, Lag: 100 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Lease: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestStreamDeliversSignedInOrderAfterFailures: a receiver that fails
// twice gets the batch again, once accepted, in order; a restarted
// streamer continues after the persisted cursor without duplicates.
func TestStreamDeliversSignedInOrderAfterFailures(t *testing.T) {
	forEach(t, func(t *testing.T, db *store.DB) {
		rc := &receiver{t: t, fail: []int{http.StatusInternalServerError, http.StatusInternalServerError}}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		start := time.Now().Add(-time.Second)
		first := write(t, db, 3, logs.TypeSuccessLogin)
		time.Sleep(300 * time.Millisecond) // all three older than the lag: one batch
		stop := run(t, db, srv.URL, "node-a", start)
		got := rc.waitFor(t, 3)
		if !equal(got, first) {
			t.Fatalf("accepted %v, want %v in order", got, first)
		}
		rc.mu.Lock()
		posts := rc.posts
		item := rc.accepted[0]
		rc.mu.Unlock()
		if posts != 3 {
			t.Errorf("%d posts, want 2 failures and 1 success", posts)
		}
		if item.Data.LogID != item.LogID || item.Data.Type != "s" || item.Data.UserID != "auth0|u0" || item.Data.Date == "" {
			t.Errorf("item %+v is not the event in Auth0's shape", item)
		}
		stop()

		// A restart (another holder) continues after the cursor.
		second := write(t, db, 2, logs.TypeWrongPassword)
		run(t, db, srv.URL, "node-b", start)
		got = rc.waitFor(t, 5)
		time.Sleep(300 * time.Millisecond) // a duplicate would arrive now
		if got = rc.ids(); !equal(got, append(append([]string{}, first...), second...)) {
			t.Fatalf("after the restart accepted %v, want %v then %v once each", got, first, second)
		}
	})
}

// TestOneNodeStreams: two streamers on one database deliver each event
// once; when the holder stops, the other takes over without a gap.
func TestOneNodeStreams(t *testing.T) {
	forEach(t, func(t *testing.T, db *store.DB) {
		rc := &receiver{t: t}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		start := time.Now().Add(-time.Second)
		stopA := run(t, db, srv.URL, "node-a", start)
		time.Sleep(100 * time.Millisecond) // node-a claims the stream first
		run(t, db, srv.URL, "node-b", start)
		first := write(t, db, 4, logs.TypeSuccessLogin)
		rc.waitFor(t, 4)
		stopA() // releases the lease: node-b takes over when it next looks
		second := write(t, db, 3, logs.TypeSuccessLogin)
		rc.waitFor(t, 7)
		time.Sleep(300 * time.Millisecond)
		want := append(append([]string{}, first...), second...)
		if got := rc.ids(); !equal(got, want) {
			t.Fatalf("accepted %v, want %v once each in order", got, want)
		}
	})
}
