package apiv2_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/auth0/go-auth0"
	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/apitest"
)

const uConn = "Username-Password-Authentication"

// uRaw sends a request with a bearer token and returns status and body.
func uRaw(t testing.TB, s *apitest.Server, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, s.URL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// uCount is the number of users in the database.
func uCount(t testing.TB, s *apitest.Server) int {
	t.Helper()
	n, err := s.Deps.DB.Ent.User.Query().Count(authz.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func uCreate(t testing.TB, m *management.Management, u *management.User) *management.User {
	t.Helper()
	if u.Connection == nil {
		u.Connection = auth0.String(uConn)
	}
	if err := m.User.Create(context.Background(), u); err != nil {
		t.Fatalf("create %s: %v", u.GetEmail(), err)
	}
	return u
}

func TestUsersLifecycle(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")

		// Create: 201 with the whole user, in Auth0's shape.
		ada := uCreate(t, m, &management.User{
			Email: auth0.String("Ada@Example.com"), Password: auth0.String("Analytical-Engine-1843"),
			GivenName: auth0.String("Ada"), PhoneNumber: auth0.String("+441234567890"), VerifyEmail: auth0.Bool(false),
			UserMetadata: &map[string]any{"color": "blue", "size": "L"},
			AppMetadata:  &map[string]any{"plan": "gold"},
		})
		if !strings.HasPrefix(ada.GetID(), "auth0|") || ada.GetEmail() != "ada@example.com" || ada.GetEmailVerified() ||
			ada.CreatedAt == nil || ada.UpdatedAt == nil || ada.LastLogin != nil || ada.GetNickname() != "ada" ||
			ada.GetPhoneVerified() || ada.GetBlocked() || ada.GetLoginsCount() != 0 {
			t.Fatalf("created: %+v", ada)
		}
		if len(ada.Identities) != 1 || ada.Identities[0].GetProvider() != "auth0" || ada.Identities[0].GetConnection() != uConn ||
			ada.Identities[0].GetUserID() != strings.TrimPrefix(ada.GetID(), "auth0|") || ada.Identities[0].GetIsSocial() ||
			ada.Identities[0].AccessToken != nil {
			t.Fatalf("identities: %+v", ada.Identities)
		}
		// user_id: a bare id gets auth0|, a provider|id is kept.
		for given, want := range map[string]string{"custom-1": "auth0|custom-1", "auth0|custom-2": "auth0|custom-2"} {
			u := uCreate(t, m, &management.User{ID: auth0.String(given), Email: auth0.String(given + "@example.com"),
				Password: auth0.String("Custom-Pass-2024!")})
			if u.GetID() != want {
				t.Fatalf("user_id %q → %q, want %q", given, u.GetID(), want)
			}
		}
		n := uCount(t, s)

		// Duplicates: 409, nothing written.
		err := m.User.Create(ctx, &management.User{Connection: auth0.String(uConn), Email: auth0.String("ADA@example.com"),
			Password: auth0.String("Another-Pass-2024")})
		expectStatus(t, err, http.StatusConflict, "duplicate email")
		if !strings.Contains(err.Error(), "The user already exists.") {
			t.Fatalf("duplicate message: %v", err)
		}
		err = m.User.Create(ctx, &management.User{Connection: auth0.String(uConn), ID: auth0.String("custom-1"),
			Email: auth0.String("other@example.com")})
		expectStatus(t, err, http.StatusConflict, "duplicate user_id")
		// No connection, an unknown connection, an invalid field: 400.
		expectStatus(t, m.User.Create(ctx, &management.User{Email: auth0.String("x@example.com")}), http.StatusBadRequest, "no connection")
		expectStatus(t, m.User.Create(ctx, &management.User{Connection: auth0.String("nope"), Email: auth0.String("x@example.com")}),
			http.StatusBadRequest, "unknown connection")
		expectStatus(t, m.User.Create(ctx, &management.User{Connection: auth0.String(uConn), Email: auth0.String("x@example.com"),
			Picture: auth0.String("not a url")}), http.StatusBadRequest, "bad picture")
		if got := uCount(t, s); got != n {
			t.Fatalf("refused creates wrote users: %d → %d", n, got)
		}

		// Read: by user_id (escaped by the SDK) and by node id.
		got, err := m.User.Read(ctx, ada.GetID())
		if err != nil || got.GetEmail() != "ada@example.com" || (*got.UserMetadata)["color"] != "blue" ||
			!got.CreatedAt.Equal(*ada.CreatedAt) || got.GetPhoneNumber() != "+441234567890" {
			t.Fatalf("read: %+v %v", got, err)
		}
		_, err = m.User.Read(ctx, "auth0|nobody")
		expectStatus(t, err, http.StatusNotFound, "read unknown")
		if !strings.Contains(err.Error(), "The user does not exist.") {
			t.Fatalf("404 message: %v", err)
		}
		// fields / include_fields.
		part, err := m.User.Read(ctx, ada.GetID(), management.IncludeFields("email", "user_id"))
		if err != nil || part.GetEmail() != "ada@example.com" || part.GetID() != ada.GetID() || part.GivenName != nil || part.Identities != nil {
			t.Fatalf("include_fields: %+v %v", part, err)
		}
		part, err = m.User.Read(ctx, ada.GetID(), management.ExcludeFields("identities", "user_metadata"))
		if err != nil || part.Identities != nil || part.UserMetadata != nil || part.GetGivenName() != "Ada" {
			t.Fatalf("exclude fields: %+v %v", part, err)
		}

		// Update: Auth0's metadata merge — top level, null deletes a key.
		upd := &management.User{
			Name:         auth0.String("Ada Lovelace"),
			UserMetadata: &map[string]any{"color": nil, "shoe": 38},
		}
		if err := m.User.Update(ctx, ada.GetID(), upd); err != nil {
			t.Fatal(err)
		}
		// (The SDK decodes the answer into the map it sent, which keeps
		// "color": nil client-side: read the user back.)
		upd, err = m.User.Read(ctx, ada.GetID())
		if err != nil || upd.GetName() != "Ada Lovelace" || upd.GetGivenName() != "Ada" || !slices.Equal(uKeys(*upd.UserMetadata), []string{"shoe", "size"}) ||
			(*upd.UserMetadata)["shoe"] != float64(38) || (*upd.AppMetadata)["plan"] != "gold" || !upd.UpdatedAt.After(*ada.UpdatedAt) {
			t.Fatalf("updated: %+v %v", upd, err)
		}
		// Root attributes: null unsets, blocked false is honoured.
		admin := s.AdminToken(t)
		path := "/api/v2/users/" + url.PathEscape(ada.GetID())
		st, body := uRaw(t, s, admin, http.MethodPatch, path, `{"given_name": null, "blocked": true, "app_metadata": {}}`)
		var raw map[string]any
		_ = json.Unmarshal(body, &raw)
		if st != http.StatusOK || raw["given_name"] != nil || raw["blocked"] != true || len(raw["app_metadata"].(map[string]any)) != 0 {
			t.Fatalf("patch nulls: %d %s", st, body)
		}
		unblock := &management.User{Blocked: auth0.Bool(false)}
		if err := m.User.Update(ctx, ada.GetID(), unblock); err != nil || unblock.GetBlocked() {
			t.Fatalf("unblock: %+v %v", unblock, err)
		}
		// A password change goes through the connection's policy.
		pw := &management.User{Password: auth0.String("Difference-Engine-1822"), Connection: auth0.String(uConn)}
		if err := m.User.Update(ctx, ada.GetID(), pw); err != nil || pw.LastPasswordReset == nil {
			t.Fatalf("password: %+v %v", pw, err)
		}
		// Refused patches write nothing.
		before, _ := m.User.Read(ctx, ada.GetID())
		err = m.User.Update(ctx, ada.GetID(), &management.User{Password: auth0.String("weak"), Name: auth0.String("Mallory")})
		expectStatus(t, err, http.StatusBadRequest, "weak password")
		if !strings.Contains(err.Error(), "PasswordStrengthError: Password is too weak") {
			t.Fatalf("weak password message: %v", err)
		}
		for name, b := range map[string]string{
			"unknown property": `{"name": "Mallory", "favourite_color": "red"}`,
			"wrong type":       `{"name": 42}`,
			"read-only":        `{"name": "Mallory", "created_at": "2020-01-01T00:00:00.000Z"}`,
			"empty":            `{}`,
			"bad email":        `{"name": "Mallory", "email": "not an email"}`,
			"other connection": `{"name": "Mallory", "connection": "nope"}`,
			"not json":         `{"name": `,
		} {
			st, body := uRaw(t, s, admin, http.MethodPatch, path, b)
			var eb map[string]any
			if err := json.Unmarshal(body, &eb); err != nil || st != http.StatusBadRequest || eb["statusCode"] != float64(400) ||
				eb["errorCode"] != "invalid_body" {
				t.Fatalf("%s: %d %s", name, st, body)
			}
		}
		// go-auth0 read → modify → update round trips send read-only
		// fields: refused, as Auth0 does.
		roundTrip, _ := m.User.Read(ctx, ada.GetID())
		roundTrip.Name = auth0.String("Mallory")
		expectStatus(t, m.User.Update(ctx, ada.GetID(), roundTrip), http.StatusBadRequest, "round trip")
		after, _ := m.User.Read(ctx, ada.GetID())
		if after.GetName() != before.GetName() || !after.UpdatedAt.Equal(*before.UpdatedAt) {
			t.Fatalf("refused patches changed the user: %+v → %+v", before, after)
		}
		expectStatus(t, m.User.Update(ctx, "auth0|nobody", &management.User{Name: auth0.String("x")}), http.StatusNotFound, "patch unknown")

		// Delete: 204, then 404 on read; deleting again is 204 too.
		if err := m.User.Delete(ctx, ada.GetID()); err != nil {
			t.Fatal(err)
		}
		_, err = m.User.Read(ctx, ada.GetID())
		expectStatus(t, err, http.StatusNotFound, "read deleted")
		if err := m.User.Delete(ctx, ada.GetID()); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		if st, body := uRaw(t, s, admin, http.MethodDelete, path, nil); st != http.StatusNoContent || len(body) != 0 {
			t.Fatalf("delete status: %d %s", st, body)
		}
	})
}

func uKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestUsersListSearchAndPaging(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		for i := range 25 {
			group := "odd"
			if i%2 == 0 {
				group = "even"
			}
			uCreate(t, m, &management.User{Email: auth0.String(fmt.Sprintf("user%02d@paging.test", i)),
				Name:        auth0.String(fmt.Sprintf("Paging User %02d", 24-i)),
				AppMetadata: &map[string]any{"n": i, "group": group}})
		}
		uCreate(t, m, &management.User{Email: auth0.String("outsider@elsewhere.test")})

		// Page through the search with include_totals envelopes, as the
		// SDK's documented loop does.
		var seen []string
		for page := 0; ; page++ {
			l, err := m.User.List(ctx, management.Query("email.domain:paging.test"), management.PerPage(10), management.Page(page),
				management.Sort("email:1"))
			if err != nil {
				t.Fatal(err)
			}
			if l.Total != 25 || l.Start != page*10 || l.Limit != 10 || l.Length != len(l.Users) || l.Next != "" {
				t.Fatalf("page %d envelope: start %d limit %d length %d total %d", page, l.Start, l.Limit, l.Length, l.Total)
			}
			for _, u := range l.Users {
				seen = append(seen, u.GetEmail())
			}
			if !l.HasNext() {
				break
			}
			if page > 3 {
				t.Fatal("HasNext never false")
			}
		}
		if len(seen) != 25 || !slices.IsSorted(seen) || seen[0] != "user00@paging.test" || len(slices.Compact(slices.Clone(seen))) != 25 {
			t.Fatalf("paged: %v", seen)
		}
		// Sort orders: descending email, ascending name, user_id, dates.
		l, err := m.User.List(ctx, management.Query("email.domain:paging.test"), management.Sort("email:-1"), management.PerPage(3))
		if err != nil || l.Users[0].GetEmail() != "user24@paging.test" || l.Users[2].GetEmail() != "user22@paging.test" {
			t.Fatalf("email:-1: %v %v", uEmails(l), err)
		}
		l, err = m.User.List(ctx, management.Query("email.domain:paging.test"), management.Sort("name:1"), management.PerPage(2))
		if err != nil || l.Users[0].GetEmail() != "user24@paging.test" {
			t.Fatalf("name:1: %v %v", uEmails(l), err)
		}
		l, err = m.User.List(ctx, management.Query("email.domain:paging.test"), management.Sort("created_at:-1"), management.PerPage(1))
		if err != nil || l.Users[0].GetEmail() != "user24@paging.test" {
			t.Fatalf("created_at:-1: %v %v", uEmails(l), err)
		}
		for _, sort := range []string{"updated_at:1", "last_login:-1", "user_id:1", "logins_count:-1"} {
			if l, err := m.User.List(ctx, management.Sort(sort)); err != nil || l.Total != 26 || len(l.Users) != 26 {
				t.Fatalf("%s: %v", sort, err)
			}
		}
		// Queries: metadata, exact email, boolean, OR.
		for q, want := range map[string]int{
			"app_metadata.group:even":                           13,
			`email:"USER03@paging.test"`:                        1,
			"app_metadata.n:7 OR app_metadata.n:8":              2,
			"identities.connection:\"" + uConn + "\"":           26,
			"email.domain:paging.test AND NOT app_metadata.n:0": 24,
			"name:paging*": 25,
		} {
			l, err := m.User.List(ctx, management.Query(q))
			if err != nil || l.Total != want || len(l.Users) != want {
				t.Fatalf("q=%s: %v %v, want %d", q, uEmails(l), err, want)
			}
		}
		// Bad requests: query, engine, sort, paging window, page size.
		for name, opts := range map[string][]management.RequestOption{
			"bad query":     {management.Query("nosuchfield:x")},
			"unbalanced":    {management.Query("(email:x")},
			"engine v2":     {management.Query("email:x"), management.Parameter("search_engine", "v2")},
			"engine v1":     {management.Parameter("search_engine", "v1")},
			"unknown sort":  {management.Sort("favourite_color:1")},
			"bad direction": {management.Sort("email:up")},
			"per_page 101":  {management.PerPage(101)},
			"negative page": {management.Page(-1)},
		} {
			_, err := m.User.List(ctx, opts...)
			expectStatus(t, err, http.StatusBadRequest, name)
		}
		// A listing renders metadata as stored (read raw), equal to a
		// single read's (decoded through ent); an empty object stays {}.
		l, err = m.User.List(ctx, management.Query("app_metadata.n:7"))
		if err != nil || len(l.Users) != 1 {
			t.Fatalf("n:7: %v", err)
		}
		one, err := m.User.Read(ctx, l.Users[0].GetID())
		if err != nil || !reflect.DeepEqual(l.Users[0].AppMetadata, one.AppMetadata) || (*one.AppMetadata)["n"] != float64(7) ||
			l.Users[0].UserMetadata == nil || len(*l.Users[0].UserMetadata) != 0 {
			t.Fatalf("listed metadata %v / %v, read %v: %v", l.Users[0].AppMetadata, l.Users[0].UserMetadata, one.AppMetadata, err)
		}
		// No 1,000-result window (Auth0 refuses past it): a page beyond
		// is served, empty here, with the exact total.
		for _, opts := range [][]management.RequestOption{{management.Page(10), management.PerPage(100)}, {management.Page(20)}} {
			l, err := m.User.List(ctx, opts...)
			if err != nil || len(l.Users) != 0 || l.Total != 26 {
				t.Fatalf("past 1000: %v %v", uEmails(l), err)
			}
		}
		st, body := uRaw(t, s, s.AdminToken(t), http.MethodGet, "/api/v2/users?include_totals=true&per_page=1", nil)
		if st != http.StatusOK || strings.Contains(string(body), "total_is_estimate") {
			t.Fatalf("an exact total is not flagged: %d %s", st, body)
		}

		// Checkpoint paging (take/from) in sort's order, through the SDK
		// (which also sends per_page and include_totals: ignored).
		// Each of these sorts lists them as user00…user24: names run
		// backwards, and nobody has logged in (NULLs: by id, creation order).
		for _, sort := range []string{"email:1", "name:-1", "last_login:1"} {
			var got []string
			var from []management.RequestOption
			for pages := 0; ; pages++ {
				opts := append([]management.RequestOption{management.Query("email.domain:paging.test"), management.Sort(sort), management.Take(10)}, from...)
				l, err := m.User.List(ctx, opts...)
				if err != nil {
					t.Fatalf("%s: %v", sort, err)
				}
				if l.Total != 0 || pages > 3 {
					t.Fatalf("%s: checkpoint page %d: total %d", sort, pages, l.Total)
				}
				got = append(got, uEmails(l)...)
				if l.Next == "" {
					break
				}
				from = []management.RequestOption{management.From(l.Next)}
			}
			want := make([]string, 25)
			for i := range want {
				want[i] = fmt.Sprintf("user%02d@paging.test", i)
			}
			if len(got) != 25 || !slices.Equal(got, want) {
				t.Fatalf("%s: checkpoint walk %v", sort, got)
			}
		}
		// The answer's shape: users and next, nothing else.
		st, body = uRaw(t, s, s.AdminToken(t), http.MethodGet, "/api/v2/users?take=2&sort=email:1&q=email.domain%3Apaging.test&fields=email", nil)
		var cp map[string]json.RawMessage
		if err := json.Unmarshal(body, &cp); st != http.StatusOK || err != nil || len(cp) != 2 || cp["next"] == nil {
			t.Fatalf("checkpoint answer: %d %s", st, body)
		}
		var next string
		json.Unmarshal(cp["next"], &next)
		// A checkpoint is refused under another sort, and forged ones, in
		// Auth0's error shape.
		for _, bad := range []string{"from=" + next + "&sort=email:-1", "from=not-a-checkpoint", "from=" + next[:len(next)-4] + "&sort=email:1", "take=0"} {
			st, body := uRaw(t, s, s.AdminToken(t), http.MethodGet, "/api/v2/users?"+bad, nil)
			var e map[string]any
			if err := json.Unmarshal(body, &e); st != http.StatusBadRequest || err != nil || e["statusCode"] != float64(400) ||
				e["error"] != "Bad Request" || e["errorCode"] != "invalid_query_string" {
				t.Fatalf("%s: %d %s", bad, st, body)
			}
		}
		// fields/include_fields on lists.
		l, err = m.User.List(ctx, management.Query("email.domain:paging.test"), management.IncludeFields("email", "user_id"))
		if err != nil || len(l.Users) != 25 || l.Users[0].GetEmail() == "" || l.Users[0].GetID() == "" || l.Users[0].Name != nil || l.Users[0].Identities != nil {
			t.Fatalf("include_fields: %+v %v", l.Users[0], err)
		}
		l, err = m.User.List(ctx, management.Query("email.domain:paging.test"), management.ExcludeFields("identities", "app_metadata"))
		if err != nil || l.Users[0].Identities != nil || l.Users[0].AppMetadata != nil || l.Users[0].GetName() == "" {
			t.Fatalf("exclude fields: %+v %v", l.Users[0], err)
		}
		// Without include_totals: a bare array, as Auth0.
		admin := s.AdminToken(t)
		st, body = uRaw(t, s, admin, http.MethodGet, "/api/v2/users?per_page=2&q=email.domain%3Apaging.test&fields=email", nil)
		var bare []map[string]any
		if err := json.Unmarshal(body, &bare); st != http.StatusOK || err != nil || len(bare) != 2 || len(bare[0]) != 1 {
			t.Fatalf("bare list: %d %s", st, body)
		}

		// users-by-email: bare array, case-insensitive for database users.
		byEmail, err := m.User.ListByEmail(ctx, "USER05@Paging.test")
		if err != nil || len(byEmail) != 1 || byEmail[0].GetEmail() != "user05@paging.test" || len(byEmail[0].Identities) != 1 {
			t.Fatalf("by email: %+v %v", byEmail, err)
		}
		none, err := m.User.ListByEmail(ctx, "nobody@paging.test")
		if err != nil || none == nil || len(none) != 0 {
			t.Fatalf("by email, none: %#v %v", none, err)
		}
		st, body = uRaw(t, s, admin, http.MethodGet, "/api/v2/users-by-email?email=user05%40paging.test&fields=user_id,email&include_fields=true", nil)
		if err := json.Unmarshal(body, &bare); st != http.StatusOK || err != nil || len(bare) != 1 || len(bare[0]) != 2 {
			t.Fatalf("by email with fields: %d %s", st, body)
		}
		if st, body := uRaw(t, s, admin, http.MethodGet, "/api/v2/users-by-email", nil); st != http.StatusBadRequest {
			t.Fatalf("by email without email: %d %s", st, body)
		}
	})
}

