package apiv2_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/logs"
)

// btSeedLogs writes n events: types s, fp, f in turn, users auth0|u0 to
// auth0|u4, descriptions "entry N".
func btSeedLogs(t testing.TB, s *apitest.Server, from, n int) {
	t.Helper()
	ctx := logs.WithRequest(context.Background(), logs.Request{IP: "192.0.2.10", UserAgent: "bt-seed"})
	types := []string{"s", "fp", "f"}
	for i := from; i < from+n; i++ {
		err := logs.Write(ctx, s.Deps.DB.Ent, logs.Event{Type: types[i%3], Description: fmt.Sprintf("entry %d", i),
			UserID: fmt.Sprintf("auth0|u%d", i%5), UserName: fmt.Sprintf("user%d@example.com", i%5),
			Connection: btConn, ClientID: "bt-client", Details: map[string]any{"n": i}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func btLogIDs(ls []*management.Log) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.GetLogID()
	}
	return out
}

func btCount(t testing.TB, s *apitest.Server, ps ...func(*ent.LogEventQuery)) int {
	t.Helper()
	q := s.Deps.DB.Ent.LogEvent.Query()
	for _, p := range ps {
		p(q)
	}
	return q.CountX(btSys)
}

func TestLogs(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		admin := scopedSDK(t, s, "read:logs")
		btSeedLogs(t, s, 0, 260)

		t.Run("checkpoint paging", func(t *testing.T) {
			var got []string
			page, err := admin.Log.List(ctx, management.Take(100))
			if err != nil {
				t.Fatal(err)
			}
			for round := 0; len(page) > 0; round++ {
				if len(page) > 100 {
					t.Fatalf("a page of %d", len(page))
				}
				ids := btLogIDs(page)
				if !slices.IsSorted(ids) {
					t.Fatalf("page %d is not in id order", round)
				}
				for _, l := range page {
					if l.GetID() != l.GetLogID() || l.Date == nil {
						t.Fatalf("log %+v", l)
					}
				}
				got = append(got, ids...)
				if round == 0 {
					// Written while the reader pages: read at the end.
					btSeedLogs(t, s, 1000, 5)
				}
				if page, err = admin.Log.List(ctx, management.From(ids[len(ids)-1]), management.Take(100)); err != nil {
					t.Fatal(err)
				}
			}
			want, err := s.Deps.DB.Ent.LogEvent.Query().Order(ent.Asc(logevent.FieldID)).IDs(btSys)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) < 265 {
				t.Fatalf("only %d events", len(want))
			}
			if len(got) != len(want) {
				t.Fatalf("read %d events, %d stored", len(got), len(want))
			}
			for i := range want {
				if string(want[i]) != got[i] {
					t.Fatalf("event %d: read %s, stored %s", i, got[i], want[i])
				}
			}
			// Past the end: an empty array. take above 100 reads 100.
			if page, err := admin.Log.List(ctx, management.From(got[len(got)-1]), management.Take(100)); err != nil || len(page) != 0 {
				t.Fatalf("past the end: %d %v", len(page), err)
			}
			if page, err := admin.Log.List(ctx, management.From(got[0]), management.Take(500)); err != nil || len(page) != 100 || page[0].GetLogID() != got[1] {
				t.Fatalf("take=500: %d %v", len(page), err)
			}
			// from alone takes 50.
			if page, err := admin.Log.List(ctx, management.From(got[10])); err != nil || len(page) != 50 || page[0].GetLogID() != got[11] {
				t.Fatalf("from alone: %d %v", len(page), err)
			}
		})

		t.Run("search", func(t *testing.T) {
			fp, err := admin.Log.List(ctx, management.Query("type:fp"), management.PerPage(100))
			if err != nil {
				t.Fatal(err)
			}
			if want := btCount(t, s, func(q *ent.LogEventQuery) { q.Where(logevent.Type("fp")) }); len(fp) != want || want == 0 {
				t.Fatalf("type:fp: %d, want %d", len(fp), want)
			}
			for _, l := range fp {
				if l.GetType() != "fp" {
					t.Fatalf("type:fp returned %+v", l)
				}
			}
			for q, pred := range map[string]func(*ent.LogEventQuery){
				`user_id:"auth0|u1"`:              func(q *ent.LogEventQuery) { q.Where(logevent.UserID("auth0|u1")) },
				`user_id:auth0|u1 AND type:fp`:    func(q *ent.LogEventQuery) { q.Where(logevent.UserID("auth0|u1"), logevent.Type("fp")) },
				`type:fp OR type:f`:               func(q *ent.LogEventQuery) { q.Where(logevent.TypeIn("fp", "f")) },
				`type:fp type:f`:                  func(q *ent.LogEventQuery) { q.Where(logevent.TypeIn("fp", "f")) },
				`user_id:auth0|u2 AND NOT type:s`: func(q *ent.LogEventQuery) { q.Where(logevent.UserID("auth0|u2"), logevent.TypeNEQ("s")) },
				`(type:s OR type:f) AND user_id:auth0|u3`: func(q *ent.LogEventQuery) {
					q.Where(logevent.TypeIn("s", "f"), logevent.UserID("auth0|u3"))
				},
				`user_name:user4*`:       func(q *ent.LogEventQuery) { q.Where(logevent.UserNameHasPrefix("user4")) },
				`user_name:USER4*`:       func(q *ent.LogEventQuery) { q.Where(logevent.UserName("nobody")) },
				`description:"entry 25"`: func(q *ent.LogEventQuery) { q.Where(logevent.DescriptionContains("entry 25")) },
				`client_id:bt-client AND date:` + time.Now().UTC().Format(time.DateOnly): func(q *ent.LogEventQuery) {
					q.Where(logevent.ClientID("bt-client"))
				},
				`client_id:bt-client AND date:[2000-01-01 TO *]`: func(q *ent.LogEventQuery) { q.Where(logevent.ClientID("bt-client")) },
				`date:[* TO 2000-01-01]`:                         func(q *ent.LogEventQuery) { q.Where(logevent.Type("none")) },
				`client_id:bt-client AND date:{` + time.Now().UTC().Format(time.DateOnly) + ` TO *]`: func(q *ent.LogEventQuery) {
					q.Where(logevent.Type("none"))
				},
			} {
				want := btCount(t, s, pred)
				status, raw := btRaw(t, s, s.Token(t, "read:logs"), http.MethodGet,
					"/logs?include_totals=true&per_page=5&q="+url.QueryEscape(q), "")
				var env struct {
					Start, Limit, Length, Total int
					Logs                        []json.RawMessage
				}
				if status != http.StatusOK || json.Unmarshal(raw, &env) != nil {
					t.Fatalf("%s: %d %s", q, status, raw)
				}
				if env.Total != want || env.Length != min(want, 5) || len(env.Logs) != env.Length || env.Limit != 5 || env.Start != 0 {
					t.Fatalf("%s: start %d limit %d length %d total %d, want total %d", q, env.Start, env.Limit, env.Length, env.Total, want)
				}
			}
		})

		t.Run("sort and fields", func(t *testing.T) {
			all := btCount(t, s)
			newest, err := admin.Log.List(ctx, management.PerPage(100), management.Page(0))
			if err != nil || len(newest) != 100 {
				t.Fatalf("%d %v", len(newest), err)
			}
			oldest, err := admin.Log.List(ctx, management.PerPage(100), management.Sort("date:1"))
			if err != nil || len(oldest) != 100 {
				t.Fatalf("%d %v", len(oldest), err)
			}
			ids := btLogIDs(oldest)
			if !slices.IsSorted(ids) {
				t.Fatal("date:1 is not oldest first")
			}
			desc := btLogIDs(newest)
			if !slices.IsSortedFunc(desc, func(a, b string) int { return strings.Compare(b, a) }) || desc[0] <= ids[len(ids)-1] {
				t.Fatal("the default is not newest first")
			}
			lastPage := (all - 1) / 100
			last, err := admin.Log.List(ctx, management.PerPage(100), management.Page(lastPage), management.Sort("date:-1"))
			if err != nil || len(last) != all-lastPage*100 || last[len(last)-1].GetLogID() != ids[0] {
				t.Fatalf("last page: %d of %d, %v", len(last), all, err)
			}
			some, err := admin.Log.List(ctx, management.IncludeFields("log_id", "type"), management.PerPage(3))
			if err != nil || len(some) != 3 {
				t.Fatal(err)
			}
			for _, l := range some {
				if l.LogID == nil || l.Type == nil || l.ID != nil || l.Date != nil || l.UserID != nil || l.Details != nil {
					t.Fatalf("include_fields: %+v", l)
				}
			}
			some, err = admin.Log.List(ctx, management.ExcludeFields("details", "description"), management.Query("type:s"), management.PerPage(3))
			if err != nil || len(some) != 3 {
				t.Fatal(err)
			}
			for _, l := range some {
				if l.LogID == nil || l.Date == nil || l.Details != nil || l.Description != nil {
					t.Fatalf("exclude_fields: %+v", l)
				}
			}
		})

		t.Run("read", func(t *testing.T) {
			e := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Description("entry 7")).OnlyX(btSys)
			l, err := admin.Log.Read(ctx, string(e.ID))
			if err != nil {
				t.Fatal(err)
			}
			if l.GetLogID() != string(e.ID) || l.GetType() != e.Type || l.GetUserID() != e.UserID || l.GetIP() != "192.0.2.10" ||
				l.GetConnection() != btConn || !l.GetDate().Equal(e.Date.Truncate(time.Millisecond)) || l.Details["n"] != float64(7) {
				t.Fatalf("read %+v, stored %+v", l, e)
			}
			for _, id := range []string{"log_01JNOPE0000000000000000000", "nope", "usr_01JNOPE0000000000000000000"} {
				_, err := admin.Log.Read(ctx, id)
				expectStatus(t, err, http.StatusNotFound, "unknown log "+id)
			}
			status, raw := btRaw(t, s, "", http.MethodGet, "/logs/log_01JNOPE0000000000000000000", "")
			btRawError(t, status, raw, http.StatusNotFound, "inexistent_log")
		})

		t.Run("refused", func(t *testing.T) {
			before := btCount(t, s)
			noLogs := scopedSDK(t, s, "read:users", "update:users")
			_, err := noLogs.Log.List(ctx)
			expectStatus(t, err, http.StatusForbidden, "list without read:logs")
			_, err = noLogs.Log.Read(ctx, "log_01JNOPE0000000000000000000")
			expectStatus(t, err, http.StatusForbidden, "read without read:logs")
			for _, q := range []string{"type:", "type:fp AND", "(type:fp", "type:fp)", "bogus:x", "hostname:x", "organization_id:x",
				"fp", "type:f?", "type:f*p", "type:fp~", "date:yesterday", "date:[2026-01-01 TO]", "user_id:[a TO b]", `user_id:"auth0|u1`,
				"NOT", "AND type:fp", strings.Repeat("(", 40) + "type:fp" + strings.Repeat(")", 40), strings.Repeat("type:fp OR ", 300) + "type:s"} {
				_, err := admin.Log.List(ctx, management.Query(q))
				expectStatus(t, err, http.StatusBadRequest, "q="+q)
			}
			for _, query := range []string{"sort=user_id:1", "sort=date", "take=0", "take=x", "from=nope", "from=12345",
				"per_page=101", "per_page=0", "page=-1", "page=10&per_page=100", "include_totals=maybe", "include_fields=maybe", "foo=bar"} {
				status, raw := btRaw(t, s, s.Token(t, "read:logs"), http.MethodGet, "/logs?"+query, "")
				code := "invalid_query_string"
				if query == "page=10&per_page=100" {
					code = "invalid_paging"
				}
				btRawError(t, status, raw, http.StatusBadRequest, code)
			}
			status, raw := btRaw(t, s, s.Token(t, "read:logs"), http.MethodGet, "/logs/log_01JNOPE0000000000000000000?fields=type", "")
			btRawError(t, status, raw, http.StatusBadRequest, "invalid_query_string")
			if n := btCount(t, s); n != before {
				t.Fatalf("refused reads wrote %d events", n-before)
			}
		})
	})
}
