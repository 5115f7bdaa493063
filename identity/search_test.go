package identity

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/testenv"
)

// semUser is one row of the semantics data set.
type semUser struct {
	id                                      string
	email, name, given, family, nick, uname string
	phone, picture, ip                      string
	verified, phoneVerified, blocked        bool
	logins                                  int
	created, updated, lastLogin             string // RFC 3339, "" = default / none
	app, meta                               map[string]any
	conn, provider, upstream, role          string
}

func semUsers() []semUser {
	us := []semUser{
		{id: "u01", email: "Jane.Doe@Example.com", name: "Jane Doe", given: "Jane", family: "Doe", nick: "jane_d", uname: "jane",
			phone: "+15551234", picture: "https://example.com/jane.png", ip: "10.0.0.1", verified: true, logins: 3,
			created: "2026-01-15T10:00:00Z", updated: "2026-05-05T12:00:00Z", lastLogin: "2026-06-30T23:59:59Z",
			app: map[string]any{"plan": "gold", "tags": []any{"admin", "x"}, "orgs": []any{map[string]any{"id": 7.0}, map[string]any{"id": 8.0}},
				"n": 1.0, "flag": true, "nested": map[string]any{"k": "v"}},
			meta: map[string]any{"lang": "en"}, conn: "Username-Password-Authentication", provider: "auth0", upstream: "1"},
		{id: "u02", email: "john@example.com", name: "John Johnson", given: "John", family: "Johnson", logins: 12,
			created: "2026-02-01T00:00:00Z", lastLogin: "2026-07-01T00:00:00Z",
			app: map[string]any{"plan": "enterprise", "tags": []any{"x"}, "orgs": []any{map[string]any{"id": 9.0}}}},
		{id: "u03", email: "joan@example.org", name: "Joan Jett", created: "2025-12-31T23:59:59Z", app: map[string]any{"plan": "silver"}},
		{id: "u04", email: "bob@other.io", name: "Bob Robertson", blocked: true, logins: 50, created: "2026-06-30T12:00:00Z",
			app: map[string]any{"plan": "gold", "score": 9.5}, meta: map[string]any{"plan": "gold"}, role: "Support agent"},
		{id: "u05", email: "ALICE@Example.COM", name: "Alice Anderson", logins: 10, created: "2026-07-01T00:00:00Z",
			app: map[string]any{"plan": "1"}, meta: map[string]any{"prefs": map[string]any{"theme": "dark"}}},
		{id: "u06", email: "a_b@x_y", name: "100% _real_", family: "O'Brien", phoneVerified: true, logins: 100,
			created: "2024-03-03T00:00:00Z", app: map[string]any{"plan": 1.0}},
		{id: "samlp|corp|x", logins: 1, created: "2026-01-01T00:00:00Z", app: map[string]any{"plan": nil, "tags": []any{}},
			conn: "corp", provider: "samlp", upstream: "corp|x"},
		{id: "u08", email: "carl@example.com", name: "Carl Carlson", nick: "Carlito", uname: "Carl", logins: 10,
			created: "2026-03-15T00:00:00Z", app: map[string]any{"plan": "gold", "tags": []any{"Admin"}}},
		{id: "u09", email: "dave@sub.example.com", name: "Dave", logins: 9, created: "2026-06-01T00:00:00Z",
			app: map[string]any{"level": 10.0}},
		{id: "u10", email: "eve@example.net", name: "eve smithson", logins: 2, created: "2027-01-01T00:00:00Z",
			app: map[string]any{"level": 9.0}, meta: map[string]any{`weird'key"`: "x'y"}},
		{id: "u11", email: "mallory@evil.test", name: `Robert'); DROP TABLE users;--`, logins: 4, created: "2023-01-01T00:00:00Z",
			app: map[string]any{"a.b": "dot", `q"k`: `quote"v`, `back\slash`: `\`, "sp ace": "x y", "$": "dollar"}},
	}
	for i := 12; i <= 30; i++ {
		us = append(us, semUser{id: fmt.Sprintf("b%02d", i), email: fmt.Sprintf("user%02d@bulk.test", i),
			name: fmt.Sprintf("Bulk User %d", i), logins: 5, created: "2020-01-01T00:00:00Z",
			app: map[string]any{"plan": "trial", "n": float64(i)}})
	}
	return us
}

func seedSemUsers(tb testing.TB, db *ent.Client) {
	tb.Helper()
	conns := map[string]*ent.Connection{}
	for _, u := range semUsers() {
		c := db.User.Create().SetUserID(u.id).SetEmailVerified(u.verified).SetPhoneVerified(u.phoneVerified).
			SetBlocked(u.blocked).SetLoginsCount(u.logins)
		opt := func(v string, set func(string) *ent.UserCreate) {
			if v != "" {
				set(v)
			}
		}
		opt(u.email, c.SetEmail)
		opt(u.name, c.SetName)
		opt(u.given, c.SetGivenName)
		opt(u.family, c.SetFamilyName)
		opt(u.nick, c.SetNickname)
		opt(u.uname, c.SetUsername)
		opt(u.phone, c.SetPhoneNumber)
		opt(u.picture, c.SetPicture)
		opt(u.ip, c.SetLastIP)
		tm := func(s string) time.Time {
			x, err := time.Parse(time.RFC3339, s)
			if err != nil {
				tb.Fatal(err)
			}
			return x
		}
		c.SetCreatedAt(tm(u.created))
		if u.updated != "" {
			c.SetUpdatedAt(tm(u.updated))
		}
		if u.lastLogin != "" {
			c.SetLastLogin(tm(u.lastLogin))
		}
		if u.app != nil {
			c.SetAppMetadata(u.app)
		}
		if u.meta != nil {
			c.SetUserMetadata(u.meta)
		}
		row, err := c.Save(sysCtx)
		if err != nil {
			tb.Fatal(err)
		}
		if u.conn != "" {
			if conns[u.conn] == nil {
				if conns[u.conn], err = db.Connection.Create().SetName(u.conn).SetStrategy(connection.StrategyDatabase).Save(sysCtx); err != nil {
					tb.Fatal(err)
				}
			}
			if err := db.Identity.Create().SetUser(row).SetConnection(conns[u.conn]).SetProvider(u.provider).
				SetUpstreamID(u.upstream).Exec(sysCtx); err != nil {
				tb.Fatal(err)
			}
		}
		if u.role != "" {
			r, err := db.Role.Create().SetName(u.role).Save(sysCtx)
			if err != nil {
				tb.Fatal(err)
			}
			if err := db.UserRole.Create().SetUserRef(row.ID).SetRoleRef(r.ID).Exec(sysCtx); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// bulkIDs are the 19 generated users.
func bulkIDs() []string {
	var out []string
	for i := 12; i <= 30; i++ {
		out = append(out, fmt.Sprintf("b%02d", i))
	}
	return out
}

// searchSemantics are queries and the exact users each selects (docs/SEARCH.md
// shows many of them; TestSearchDocExamples checks that it shows none other).
type searchCase struct {
	q    string
	want []string
}

var searchSemantics = []searchCase{
	// Case-insensitive fields, exact.
	{`email:jane.doe@example.com`, []string{"u01"}},
	{`email:JANE.DOE@EXAMPLE.COM`, []string{"u01"}},
	{`email:"john@example.com"`, []string{"u02"}},
	{`email:john@example`, nil},
	{`name:"Jane Doe"`, []string{"u01"}},
	{`name:"jane doe"`, []string{"u01"}},
	{`name:Jane`, nil},
	{`name:jane*`, []string{"u01"}},
	{`given_name:jane`, []string{"u01"}},
	{`nickname:CARLITO`, []string{"u08"}},
	// Domains.
	{`email.domain:example.com`, []string{"u01", "u02", "u05", "u08"}},
	{`email.domain:EXAMPLE.com`, []string{"u01", "u02", "u05", "u08"}},
	{`email.domain:ample.com`, nil},
	{`email:*@example.com`, []string{"u01", "u02", "u05", "u08"}},
	{`email:*@sub.example.com`, []string{"u09"}},
	{`email:*@example.com AND app_metadata.plan:gold`, []string{"u01", "u08"}},
	// Wildcards.
	{`name:jo*`, []string{"u02", "u03"}},
	{`name:JO*`, []string{"u02", "u03"}},
	{`email:jo*`, []string{"u02", "u03"}},
	{`name:*son`, []string{"u02", "u04", "u05", "u08", "u10"}},
	{`name:*SON`, []string{"u02", "u04", "u05", "u08", "u10"}},
	{`family_name:o*`, []string{"u06"}},
	{`nickname:carl*`, []string{"u08"}},
	{`name:100%*`, []string{"u06"}},
	{`name:100_*`, nil},
	{`name:"jo*"`, nil},
	{`name:*`, append([]string{"u01", "u02", "u03", "u04", "u05", "u06", "u08", "u09", "u10", "u11"}, bulkIDs()...)},
	// Case-sensitive fields.
	{`username:Carl`, []string{"u08"}},
	{`username:carl`, nil},
	{`username:ja*`, []string{"u01"}},
	{`username:JA*`, nil},
	{`user_id:"samlp|corp|x"`, []string{"samlp|corp|x"}},
	{`user_id:samlp*`, []string{"samlp|corp|x"}},
	{`user_id:*|corp|x`, []string{"samlp|corp|x"}},
	{`phone_number:+15551234`, []string{"u01"}},
	{`picture:"https://example.com/jane.png"`, []string{"u01"}},
	{`last_ip:10.0.0.1`, []string{"u01"}},
	// Booleans and counts.
	{`email_verified:true`, []string{"u01"}},
	{`phone_verified:true`, []string{"u06"}},
	{`blocked:true`, []string{"u04"}},
	{`logins_count:10`, []string{"u05", "u08"}},
	{`logins_count:[10 TO *]`, []string{"u02", "u04", "u05", "u06", "u08"}},
	{`logins_count:{10 TO 50]`, []string{"u02", "u04"}},
	{`logins_count:[* TO 2}`, []string{"samlp|corp|x", "u03"}},
	{`logins_count:[9 TO 10}`, []string{"u09"}},
	// Dates: partial dates are periods; range ends round.
	{`created_at:2026-01`, []string{"samlp|corp|x", "u01"}},
	{`created_at:2026`, []string{"samlp|corp|x", "u01", "u02", "u04", "u05", "u08", "u09"}},
	{`created_at:2026-01-01T00:00:00Z`, []string{"samlp|corp|x"}},
	{`created_at:[2026-01 TO 2026-06]`, []string{"samlp|corp|x", "u01", "u02", "u04", "u08", "u09"}},
	{`created_at:{2026-01 TO 2026-06}`, []string{"u02", "u08"}},
	{`created_at:[2026-01-15 TO 2026-06-01}`, []string{"u01", "u02", "u08"}},
	{`created_at:[2025 TO 2025]`, []string{"u03"}},
	{`created_at:{9999 TO *]`, nil},
	{`created_at:{2026-01-01T00:00:00Z TO 2026-01-15T10:00:00Z]`, []string{"u01"}},
	{`created_at:[2027 TO *]`, []string{"u10"}},
	{`updated_at:2026-05-05`, []string{"u01"}},
	{`last_login:[2026-06 TO 2026-06]`, []string{"u01"}},
	{`last_login:{2026-06 TO *]`, []string{"u02"}},
	{`_exists_:last_login`, []string{"u01", "u02"}},
	// Strings in ranges compare by code point.
	{`family_name:[d TO jz]`, []string{"u01", "u02"}},
	{`family_name:[d TO j]`, []string{"u01"}},
	// Identities and roles.
	{`identities.connection:corp`, []string{"samlp|corp|x"}},
	{`identities.connection:"Username-Password-Authentication"`, []string{"u01"}},
	{`identities.provider:samlp`, []string{"samlp|corp|x"}},
	{`identities.user_id:"corp|x"`, []string{"samlp|corp|x"}},
	{`roles:"Support agent"`, []string{"u04"}},
	{`roles:"support agent"`, nil},
	// Metadata: values of every type, arrays skipped, case-sensitive.
	{`app_metadata.plan:gold`, []string{"u01", "u04", "u08"}},
	{`app_metadata.plan:"gold"`, []string{"u01", "u04", "u08"}},
	{`app_metadata.plan:GOLD`, nil},
	{`app_metadata.plan:enterprise`, []string{"u02"}},
	{`app_metadata.plan:1`, []string{"u05", "u06"}},
	{`app_metadata.plan:"1"`, []string{"u05"}},
	{`app_metadata.flag:true`, []string{"u01"}},
	{`app_metadata.nested.k:v`, []string{"u01"}},
	{`user_metadata.plan:gold`, []string{"u04"}},
	{`user_metadata.prefs.theme:dark`, []string{"u05"}},
	{`app_metadata.tags:admin`, []string{"u01"}},
	{`app_metadata.tags:Admin`, []string{"u08"}},
	{`app_metadata.tags:x`, []string{"u01", "u02"}},
	{`app_metadata.orgs.id:7`, []string{"u01"}},
	{`app_metadata.orgs.id:9`, []string{"u02"}},
	{`app_metadata.orgs.id:[8 TO 9]`, []string{"u01", "u02"}},
	{`app_metadata.score:[9 TO 10]`, []string{"u04"}},
	{`app_metadata.level:{9 TO *]`, []string{"u09"}},
	{`app_metadata.level:[1 TO 2]`, nil}, // 10 is no string between "1" and "2"
	{`app_metadata.n:[29 TO *]`, []string{"b29", "b30"}},
	{`app_metadata.plan:[a TO h]`, []string{"u01", "u02", "u04", "u08"}},
	{`app_metadata.plan:go*`, []string{"u01", "u04", "u08"}},
	{`app_metadata.plan:*ver`, []string{"u03"}},
	{`_exists_:app_metadata.tags`, []string{"samlp|corp|x", "u01", "u02", "u08"}},
	{`_exists_:app_metadata.orgs.id`, []string{"u01", "u02"}},
	{`app_metadata.orgs:*`, []string{"u01", "u02"}},
	{`_exists_:user_metadata.prefs`, []string{"u05"}},
	// Hostile keys and values are data, never SQL or jsonpath.
	{`name:"Robert'); DROP TABLE users;--"`, []string{"u11"}},
	{`app_metadata.a\.b:dot`, []string{"u11"}},
	{`_exists_:app_metadata.a\.b`, []string{"u11"}},
	{`_exists_:app_metadata.a`, nil},
	{`app_metadata.q\"k:"quote\"v"`, []string{"u11"}},
	{`app_metadata.back\\slash:"\\"`, []string{"u11"}},
	{`app_metadata.sp\ ace:"x y"`, []string{"u11"}},
	{`app_metadata.$:dollar`, []string{"u11"}},
	{`user_metadata.weird'key\":"x'y"`, []string{"u10"}},
	{`app_metadata.q\"k:*e\"v`, []string{"u11"}},
	// Boolean operators, Lucene's NOT (a missing field matches NOT x).
	{`NOT _exists_:email`, []string{"samlp|corp|x"}},
	{`-_exists_:email`, []string{"samlp|corp|x"}},
	{`NOT app_metadata.plan:gold AND email.domain:example.com`, []string{"u02", "u05"}},
	{`NOT name:jo* AND NOT email.domain:bulk.test`, []string{"samlp|corp|x", "u01", "u04", "u05", "u06", "u08", "u09", "u10", "u11"}},
	{`(name:jo* OR name:bob*) AND logins_count:[10 TO *]`, []string{"u02", "u04"}},
	{`name:jo* || name:bob*`, []string{"u02", "u03", "u04"}},
	{`name:jo* && logins_count:0`, []string{"u03"}},
	{`+name:jo* +logins_count:0`, []string{"u03"}},
	{`!blocked:true AND email.domain:other.io`, nil},
	{`name:jo* name:*son`, []string{"u02"}},
	{`created_at:[2026-01 TO 2026-06] logins_count:[10 TO *]`, []string{"u02", "u04", "u08"}},
	{`email.domain:bulk.test`, bulkIDs()},
	{`email.domain:bulk.test -app_metadata.n:[13 TO *]`, []string{"b12"}},
}

// TestSearchSemantics runs every query on SQLite and Postgres and checks the
// exact users each selects.
func TestSearchSemantics(t *testing.T) {
	for _, b := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}} {
		t.Run(b.name, func(t *testing.T) {
			db := openFuzzDB(t, b.dsn(t))
			seedSemUsers(t, db)
			for _, tc := range searchSemantics {
				pred, err := Search(tc.q)
				if err != nil {
					t.Errorf("%s: %v", tc.q, err)
					continue
				}
				got, err := db.User.Query().Where(pred).Order(user.ByUserID()).Select(user.FieldUserID).Strings(sysCtx)
				if err != nil {
					t.Errorf("%s: %v", tc.q, err)
					continue
				}
				want := slices.Clone(tc.want)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("%s:\n got %q\nwant %q", tc.q, got, want)
				}
			}
		})
	}
}

