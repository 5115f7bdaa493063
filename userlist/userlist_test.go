package userlist_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
	"github.com/authgraph/authgraph/userlist"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var sysCtx = authz.SystemContext(context.Background())

func forBackends(t *testing.T, fn func(t *testing.T, db *ent.Client)) {
	for _, b := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}} {
		t.Run(b.name, func(t *testing.T) {
			db, err := store.Open(context.Background(), b.dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			fn(t, db.Ent)
		})
	}
}

var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// mkUsers creates n users whose sort values repeat (ties) and are often
// missing (NULLs), so that every order has ties and nullable ones NULLs.
func mkUsers(t *testing.T, db *ent.Client, prefix string, n int) []*ent.User {
	t.Helper()
	out := make([]*ent.User, 0, n)
	for i := range n {
		c := db.User.Create().SetUserID(fmt.Sprintf("auth0|%s%03d", prefix, i)).
			SetCreatedAt(base.Add(time.Duration(i%5) * time.Second)).
			SetUpdatedAt(base.Add(time.Duration(i%3) * time.Millisecond)).
			SetLoginsCount(i % 4)
		if i%3 != 0 {
			c.SetLastLogin(base.Add(time.Duration(i%4) * time.Minute))
		}
		if i%4 != 0 {
			c.SetEmail(fmt.Sprintf("%s%d@example.com", prefix, i%6))
		}
		u, err := c.Save(sysCtx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

// expected sorts users as the order defines: by value, NULLs last, ties by
// id in the order's direction.
func expected(users []*ent.User, o userlist.Order) []string {
	us := slices.Clone(users)
	slices.SortFunc(us, func(a, b *ent.User) int {
		ka, kb := userlist.KeyOf(a, o), userlist.KeyOf(b, o)
		if (ka.Value == nil) != (kb.Value == nil) {
			if ka.Value == nil {
				return 1
			}
			return -1
		}
		c := 0
		if ka.Value != nil {
			switch va := ka.Value.(type) {
			case time.Time:
				c = va.Compare(kb.Value.(time.Time))
			case int64:
				c = cmp.Compare(va, kb.Value.(int64))
			case string:
				c = cmp.Compare(va, kb.Value.(string))
			}
		}
		if c == 0 {
			c = cmp.Compare(ka.ID, kb.ID)
		}
		if o.Desc {
			c = -c
		}
		return c
	})
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = string(u.ID)
	}
	return ids
}

var orders = func() []userlist.Order {
	var out []userlist.Order
	for _, col := range []string{"", user.FieldCreatedAt, user.FieldUpdatedAt, user.FieldLastLogin, user.FieldLoginsCount, user.FieldEmail} {
		for _, desc := range []bool{false, true} {
			out = append(out, userlist.Order{Column: userlist.Columns[col], Desc: desc})
		}
	}
	return out
}()

// TestKeyset runs on one database per backend (setting one up dominates).
func TestKeyset(t *testing.T) {
	forBackends(t, func(t *testing.T, db *ent.Client) {
		t.Run("range", func(t *testing.T) { testRange(t, db) })
		t.Run("count", func(t *testing.T) { testCount(t, db) })
		t.Run("walk under inserts", func(t *testing.T) { testWalkUnderInserts(t, db) })
	})
}

// testWalkUnderInserts walks every order both ways while users are being
// inserted: every user that existed before the walk is met exactly once,
// in the order's order, and no user twice.
func testWalkUnderInserts(t *testing.T, db *ent.Client) {
	{
		before := mkUsers(t, db, "pre", 40)
		// Inserts run for the whole walk; they land anywhere in the
		// orders (equal values, NULLs, both ends).
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var inserted atomic.Int64
		tickets := make(chan struct{}, 1)
		// Stopped however the test ends (a Fatalf in the walk too): an
		// insert after the database closed would panic and hide the failure.
		stopInserts := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer stopInserts()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				// One insert per page read at most: a writer faster than
				// the walk would grow the tail the walk reads towards
				// (NULL last logins get ever larger ids) without end.
				select {
				case <-stop:
					return
				case <-tickets:
				}
				c := db.User.Create().SetUserID(fmt.Sprintf("auth0|new%05d", i)).SetLoginsCount(i % 4).
					SetCreatedAt(base.Add(time.Duration(i%5) * time.Second))
				if i%2 == 0 {
					c.SetLastLogin(base.Add(time.Duration(i%4) * time.Minute)).SetEmail(fmt.Sprintf("pre%d@example.com", i%6))
				}
				if _, err := c.Save(sysCtx); err != nil {
					t.Error(err)
					return
				}
				inserted.Add(1)
			}
		}()
		pre := map[string]bool{}
		for _, u := range before {
			pre[string(u.ID)] = true
		}
		for _, o := range orders {
			for _, backward := range []bool{false, true} {
				name := fmt.Sprintf("%s backward=%v", o, backward)
				want := expected(before, o)
				var got []string
				seen := map[string]bool{}
				var cursor *userlist.Key
				for pages := 0; ; pages++ {
					if pages > 200 {
						t.Fatalf("%s: the walk does not end", name)
					}
					r := userlist.Request{Order: o, Limit: 7, Backward: backward}
					if backward {
						r.Before = cursor
					} else {
						r.After = cursor
					}
					select {
					case tickets <- struct{}{}:
					default:
					}
					res, err := userlist.Page(sysCtx, db.User.Query().Where(notOther), r)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					ids := make([]string, 0, len(res.Users))
					for _, u := range res.Users {
						id := string(u.ID)
						if seen[id] {
							t.Fatalf("%s: %s twice", name, id)
						}
						seen[id] = true
						if pre[id] {
							ids = append(ids, id)
						}
					}
					if backward {
						got = append(ids, got...)
					} else {
						got = append(got, ids...)
					}
					if !res.More {
						break
					}
					if backward {
						k := userlist.KeyOf(res.Users[0], o)
						cursor = &k
					} else {
						k := userlist.KeyOf(res.Users[len(res.Users)-1], o)
						cursor = &k
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s:\n got %v\nwant %v", name, got, want)
				}
			}
		}
		stopInserts()
		if inserted.Load() == 0 {
			t.Fatal("no user was inserted during the walks")
		}
	}
}

// notOther leaves out the users of the other subtests.
var notOther = user.Or(user.UserIDHasPrefix("auth0|pre"), user.UserIDHasPrefix("auth0|new"))

// testRange: after and before together bound the page on both sides.
func testRange(t *testing.T, db *ent.Client) {
	{
		us := mkUsers(t, db, "r", 20)
		for _, o := range orders {
			want := expected(us, o)
			byID := map[string]*ent.User{}
			for _, u := range us {
				byID[string(u.ID)] = u
			}
			after, before := userlist.KeyOf(byID[want[3]], o), userlist.KeyOf(byID[want[15]], o)
			for _, backward := range []bool{false, true} {
				res, err := userlist.Page(sysCtx, db.User.Query().Where(user.UserIDHasPrefix("auth0|r")), userlist.Request{Order: o, After: &after, Before: &before, Limit: 5, Backward: backward})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, u := range res.Users {
					got = append(got, string(u.ID))
				}
				w := want[4:9]
				if backward {
					w = want[10:15]
				}
				if !slices.Equal(got, w) || !res.More {
					t.Fatalf("%s backward=%v: got %v more=%v, want %v", o, backward, got, res.More, w)
				}
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	o := userlist.Order{Column: userlist.Columns[user.FieldLoginsCount]}
	if k, err := o.Normalize(userlist.Key{ID: "usr_1", Value: int8(3)}); err != nil || k.Value != int64(3) {
		t.Fatalf("int8 cursor value: %v %v", k, err)
	}
	for _, bad := range []userlist.Key{{ID: "usr_1", Value: base}, {ID: "usr_1"}, {Value: int64(1)}} {
		if _, err := o.Normalize(bad); err != userlist.ErrBadKey {
			t.Fatalf("%+v: %v", bad, err)
		}
	}
	ll := userlist.Order{Column: userlist.Columns[user.FieldLastLogin]}
	if _, err := ll.Normalize(userlist.Key{ID: "usr_1"}); err != nil {
		t.Fatalf("NULL last_login cursor: %v", err)
	}
}

// testCount: exact up to the bound; beyond it Postgres estimates (and says
// so), SQLite counts exactly.
func testCount(t *testing.T, db *ent.Client) {
	mkUsers(t, db, "c", 30)
	postgres := store.Of(db).Postgres()
	mine := user.UserIDHasPrefix("auth0|c")
	n, est, err := userlist.Count(sysCtx, db, db.User.Query().Where(mine), 100)
	if err != nil || n != 30 || est {
		t.Fatalf("under the bound: %d %v %v", n, est, err)
	}
	n, est, err = userlist.Count(sysCtx, db, db.User.Query().Where(mine, user.LoginsCount(1)), 100)
	if err != nil || n != 8 || est {
		t.Fatalf("filtered: %d %v %v", n, est, err)
	}
	// Unfiltered (table statistics) and filtered (the planner's estimate).
	for _, q := range []*ent.UserQuery{db.User.Query(), db.User.Query().Where(mine)} {
		n, est, err = userlist.Count(sysCtx, db, q, 5)
		switch {
		case err != nil:
			t.Fatal(err)
		case postgres && (!est || n < 6):
			t.Fatalf("postgres beyond the bound: %d estimate=%v", n, est)
		case !postgres && (est || n < 30):
			t.Fatalf("sqlite beyond the bound: %d estimate=%v", n, est)
		}
	}
}
