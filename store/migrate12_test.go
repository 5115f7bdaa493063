package store_test

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/authgraph/authgraph/ent/rule"
	"github.com/authgraph/authgraph/store"
)

// v11Rules is the rules table as version 11 created it on SQLite: module
// NOT NULL, no javascript column. (SQLite cannot change a column's
// constraint in place; Postgres gets there with ALTER TABLE.)
var v11Rules = []string{
	"DROP TABLE rules",
	"CREATE TABLE `rules` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, " +
		"`name` text NOT NULL, `order` integer NOT NULL DEFAULT (0), `enabled` bool NOT NULL DEFAULT (true), " +
		"`module` blob NOT NULL, `module_size` integer NOT NULL DEFAULT (0), `version` text NOT NULL, " +
		"`secrets_sealed` blob NULL, `secrets_set` json NOT NULL, PRIMARY KEY (`id`))",
	"CREATE UNIQUE INDEX `rules_name_key` ON `rules` (`name`)",
	"CREATE INDEX `rule_order` ON `rules` (`order`)",
}

// TestMigration12JavaScriptRules: a version-11 database holding a
// WebAssembly rule migrates to version 12, which keeps the rule as it was
// and stores a JavaScript rule (source, no module).
func TestMigration12JavaScriptRules(t *testing.T) {
	forEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		stmts := v11Rules
		ph := "?" // numbered: ?1, $1
		if db.Dialect == dialect.Postgres {
			stmts, ph = []string{"ALTER TABLE rules DROP COLUMN javascript", "ALTER TABLE rules ALTER COLUMN module SET NOT NULL"}, "$"
		}
		stmts = append(stmts, "DELETE FROM authgraph_schema_migrations WHERE version >= 12")
		for _, s := range stmts {
			if _, err := db.SQL.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		arg := func(i int) string { return ph + strconv.Itoa(i) }
		insert := `INSERT INTO rules (id, created_at, updated_at, name, "order", enabled, module, module_size, version, secrets_set) VALUES (` +
			arg(1) + `, ` + arg(2) + `, ` + arg(2) + `, ` + arg(3) + `, 0, true, ` + arg(4) + `, 4, 'v-wasm', '[]')`
		now := time.Now().UTC()
		module := []byte("\x00asm")
		if _, err := db.SQL.ExecContext(ctx, insert, "rul_01WASM0000000000000000000", now, "wasm", module); err != nil {
			t.Fatalf("a version-11 rule: %v", err)
		}
		// The table is version 11's: a rule without a module is refused.
		if _, err := db.SQL.ExecContext(ctx, insert, "rul_01NOMODULE00000000000000", now, "none", nil); err == nil {
			t.Fatal("the version-11 table accepted a rule without a module")
		}

		applied, err := db.Migrate(ctx)
		if err != nil || !slices.Equal(applied, []int{12}) {
			t.Fatalf("migrate from 11: %v, %v", applied, err)
		}
		old, err := db.Ent.Rule.Query().Where(rule.Name("wasm")).Only(sys)
		if err != nil || !bytes.Equal(old.Module, module) || old.Javascript != nil || old.Version != "v-wasm" || old.ModuleSize != 4 {
			t.Fatalf("the WebAssembly rule after migrating: %+v, %v", old, err)
		}
		src := "exports.onExecutePostLogin = async (event, api) => {};\n"
		js, err := db.Ent.Rule.Create().SetName("js").SetJavascript(src).SetModuleSize(len(src)).SetVersion("v-js").Save(sys)
		if err != nil {
			t.Fatalf("a JavaScript rule: %v", err)
		}
		back, err := db.Ent.Rule.Get(sys, js.ID)
		if err != nil || back.Javascript == nil || *back.Javascript != src || len(back.Module) != 0 {
			t.Fatalf("the JavaScript rule read back: %+v, %v", back, err)
		}
		if v, err := db.Version(ctx); err != nil || v != 12 {
			t.Fatalf("version %d, %v", v, err)
		}
	})
}
