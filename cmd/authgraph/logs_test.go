package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/logstream"
	"github.com/authgraph/authgraph/store"
)

// syncBuffer is written by the tail and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsTailFollowsTheLog runs `authgraph logs tail` in-process: it
// prints the recent matching event, then those written while it runs, as
// Auth0-shaped JSON lines, and skips the types not asked for.
func TestLogsTailFollowsTheLog(t *testing.T) {
	dsn := testenv.SQLite(t)
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.WithLock(ctx, func(ctx context.Context) error { _, err := db.Migrate(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	sys := authz.SystemContext(ctx)
	if err := logs.Write(sys, db.Ent, logs.Event{Type: logs.TypeSuccessLogin, UserID: "auth0|before", Description: "earlier"}); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithCancel(ctx)
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(tctx, []string{"logs", "tail", "--database", dsn, "--type", "s,fp", "--since", "10m", "--poll", "50ms"}, &out, &errOut)
	}()
	for _, e := range []logs.Event{
		{Type: logs.TypeWrongPassword, UserID: "auth0|ada", Description: "Wrong email or password."},
		{Type: logs.TypeManagementRead, Description: "not asked for"},
		{Type: logs.TypeSuccessLogin, UserID: "auth0|ada", UserName: "ada@example.com"},
	} {
		if err := logs.Write(sys, db.Ent, e); err != nil {
			t.Fatal(err)
		}
	}
	var lines []map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(out.String(), "\n") >= 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // an unwanted line would show by now
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("logs tail: %v (%s)", err, errOut.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		lines = append(lines, m)
	}
	var got []string
	for _, m := range lines {
		got = append(got, m["type"].(string)+" "+m["user_id"].(string))
		if id, _ := m["log_id"].(string); !strings.HasPrefix(id, "log_") || m["_id"] != id || m["date"] == "" {
			t.Errorf("line %v is not Auth0's log object", m)
		}
	}
	if strings.Join(got, ",") != "s auth0|before,fp auth0|ada,s auth0|ada" {
		t.Fatalf("tail printed %v", got)
	}
}

// TestLogStreamConfig: the stream is off without a URL, the flag wins over
// the environment, the secret comes from the environment only, and a URL
// that cannot receive a stream stops the server before it starts.
func TestLogStreamConfig(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	t.Setenv("AUTHGRAPH_LOG_STREAM_URL", "")
	if c, err := logStreamConfig("", logger); c != nil || err != nil {
		t.Fatalf("no URL: %+v, %v", c, err)
	}
	t.Setenv("AUTHGRAPH_LOG_STREAM_URL", "https://env.example/hook")
	t.Setenv("AUTHGRAPH_LOG_STREAM_SECRET", "s3cret")
	c, err := logStreamConfig("https://flag.example/hook", logger)
	if err != nil || c.URL != "https://flag.example/hook" || c.Secret != "s3cret" {
		t.Fatalf("flag: %+v, %v", c, err)
	}
	if c, err := logStreamConfig("", logger); err != nil || c.URL != "https://env.example/hook" {
		t.Fatalf("environment: %+v, %v", c, err)
	}
	if _, err := logStreamConfig("ftp://example/hook", logger); !errors.Is(err, logstream.ErrBadURL) {
		t.Fatalf("ftp URL: %v", err)
	}
}
