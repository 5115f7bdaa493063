package store_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/store"
)

// TestTraceStatementArgs checks that a trace sees each statement with the
// arguments it was sent with (bench -scenario search replays them under
// EXPLAIN), and that TraceStatements still sees the text alone.
func TestTraceStatementArgs(t *testing.T) {
	forEach(t, func(t *testing.T, db *store.DB) {
		var mu sync.Mutex
		var withArgs [][]any
		var texts []string
		db.TraceStatementArgs(func(q string, args []any, _ bool) {
			mu.Lock()
			defer mu.Unlock()
			if strings.Contains(q, "users") {
				withArgs = append(withArgs, args)
			}
		})
		if _, err := db.Ent.User.Query().Where(user.UserID("auth0|traced")).All(sys); err != nil {
			t.Fatal(err)
		}
		db.TraceStatements(func(q string, _ bool) {
			mu.Lock()
			defer mu.Unlock()
			texts = append(texts, q)
		})
		if _, err := db.Ent.User.Query().Where(user.UserID("auth0|traced")).All(sys); err != nil {
			t.Fatal(err)
		}
		db.TraceStatements(nil)
		if _, err := db.Ent.User.Query().All(sys); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(withArgs) != 1 || !slices.Contains(withArgs[0], any("auth0|traced")) {
			t.Fatalf("traced arguments %v, want one users statement with auth0|traced", withArgs)
		}
		if len(texts) != 1 || !strings.Contains(texts[0], "users") {
			t.Fatalf("traced statements %q, want the one users query sent while tracing", texts)
		}
	})
}
