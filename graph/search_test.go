package graph_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
)

// searchEmails runs users(query:) and returns the matching emails, sorted.
func searchEmails(t *testing.T, s *apitest.Server, q string) []string {
	t.Helper()
	var out struct {
		Users struct {
			TotalCount int
			Edges      []struct{ Node struct{ Email string } }
		}
	}
	s.MustGraphQL(t, s.AdminToken(t), `query($q: String) { users(first: 100, query: $q) { totalCount edges { node { email } } } }`,
		map[string]any{"q": q}, &out)
	var emails []string
	for _, e := range out.Users.Edges {
		emails = append(emails, e.Node.Email)
	}
	if out.Users.TotalCount != len(emails) {
		t.Errorf("%q: totalCount %d, %d edges", q, out.Users.TotalCount, len(emails))
	}
	slices.Sort(emails)
	return emails
}

// TestSearch: the query language over both backends, plus user(id:) and
// usersByEmail lookups.
func TestSearch(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		s.MustGraphQL(t, admin, `mutation { createConnection(input: {name: "second-db", strategy: "database"}) { id } }`, nil, &map[string]any{})
		john := createUser(t, s, map[string]any{"email": "john@acme.io", "name": "John Smith", "appMetadata": map[string]any{"plan": "gold"}})
		createUser(t, s, map[string]any{"email": "joan@acme.io", "name": "Joan", "appMetadata": map[string]any{"plan": "silver"}})
		createUser(t, s, map[string]any{"email": "jo@other.io", "name": "Jo", "appMetadata": map[string]any{"plan": "gold", "level": 3, "beta": true}})
		createUser(t, s, map[string]any{"email": "bob@other.io", "userMetadata": map[string]any{"plan": "gold"}})
		createUser(t, s, map[string]any{"connection": "second-db", "email": "alice@acme.io", "name": "Alice"})
		createUser(t, s, map[string]any{"email": "under_score@x.io", "name": "100%"})

		const (
			john_, joan, jo, bob, alice, under = "john@acme.io", "joan@acme.io", "jo@other.io", "bob@other.io", "alice@acme.io", "under_score@x.io"
		)
		cases := []struct {
			q    string
			want []string
		}{
			{`email:john@acme.io`, []string{john_}},
			{`email:JOHN@ACME.IO`, []string{john_}},
			{`email:"john@acme.io"`, []string{john_}},
			{`email:john@acme`, nil},
			{`email:jo*`, []string{jo, joan, john_}},
			{`email.domain:acme.io`, []string{alice, joan, john_}},
			{`email.domain:ACME.io`, []string{alice, joan, john_}},
			{`email.domain:cme.io`, nil},
			{`name:jo*`, []string{jo, joan, john_}},
			{`name:jo`, []string{jo}},
			{`name:JO`, []string{jo}},
			{`name:"John Smith"`, []string{john_}},
			{`name:John`, nil},
			{`name:10*`, []string{under}},
			{`email:under_*`, []string{under}},
			{`email:under%*`, nil},
			{`app_metadata.plan:gold`, []string{jo, john_}},
			{`app_metadata.plan:"gold"`, []string{jo, john_}},
			{`app_metadata.level:3`, []string{jo}},
			{`app_metadata.beta:true`, []string{jo}},
			{`user_metadata.plan:gold`, []string{bob}},
			{`name:jo* AND app_metadata.plan:gold`, []string{jo, john_}},
			{`name:jo* app_metadata.plan:gold`, []string{jo, john_}},
			{`email.domain:other.io OR name:Alice`, []string{alice, bob, jo}},
			{`name:jo* AND NOT app_metadata.plan:gold`, []string{joan}},
			{`(name:john* OR name:joan) AND email.domain:acme.io`, []string{joan, john_}},
			{`NOT email.domain:acme.io`, []string{bob, jo, under}},
			{`-email.domain:acme.io`, []string{bob, jo, under}},
			// Users without the field match a negation, as in Lucene: NOT
			// must not turn SQL's NULL into "no match".
			{`NOT name:jo*`, []string{alice, bob, under}},
			{`NOT app_metadata.plan:gold`, []string{alice, bob, joan, under}},
			{`identities.connection:second-db`, []string{alice}},
			{`identities.connection:"Username-Password-Authentication" AND email.domain:acme.io`, []string{joan, john_}},
			{`_exists_:name`, []string{alice, jo, joan, john_, under}},
			{`_exists_:app_metadata.level`, []string{jo}},
			{`user_id:"` + john.UserID + `"`, []string{john_}},
			// Once refused, now supported: * alone (the field exists),
			// metadata wildcards, suffixes, ranges.
			{`name:*`, []string{alice, jo, joan, john_, under}},
			{`app_metadata.plan:go*`, []string{jo, john_}},
			{`email:*@acme.io`, []string{alice, joan, john_}},
			{`app_metadata.level:[1 TO 5]`, []string{jo}},
		}
		for _, tc := range cases {
			t.Run(tc.q, func(t *testing.T) {
				if got := searchEmails(t, s, tc.q); !slices.Equal(got, tc.want) {
					t.Fatalf("%s:\n got %v\nwant %v", tc.q, got, tc.want)
				}
			})
		}

		for _, q := range []string{
			`name:(jo`, `(name:jo`, `name:jo)`, `name:`, `:jo`, `bare`, `unknown_field:x`, `name:j*o`,
			`email.domain:acme*`, `AND`, `name:jo OR`, `NOT`, `name:*on`, `blocked:maybe`,
			`logins_count:many`, strings.Repeat("(", 20) + "name:jo" + strings.Repeat(")", 20), strings.Repeat("name:jo ", 200),
		} {
			t.Run("malformed "+q[:min(len(q), 30)], func(t *testing.T) {
				expectError(t, s.GraphQL(t, admin, `query($q: String) { users(query: $q) { totalCount } }`, map[string]any{"q": q}), "BAD_USER_INPUT", "query")
			})
		}

		t.Run("user by node id and by user_id", func(t *testing.T) {
			for _, id := range []string{john.ID, john.UserID} {
				if u := getUser(t, s, id); u.ID != john.ID || deref(u.Email) != john_ {
					t.Fatalf("user(%s) = %s", id, js(u))
				}
			}
			bare := strings.TrimPrefix(john.UserID, "auth0|")
			expectError(t, s.GraphQL(t, admin, `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": bare}), "NOT_FOUND", "")
		})
		t.Run("user created with a given user_id keeps it", func(t *testing.T) {
			u := createUser(t, s, map[string]any{"email": "imported@acme.io", "userId": "auth0|legacy-42"})
			b := createUser(t, s, map[string]any{"email": "bare@acme.io", "userId": "legacy-43"})
			if u.UserID != "auth0|legacy-42" || b.UserID != "auth0|legacy-43" {
				t.Fatalf("user ids %s %s", u.UserID, b.UserID)
			}
			if got := getUser(t, s, "auth0|legacy-43"); got.ID != b.ID {
				t.Fatal("lookup by given user_id failed")
			}
		})
		t.Run("usersByEmail", func(t *testing.T) {
			// The same address in two database connections is two users.
			createUser(t, s, map[string]any{"email": "Alice@Acme.io"})
			for _, tc := range []struct {
				email string
				n     int
			}{
				{"john@acme.io", 1}, {"JOHN@Acme.IO", 1}, {"alice@acme.io", 2}, {"ALICE@ACME.IO", 2},
				{"john@acme", 0}, {"jo*", 0}, {"%@acme.io", 0}, {"", 0},
			} {
				var out struct {
					UsersByEmail []struct{ Email string }
				}
				s.MustGraphQL(t, admin, `query($e: String!) { usersByEmail(email: $e) { email } }`, map[string]any{"e": tc.email}, &out)
				if len(out.UsersByEmail) != tc.n {
					t.Errorf("usersByEmail(%q): %d users, want %d", tc.email, len(out.UsersByEmail), tc.n)
				}
				for _, u := range out.UsersByEmail {
					if !strings.EqualFold(u.Email, tc.email) {
						t.Errorf("usersByEmail(%q) returned %q", tc.email, u.Email)
					}
				}
			}
		})
	})
}
