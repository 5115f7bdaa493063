package store_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

// TestIsUnavailable: errors of an unreachable, stopping or starting
// database are unavailability (503 material); a statement's own failure,
// such as a constraint violation, is not.
func TestIsUnavailable(t *testing.T) {
	// A real connection refusal, from lib/pq dialing a port nobody serves.
	db, err := sql.Open("postgres", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable", testenv.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	refused := db.PingContext(ctx)
	if refused == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	// A real constraint violation on a real server.
	pg, err := sql.Open("postgres", testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if _, err := pg.Exec(`CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	_, dup := pg.Exec(`INSERT INTO t VALUES (1)`)
	_, syntax := pg.Exec(`SELEC 1`)

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"wrapped connection refused", fmt.Errorf("loading client: %w", refused), true},
		{"bad connection", fmt.Errorf("query: %w", driver.ErrBadConn), true},
		{"connection done", sql.ErrConnDone, true},
		{"admin shutdown", &pq.Error{Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{"starting up", &pq.Error{Code: "57P03", Message: "the database system is starting up"}, true},
		{"connection failure", &pq.Error{Code: "08006"}, true},
		{"unique violation", dup, false},
		{"syntax error", syntax, false},
		{"other", errors.New("boom"), false},
		{"nil", nil, false},
	} {
		if got := store.IsUnavailable(tc.err); got != tc.want {
			t.Errorf("%s (%v): IsUnavailable = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
