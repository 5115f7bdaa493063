package store_test

import (
	"context"
	"testing"

	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

// searchIndexes are the indexes migration 9 builds on Postgres; keyset
// pagination relies on the *_id names.
var searchIndexes = []string{
	"users_reverse_email", "users_reverse_name", "users_reverse_given_name", "users_reverse_family_name",
	"users_reverse_nickname", "users_email_domain", "users_username_pattern", "users_phone_number_pattern",
	"users_app_metadata_path", "users_user_metadata_path",
	"users_created_at_id", "users_updated_at_id", "users_last_login_id", "users_logins_count_id",
}

// TestSearchIndexes: migration 9 leaves every search index valid, and
// running it again rebuilds one that an interrupted CREATE INDEX
// CONCURRENTLY left invalid (IF NOT EXISTS alone would keep it).
func TestSearchIndexes(t *testing.T) {
	ctx := context.Background()
	db := open(t, testenv.Postgres(t))
	invalid := func() []string {
		t.Helper()
		var out []string
		for _, name := range searchIndexes {
			var valid bool
			err := db.SQL.QueryRowContext(ctx, `SELECT x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
				WHERE c.relname = $1`, name).Scan(&valid)
			if err != nil || !valid {
				out = append(out, name)
			}
		}
		return out
	}
	if bad := invalid(); len(bad) > 0 {
		t.Fatalf("missing or invalid after migrating: %v", bad)
	}
	// What a failed concurrent build leaves behind (the test server's role
	// is a superuser, which may write the catalog).
	if _, err := db.SQL.ExecContext(ctx, `UPDATE pg_index SET indisvalid = false
		WHERE indexrelid = 'users_email_domain'::regclass`); err != nil {
		t.Fatal(err)
	}
	if bad := invalid(); len(bad) != 1 {
		t.Fatalf("invalid = %v, want users_email_domain", bad)
	}
	// 10,000 users make the migration build CONCURRENTLY, as on a large
	// installation (a small table is indexed in place).
	if _, err := db.SQL.ExecContext(ctx, `INSERT INTO users (id, user_id, email_verified, phone_verified, blocked,
			user_metadata, app_metadata, logins_count, created_at, updated_at)
		SELECT 'usr_' || lpad(g::text, 26, '0'), 'auth0|' || g, false, false, false, '{}', '{}', 0, now(), now()
		FROM generate_series(1, 10000) g`); err != nil {
		t.Fatal(err)
	}
	// Back to version 8: version 9 and every later one run again (a later
	// version's ent diff finds nothing to do).
	if _, err := db.SQL.ExecContext(ctx, `DELETE FROM authgraph_schema_migrations WHERE version >= 9`); err != nil {
		t.Fatal(err)
	}
	if applied, err := db.Migrate(ctx); err != nil || len(applied) != store.LatestVersion()-8 || applied[0] != 9 {
		t.Fatalf("migrate again: %v, %v", applied, err)
	}
	if bad := invalid(); len(bad) > 0 {
		t.Fatalf("still invalid after migrating again: %v", bad)
	}
}