// searchErrorCases are refused queries and their messages.
var searchErrorCases = []struct{ q, msg string }{
	{`name:jo)`, `unexpected ")" at position 8`},
	{`(name:jo OR name:x))`, `unexpected ")" at position 20`},
	{`(name:jo`, `missing ) for the ( at position 1`},
	{`name:jo AND`, `unexpected end of query at position 12`},
	{`name:jo OR OR name:x`, `unexpected "OR" at position 12`},
	{`AND name:jo`, `unexpected "AND" at position 1`},
	{`name:"jo`, `unterminated quote at position 6`},
	{`name:*so`, `name: a leading * needs at least 3 more characters at position 6`},
	{`name:j*o`, `name: only a leading or a trailing * is supported (escape a literal * as \*) at position 6`},
	{`logins_count:[1 TO`, `unterminated range at position 14`},
	{`logins_count:[1 2]`, `expected TO in the range at position 17`},
	{`logins_count:[a TO 2]`, `logins_count: takes an integer at position 14`},
	{`bare`, `"bare" must be field:value (bare terms are not supported) at position 1`},
	{`name:jo OR unknown:x`, `unknown or unsearchable field "unknown" at position 12`},
	{`created_at:2026-13`, `created_at: "2026-13" is no date (2026, 2026-01, 2026-01-15 or RFC 3339) at position 12`},
	{`name:(jo OR x)`, `field groups such as name:(a OR b) are not supported at position 6`},
	{`name:`, `name: the value is empty at position 6`},
	{`:x`, `expected a field name before ":" at position 1`},
	{`email.domain:ex*`, `email.domain: takes a domain, without wildcards or ranges at position 14`},
	{`blocked:maybe`, `blocked: takes true or false at position 9`},
	{`roles:sup*`, `roles: takes an exact role name, without wildcards at position 7`},
	{`- name:x`, `unexpected "-" at position 1`},
	{strings.Repeat("(", 12) + "name:x" + strings.Repeat(")", 12), `the query nests deeper than 10 levels at position 12`},
	{`app_metadata.a.b.c.d.e.f.g.h.i.j.k:x`, `app_metadata.a.b.c.d.e.f.g.h.i.j.k: metadata paths have at most 10 keys at position 1`},
	{strings.Repeat("x", 1025), `is longer than 1024 characters`},
	{strings.Repeat("app_metadata.a.b.c.d.e.f.g.h.i:x ", 3), `names 27 metadata keys; a query may name at most 24`},
	{"name:a\x01", `must not contain control characters`},
}