func uEmails(l *management.UserList) []string {
	if l == nil {
		return nil
	}
	var out []string
	for _, u := range l.Users {
		out = append(out, u.GetEmail())
	}
	return out
}

func TestUserLogs(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		u := uCreate(t, m, &management.User{Email: auth0.String("logged@example.com"), Password: auth0.String("Logged-Pass-2024")})
		other := uCreate(t, m, &management.User{Email: auth0.String("other@example.com")})
		for _, name := range []string{"One", "Two", "Three"} {
			if err := m.User.Update(ctx, u.GetID(), &management.User{Name: auth0.String(name)}); err != nil {
				t.Fatal(err)
			}
		}
		logs, err := m.User.GetUserLogs(ctx, u.GetID())
		if err != nil || len(logs) != 4 {
			t.Fatalf("logs: %d %v", len(logs), err)
		}
		for i, l := range logs {
			if l.GetType() != "sapi" || l.GetUserID() != u.GetID() || l.Date == nil || l.GetLogID() == "" || l.GetID() != l.GetLogID() ||
				l.GetClientID() != s.AdminID {
				t.Fatalf("log %d: %+v", i, l)
			}
			if i > 0 && l.Date.After(*logs[i-1].Date) {
				t.Fatalf("not newest first: %v after %v", l.Date, logs[i-1].Date)
			}
		}
		asc, err := m.User.GetUserLogs(ctx, u.GetID(), management.Sort("date:1"))
		if err != nil || len(asc) != 4 || asc[0].GetLogID() != logs[3].GetLogID() {
			t.Fatalf("date:1: %v", err)
		}
		page, err := m.User.GetUserLogs(ctx, u.GetID(), management.Page(1), management.PerPage(2))
		if err != nil || len(page) != 2 || page[0].GetLogID() != logs[2].GetLogID() {
			t.Fatalf("page 1: %v", err)
		}
		admin := s.AdminToken(t)
		st, body := uRaw(t, s, admin, http.MethodGet, "/api/v2/users/"+url.PathEscape(u.GetID())+"/logs?include_totals=true&per_page=1", nil)
		var env struct {
			Start, Limit, Length, Total int
			Logs                        []map[string]any
		}
		if err := json.Unmarshal(body, &env); st != http.StatusOK || err != nil || env.Total != 4 || env.Length != 1 || len(env.Logs) != 1 {
			t.Fatalf("envelope: %d %s", st, body)
		}
		// The other user's events are its own; a deleted user's stay
		// readable by its user_id.
		if err := m.User.Delete(ctx, other.GetID()); err != nil {
			t.Fatal(err)
		}
		gone, err := m.User.GetUserLogs(ctx, other.GetID())
		if err != nil || len(gone) != 2 {
			t.Fatalf("deleted user's logs: %d %v", len(gone), err)
		}
		_, err = m.User.GetUserLogs(ctx, u.GetID(), management.Sort("type:1"))
		expectStatus(t, err, http.StatusBadRequest, "sort by type")
		// read:logs is the scope; read:users is not enough.
		id, secret := s.ScopedClient(t, "read:users")
		_, err = sdkAs(t, s, id, secret).User.GetUserLogs(ctx, u.GetID())
		expectStatus(t, err, http.StatusForbidden, "logs without read:logs")
	})
}

