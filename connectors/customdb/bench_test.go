package customdb_test

import (
	"context"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/rules"
)

// BenchmarkLegacyLogin measures logins through the PostgreSQL template
// (query the legacy table, bcrypt-10 verification in the host) against the
// raw bcrypt-10 rate at the same parallelism: the ceiling a legacy login can
// approach (target: ≥ 95 %).
func BenchmarkLegacyLogin(b *testing.B) {
	ctx := context.Background()
	eng, err := rules.New(ctx, rules.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(ctx)
	for _, lang := range []string{"go", "assemblyscript"} {
		var mods map[string][]byte
		if lang == "go" {
			mods = customdbtest.Templates(b)
		} else {
			mods = customdbtest.ASTemplates(b)
		}
		leg := customdbtest.Postgres(b)
		scripts := map[string][]byte{}
		for _, op := range customdb.Ops {
			scripts[op] = mods[leg.Flavor]
		}
		c, err := customdb.New(customdb.Config{Name: "legacy-" + lang, Version: "1", Engine: eng, DSN: leg.DSN, Scripts: scripts})
		if err != nil {
			b.Fatal(err)
		}
		ada := customdbtest.Seed[0]
		if _, err := c.Login(ctx, ada.Email, ada.Password); err != nil { // compile and warm the pool
			b.Fatal(err)
		}
		b.Run("script-"+lang, func(b *testing.B) {
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Login(ctx, ada.Email, ada.Password); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		c.Close()
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("raw-password"), 10)
	b.Run("raw-bcrypt-10", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = bcrypt.CompareHashAndPassword(hash, []byte("raw-password"))
			}
		})
	})
}
