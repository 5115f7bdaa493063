package userlist_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
	"github.com/authgraph/authgraph/userlist"
)

// BenchmarkUsers compares, on Postgres with 50,000 users, a deep page read
// by keyset with the same page read by offset, and the bounded count with
// a full one (docs/BENCHMARKS.md).
func BenchmarkUsers(b *testing.B) {
	const n = 50_000
	db, err := store.Open(context.Background(), testenv.Postgres(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		bulk := make([]*ent.UserCreate, 0, 1000)
		for j := i; j < i+1000; j++ {
			bulk = append(bulk, db.Ent.User.Create().SetUserID(fmt.Sprintf("auth0|b%06d", j)).
				SetCreatedAt(base.Add(time.Duration(j)*time.Second)).SetLoginsCount(j%50))
		}
		if err := db.Ent.User.CreateBulk(bulk...).Exec(sysCtx); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.SQL.Exec("ANALYZE users"); err != nil {
		b.Fatal(err)
	}
	order := userlist.Order{Column: userlist.Columns[user.FieldCreatedAt], Desc: true}
	deep, err := db.Ent.User.Query().Order(userlist.OrderBy(order)).Offset(40_000).First(sysCtx)
	if err != nil {
		b.Fatal(err)
	}
	k := userlist.KeyOf(deep, order)
	b.Run("page 40,000 deep by keyset", func(b *testing.B) {
		for b.Loop() {
			if _, err := userlist.Page(sysCtx, db.Ent.User.Query(), userlist.Request{Order: order, After: &k, Limit: 100}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page 40,000 deep by offset", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Ent.User.Query().Order(userlist.OrderBy(order)).Offset(40_000).Limit(100).All(sysCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
	filtered := func() *ent.UserQuery { return db.Ent.User.Query().Where(user.LoginsCountGTE(10)) }
	b.Run("count, filtered, bounded at 10,000 then estimated", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := userlist.Count(sysCtx, db.Ent, filtered(), userlist.ExactCountBound); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("count, filtered, exact", func(b *testing.B) {
		for b.Loop() {
			if _, err := filtered().Count(sysCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