func TestUsersAuthErrors(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		admin := sdkAs(t, s, "", "")
		u := uCreate(t, admin, &management.User{Email: auth0.String("target@example.com")})
		n := uCount(t, s)

		// 403: each route wants its scope.
		id, secret := s.ScopedClient(t, "create:users")
		creator := sdkAs(t, s, id, secret)
		_, err := creator.User.Read(ctx, u.GetID())
		expectStatus(t, err, http.StatusForbidden, "read without read:users")
		if !strings.Contains(err.Error(), "Insufficient scope, expected any of: read:users") {
			t.Fatalf("403 message: %v", err)
		}
		_, err = creator.User.List(ctx)
		expectStatus(t, err, http.StatusForbidden, "list without read:users")
		_, err = creator.User.ListByEmail(ctx, "target@example.com")
		expectStatus(t, err, http.StatusForbidden, "by email without read:users")
		expectStatus(t, creator.User.Update(ctx, u.GetID(), &management.User{Name: auth0.String("x")}), http.StatusForbidden, "update")
		expectStatus(t, creator.User.Delete(ctx, u.GetID()), http.StatusForbidden, "delete")
		id, secret = s.ScopedClient(t, "read:users")
		reader := sdkAs(t, s, id, secret)
		expectStatus(t, reader.User.Create(ctx, &management.User{Connection: auth0.String(uConn), Email: auth0.String("new@example.com")}),
			http.StatusForbidden, "create without create:users")
		if got := uCount(t, s); got != n {
			t.Fatalf("forbidden calls wrote: %d → %d", n, got)
		}
		if got, err := admin.User.Read(ctx, u.GetID()); err != nil || got.Name != nil {
			t.Fatalf("forbidden update changed the user: %+v %v", got, err)
		}

		// 401: no token, a garbled token, a token of another audience.
		other := uMint(t, s, map[string]any{"aud": []string{"https://orders.example.com/"}, "sub": "x@clients",
			"scope": "read:users", "client_id": "x", "azp": "x"})
		for name, tok := range map[string]string{"none": "", "garbled": "not.a.jwt", "other audience": other} {
			st, body := uRaw(t, s, tok, http.MethodGet, "/api/v2/users/"+url.PathEscape(u.GetID()), nil)
			var eb map[string]any
			_ = json.Unmarshal(body, &eb)
			if st != http.StatusUnauthorized || eb["statusCode"] != float64(401) || eb["error"] != "Unauthorized" {
				t.Fatalf("%s: %d %s", name, st, body)
			}
		}
		static, err := management.New(strings.TrimPrefix(s.URL, "http://"), management.WithInsecure(), management.WithStaticToken(other),
			management.WithNoRetries())
		if err != nil {
			t.Fatal(err)
		}
		_, err = static.User.Read(ctx, u.GetID())
		expectStatus(t, err, http.StatusUnauthorized, "SDK with another audience's token")
	})
}
