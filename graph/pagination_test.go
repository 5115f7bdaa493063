package graph_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/apitest"
)

type page struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
	Edges []struct {
		Cursor string
		Node   struct {
			ID, Email, CreatedAt string
			LoginsCount          int
		}
	}
}

func (p page) ids() []string {
	out := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Node.ID
	}
	return out
}

const pageQuery = `query($first: Int, $after: Cursor, $last: Int, $before: Cursor, $orderBy: [UserOrder!], $q: String) {
	users(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy, query: $q) {
		totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		edges { cursor node { id email createdAt loginsCount } } } }`

func usersPage(t *testing.T, s *apitest.Server, vars map[string]any) page {
	t.Helper()
	var out struct{ Users page }
	s.MustGraphQL(t, s.AdminToken(t), pageQuery, vars, &out)
	return out.Users
}

// TestPagination: cursor walks both ways, totalCount, orderBy, page limits.
func TestPagination(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		const n = 25
		ids := batchCreateUsers(t, s, n, func(i int) string { return fmt.Sprintf("page%02d@example.com", i) })

		t.Run("forward with first/after", func(t *testing.T) {
			var got []string
			var after any
			for pages := 0; ; pages++ {
				p := usersPage(t, s, map[string]any{"first": 10, "after": after})
				if p.TotalCount != n {
					t.Fatalf("totalCount %d", p.TotalCount)
				}
				got = append(got, p.ids()...)
				if !p.PageInfo.HasNextPage {
					if len(p.Edges) != 5 {
						t.Fatalf("last page holds %d", len(p.Edges))
					}
					break
				}
				if len(p.Edges) != 10 || p.PageInfo.EndCursor == nil || *p.PageInfo.EndCursor != p.Edges[9].Cursor {
					t.Fatalf("page %d: %d edges, endCursor %v", pages, len(p.Edges), p.PageInfo.EndCursor)
				}
				after = *p.PageInfo.EndCursor
			}
			// Default order is creation order (newest last).
			if !slices.Equal(got, ids) {
				t.Fatalf("forward walk:\n got %v\nwant %v", got, ids)
			}
		})
		t.Run("backward with last/before", func(t *testing.T) {
			var got []string
			var before any
			for {
				p := usersPage(t, s, map[string]any{"last": 10, "before": before})
				got = append(p.ids(), got...)
				if !p.PageInfo.HasPreviousPage {
					break
				}
				before = *p.PageInfo.StartCursor
			}
			if !slices.Equal(got, ids) {
				t.Fatalf("backward walk:\n got %v\nwant %v", got, ids)
			}
		})
		t.Run("last alone is the tail", func(t *testing.T) {
			p := usersPage(t, s, map[string]any{"last": 3})
			if !slices.Equal(p.ids(), ids[n-3:]) || p.PageInfo.HasNextPage || !p.PageInfo.HasPreviousPage {
				t.Fatalf("last 3: %v %+v", p.ids(), p.PageInfo)
			}
		})
		t.Run("created at descending", func(t *testing.T) {
			var got []string
			var after any
			var prev time.Time
			for {
				p := usersPage(t, s, map[string]any{"first": 7, "after": after, "orderBy": []any{map[string]any{"field": "CREATED_AT", "direction": "DESC"}}})
				for _, e := range p.Edges {
					ts, err := time.Parse(time.RFC3339Nano, e.Node.CreatedAt)
					if err != nil {
						t.Fatal(err)
					}
					if !prev.IsZero() && ts.After(prev) {
						t.Fatalf("not descending: %v after %v", ts, prev)
					}
					prev = ts
				}
				got = append(got, p.ids()...)
				if !p.PageInfo.HasNextPage {
					break
				}
				after = *p.PageInfo.EndCursor
			}
			want := slices.Clone(ids)
			slices.Reverse(want)
			if !slices.Equal(got, want) {
				t.Fatalf("DESC walk:\n got %v\nwant %v", got, want)
			}
		})
		t.Run("logins count", func(t *testing.T) {
			// logins_count is system-maintained; arrange it directly.
			for i, id := range ids {
				if err := s.Deps.DB.Ent.User.UpdateOneID(pulid.ID(id)).SetLoginsCount((i * 7) % 5).Exec(systemCtx(t)); err != nil {
					t.Fatal(err)
				}
			}
			var counts []int
			var got []string
			var after any
			for {
				p := usersPage(t, s, map[string]any{"first": 6, "after": after, "orderBy": []any{
					map[string]any{"field": "LOGINS_COUNT", "direction": "DESC"}}})
				for _, e := range p.Edges {
					counts = append(counts, e.Node.LoginsCount)
				}
				got = append(got, p.ids()...)
				if !p.PageInfo.HasNextPage {
					break
				}
				after = *p.PageInfo.EndCursor
			}
			if len(got) != n || !slices.IsSortedFunc(counts, func(a, b int) int { return b - a }) {
				t.Fatalf("LOGINS_COUNT DESC: %d users, counts %v", len(got), counts)
			}
			seen := map[string]bool{}
			for _, id := range got {
				if seen[id] {
					t.Fatalf("%s twice across pages", id)
				}
				seen[id] = true
			}
		})
		t.Run("totalCount follows the query", func(t *testing.T) {
			p := usersPage(t, s, map[string]any{"first": 2, "q": "email:page1*"})
			if p.TotalCount != 10 || len(p.Edges) != 2 || !p.PageInfo.HasNextPage {
				t.Fatalf("totalCount %d edges %d", p.TotalCount, len(p.Edges))
			}
		})
		t.Run("counts only when totalCount is selected", func(t *testing.T) {
			s.StopJobs()
			var mu sync.Mutex
			var counts int
			s.Deps.DB.TraceStatements(func(q string, _ bool) {
				if strings.Contains(strings.ToLower(q), "count(") {
					mu.Lock()
					counts++
					mu.Unlock()
				}
			})
			defer s.Deps.DB.TraceStatements(nil)
			var out struct{ Users page }
			s.MustGraphQL(t, s.AdminToken(t), `{ users(first: 10) { pageInfo { hasNextPage endCursor } edges { cursor } } }`, nil, &out)
			if counts != 0 || !out.Users.PageInfo.HasNextPage || len(out.Users.Edges) != 10 {
				t.Fatalf("page without totalCount: %d counts, %+v", counts, out.Users.PageInfo)
			}
			var tc struct {
				Users struct {
					TotalCount           int
					TotalCountIsEstimate bool
				}
			}
			s.MustGraphQL(t, s.AdminToken(t), `{ users(first: 1) { totalCount totalCountIsEstimate } }`, nil, &tc)
			if counts != 1 || tc.Users.TotalCount != n || tc.Users.TotalCountIsEstimate {
				t.Fatalf("totalCount: %d counts, %+v", counts, tc.Users)
			}
		})
		t.Run("last login, users without one last both ways", func(t *testing.T) {
			for i, id := range ids[:10] {
				if err := s.Deps.DB.Ent.User.UpdateOneID(pulid.ID(id)).SetLastLogin(time.Date(2026, 1, 1, i%3, 0, 0, 0, time.UTC)).Exec(systemCtx(t)); err != nil {
					t.Fatal(err)
				}
			}
			for _, dir := range []string{"ASC", "DESC"} {
				var got []string
				var after any
				for {
					p := usersPage(t, s, map[string]any{"first": 4, "after": after, "orderBy": []any{map[string]any{"field": "LAST_LOGIN", "direction": dir}}})
					got = append(got, p.ids()...)
					if !p.PageInfo.HasNextPage {
						break
					}
					after = *p.PageInfo.EndCursor
				}
				if len(got) != n || !slices.Equal(got[10:], ids[10:]) && !slices.Equal(got[10:], reversed(ids[10:])) {
					t.Fatalf("LAST_LOGIN %s: %v", dir, got)
				}
				if dir == "DESC" && !slices.Equal(got[10:], reversed(ids[10:])) {
					t.Fatalf("LAST_LOGIN DESC: NULLs not by id descending: %v", got[10:])
				}
			}
		})
		t.Run("bad cursors and orders", func(t *testing.T) {
			p := usersPage(t, s, map[string]any{"first": 1, "orderBy": []any{map[string]any{"field": "LOGINS_COUNT"}}})
			// A cursor of the count order holds a number, not a time.
			r := s.GraphQL(t, s.AdminToken(t), pageQuery, map[string]any{"first": 1, "after": p.Edges[0].Cursor,
				"orderBy": []any{map[string]any{"field": "CREATED_AT"}}})
			expectError(t, r, "BAD_USER_INPUT", "after")
			r = s.GraphQL(t, s.AdminToken(t), pageQuery, map[string]any{"first": 1, "orderBy": []any{
				map[string]any{"field": "CREATED_AT"}, map[string]any{"field": "LOGINS_COUNT"}}})
			expectError(t, r, "BAD_USER_INPUT", "orderBy")
		})
		t.Run("limits", func(t *testing.T) {
			for _, tc := range []struct {
				vars  map[string]any
				field string
			}{
				{map[string]any{"first": 101}, "first"},
				{map[string]any{"last": 101}, "last"},
				{map[string]any{"first": -1}, "first"},
			} {
				expectError(t, s.GraphQL(t, s.AdminToken(t), pageQuery, tc.vars), "BAD_USER_INPUT", tc.field)
			}
			for _, q := range []string{
				`{ connections(first: 101) { totalCount } }`, `{ clients(last: 500) { totalCount } }`, `{ logs(first: 1000) { totalCount } }`,
			} {
				expectError(t, s.GraphQL(t, s.AdminToken(t), q, nil), "BAD_USER_INPUT", "")
			}
			if p := usersPage(t, s, map[string]any{"first": 100}); len(p.Edges) != n {
				t.Fatalf("first: 100 gave %d", len(p.Edges))
			}
		})
		t.Run("default page is 50", func(t *testing.T) {
			more := batchCreateUsers(t, s, 30, func(i int) string { return fmt.Sprintf("more%02d@example.com", i) })
			p := usersPage(t, s, map[string]any{})
			if len(p.Edges) != 50 || !p.PageInfo.HasNextPage || p.TotalCount != n+len(more) {
				t.Fatalf("default page: %d edges, hasNext %v, total %d", len(p.Edges), p.PageInfo.HasNextPage, p.TotalCount)
			}
			rest := usersPage(t, s, map[string]any{"after": *p.PageInfo.EndCursor})
			if len(rest.Edges) != 5 || rest.PageInfo.HasNextPage {
				t.Fatalf("second default page: %d edges", len(rest.Edges))
			}
			// logs, clients and connections default alike.
			var out struct{ Logs page }
			s.MustGraphQL(t, s.AdminToken(t), `{ logs { totalCount edges { cursor } } }`, nil, &out)
			if out.Logs.TotalCount <= 50 || len(out.Logs.Edges) != 50 {
				t.Fatalf("logs default page: %d of %d", len(out.Logs.Edges), out.Logs.TotalCount)
			}
		})
	})
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
