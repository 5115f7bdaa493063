package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

// TestStatementTimeout: with a statement timeout, Postgres cancels a
// statement that runs longer, on both pools; shorter ones run.
func TestStatementTimeout(t *testing.T) {
	dsn := testenv.Postgres(t)
	db, err := store.OpenPool(context.Background(), dsn, store.Pool{StatementTimeout: 200 * time.Millisecond, MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	_, err = db.SQL.Exec("SELECT pg_sleep(5)")
	if err == nil || !strings.Contains(err.Error(), "statement timeout") {
		t.Fatalf("pg_sleep(5) under a 200ms statement timeout: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the statement was cancelled after %v", d)
	}
	if _, err := db.SQL.Exec("SELECT pg_sleep(0.05)"); err != nil {
		t.Fatalf("a 50ms statement: %v", err)
	}
	var setting string
	if err := db.QueryRowTransient(context.Background(), "SHOW statement_timeout").Scan(&setting); err != nil || setting != "200ms" {
		t.Fatalf("transient pool: statement_timeout %q, %v", setting, err)
	}
}

// TestPoolValidate: settings that cannot work are refused before anything
// is opened.
func TestPoolValidate(t *testing.T) {
	for _, p := range []store.Pool{{MaxOpenConns: -1}, {MaxOpenConns: 5, MaxIdleConns: 6}, {ConnMaxLifetime: -time.Second}, {StatementTimeout: time.Microsecond}} {
		if _, err := store.OpenPool(context.Background(), "sqlite:"+t.TempDir()+"/x.db", p); !errors.Is(err, store.ErrBadPool) {
			t.Errorf("%+v: %v", p, err)
		}
	}
}