// TestSearchErrors: a query that cannot be read is a ValidationError on
// "query" naming the 1-based column of the problem.
func TestSearchErrors(t *testing.T) {
	for _, tc := range searchErrorCases {
		_, err := Search(tc.q)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "query" || ve.Message != tc.msg {
			t.Errorf("Search(%q) = %v, want query: %s", tc.q, err, tc.msg)
		}
	}
}

// TestSearchDocExamples: every example in docs/SEARCH.md is a query of
// searchSemantics (run on both databases) or of searchErrorCases with the
// message the page shows.
func TestSearchDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/SEARCH.md")
	if err != nil {
		t.Fatal(err)
	}
	block, n := "", 0
	for _, line := range strings.Split(string(doc), "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			if block == "" {
				block = strings.TrimPrefix(line, "```")
			} else {
				block = ""
			}
			continue
		case block == "query":
			n++
			if !slices.ContainsFunc(searchSemantics, func(c searchCase) bool { return c.q == line }) {
				t.Errorf("docs/SEARCH.md example %q is not in searchSemantics", line)
			}
		case block == "error":
			n++
			q, msg, _ := strings.Cut(line, "  ")
			msg = strings.TrimSpace(msg)
			if !slices.ContainsFunc(searchErrorCases, func(c struct{ q, msg string }) bool { return c.q == q && c.msg == msg }) {
				t.Errorf("docs/SEARCH.md error example %q → %q is not in searchErrorCases", q, msg)
			}
		}
	}
	if n < 20 {
		t.Fatalf("found %d examples in docs/SEARCH.md", n)
	}
}
