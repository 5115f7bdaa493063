package identity

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/predicate"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

// searchSeeds are the documented forms of the search syntax (docs and
// Search's comment) and the shapes earlier bugs had.
var searchSeeds = []string{
	``, `   `, `email:"jane@example.com"`, `email.domain:example.com`, `name:jo*`, `name:"Jane Doe"`,
	`app_metadata.plan:gold`, `app_metadata.n:1`, `app_metadata.flag:true`, `app_metadata.nested.k:v`,
	`user_metadata.lang:"en"`, `identities.connection:"Username-Password-Authentication"`,
	`identities.provider:samlp`, `_exists_:phone_number`, `_exists_:app_metadata.plan`,
	`email:jane* AND NOT blocked:true`, `name:jo* OR name:bo*`, `-name:jo*`, `(name:jo* OR email.domain:example.org) logins_count:3`,
	`NOT (blocked:true OR email_verified:false)`, `user_id:"auth0|1"`, `username:ja*`, `phone_number:+15551234`,
	`phone_verified:false`, `name:"100% _real_"`, `name:100%*`, `email.domain:x_y`, `name:"a\"b"`, `name:"unterminated`,
	`((((((((((((name:x))))))))))))`, `NOT NOT NOT name:x`, `--name:x`, `OR`, `AND`, `)`, `(`, `name:`, `:x`, `bare`,
	`name:a*b`, `name:*`, `username:jA*`, `user_id:auth0|*`, `username:j_*`, `email.domain:ex*`, `logins_count:x`, `blocked:maybe`, `unknown:x`, `app_metadata.:x`,
	`app_metadata.a..b:x`, `_exists_:password_hash`, `app_metadata.n:1e3`, `app_metadata.plan:"1"`,
	`app_metadata.pl'an:1`, `_exists_:app_metadata.x'y`, `name:\u212aim`,
	`app_metadata.tags:a`, `app_metadata.tags:[a TO b]`, `app_metadata.n:[1 TO 1.5}`, `app_metadata.nested:*`,
	`app_metadata.tags:*`, `name:*ien`, `family_name:*ien`, `email:*@x_y`, `created_at:[* TO *]`, `last_login:*`,
	`logins_count:{3 TO *]`, `user_id:*1`, `user_id:*|x`, `name:[a TO *]`, `name:"a\\b"`, `app_metadata.a\"b:c`,
	`app_metadata.x:\*`, `name:\*`, `name:\(x\)`, `phone_number:+1555*`, `NOT (app_metadata.n:[1 TO *])`,
}

// searchBackend is one database holding searchUsers.
type searchBackend struct {
	name string
	db   *ent.Client
}

// searchUsers are the rows every query runs against: ASCII text (SQLite's
// LOWER folds ASCII only), metadata values of every JSON type under the
// same keys (a query may compare a string to a number), LIKE metacharacters.
func seedSearchUsers(tb testing.TB, db *ent.Client) {
	tb.Helper()
	conn := func(name string) *ent.Connection {
		c, err := db.Connection.Create().SetName(name).SetStrategy(connection.StrategyDatabase).Save(sysCtx)
		if err != nil {
			tb.Fatal(err)
		}
		return c
	}
	upa, corp := conn("Username-Password-Authentication"), conn("corp")
	mk := func(id string, set func(*ent.UserCreate)) *ent.User {
		c := db.User.Create().SetUserID(id)
		set(c)
		u, err := c.Save(sysCtx)
		if err != nil {
			tb.Fatal(err)
		}
		return u
	}
	jane := mk("auth0|1", func(c *ent.UserCreate) {
		c.SetEmail("Jane.Doe@Example.com").SetName("Jane Doe").SetGivenName("Jane").SetNickname("jane_d").
			SetUsername("jane").SetPhoneNumber("+15551234").SetEmailVerified(true).SetLoginsCount(3).
			SetAppMetadata(map[string]any{"plan": "gold", "n": 1.0, "flag": true, "nested": map[string]any{"k": "v"}}).
			SetUserMetadata(map[string]any{"lang": "en"})
	})
	mk("auth0|2", func(c *ent.UserCreate) {
		c.SetEmail("bob@example.org").SetName("Bob").SetAppMetadata(map[string]any{"plan": 1.0, "n": "1", "flag": "true"})
	})
	saml := mk("samlp|corp|x", func(c *ent.UserCreate) {
		c.SetBlocked(true).SetAppMetadata(map[string]any{"plan": nil, "n": 1.5, "nested": "v", "tags": []any{"a"}})
	})
	mk("auth0|4", func(c *ent.UserCreate) {
		c.SetEmail("a_b@x_y").SetName("100% _real_").SetFamilyName("O'Brien").SetPhoneVerified(true).SetLoginsCount(100)
	})
	for _, idn := range []struct {
		u    *ent.User
		c    *ent.Connection
		prov string
	}{{jane, upa, "auth0"}, {saml, corp, "samlp"}} {
		if err := db.Identity.Create().SetUser(idn.u).SetConnection(idn.c).SetProvider(idn.prov).
			SetUpstreamID(strings.TrimPrefix(idn.u.UserID, idn.prov+"|")).Exec(sysCtx); err != nil {
			tb.Fatal(err)
		}
	}
}

func searchBackends(f *testing.F) []searchBackend {
	var out []searchBackend
	for _, b := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}} {
		db := openFuzzDB(f, b.dsn(f))
		seedSearchUsers(f, db)
		out = append(out, searchBackend{b.name, db})
	}
	return out
}

// openFuzzDB is syncDB for a fuzz target, which opens its databases once.
func openFuzzDB(tb testing.TB, dsn string) *ent.Client {
	tb.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db.Ent
}

// FuzzSearch: Search never panics and refuses with a ValidationError on
// "query"; an accepted query builds SQL whose text comes only from the code
// (every value is a bind parameter: the SQL lexes into allow-listed words,
// identifiers and the fixed literals), runs without a database error, and
// selects the same users on SQLite and Postgres. Parentheses around an
// accepted query change nothing.
func FuzzSearch(f *testing.F) {
	for _, q := range searchSeeds {
		f.Add(q)
	}
	for _, c := range searchSemantics {
		f.Add(c.q)
	}
	for _, c := range searchErrorCases {
		f.Add(c.q)
	}
	backends := searchBackends(f)
	f.Fuzz(func(t *testing.T, q string) {
		pred, err := Search(q)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "query" {
				t.Fatalf("Search(%q) error %T %v, want a ValidationError on query", q, err, err)
			}
			return
		}
		if pred == nil {
			if strings.TrimFunc(q, unicode.IsSpace) != "" {
				t.Fatalf("Search(%q) = nil predicate for a non-blank query", q)
			}
			return
		}
		sqlText := map[string]string{}
		for _, d := range []string{dialect.Postgres, dialect.SQLite} {
			text, args := buildSearchSQL(pred, d)
			if err := checkSearchSQL(d, text, len(args)); err != nil {
				t.Fatalf("Search(%q) on %s: %v\nSQL: %s\nargs: %q", q, d, err, text, args)
			}
			sqlText[d] = text
		}
		if p2, err := Search("(" + q + ")"); err == nil {
			if text, _ := buildSearchSQL(p2, dialect.Postgres); text != sqlText[dialect.Postgres] {
				t.Fatalf("Search(%q) and its parenthesized form differ:\n%s\n%s", q, sqlText[dialect.Postgres], text)
			}
		}
		var first []string
		for i, b := range backends {
			ids, err := b.db.User.Query().Where(pred).Order(user.ByUserID()).Select(user.FieldUserID).Strings(sysCtx)
			if err != nil {
				t.Fatalf("Search(%q) on %s: database error %v\nSQL: %s", q, b.name, err, sqlText[dialect.Postgres])
			}
			if i == 0 {
				first = ids
			} else if !slices.Equal(first, ids) {
				t.Fatalf("Search(%q): %s selects %q, %s selects %q", q, backends[0].name, first, b.name, ids)
			}
		}
	})
}

func buildSearchSQL(p predicate.User, d string) (string, []any) {
	s := sql.Dialect(d).Select(user.FieldID).From(sql.Table(user.Table))
	p(s)
	return s.Query()
}

// searchSQLWords are the bare words and identifiers Search's SQL may hold:
// keywords, functions, casts, and the tables and columns it reads.
var searchSQLWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`SELECT FROM WHERE AND OR NOT LOWER LIKE ESCAPE COALESCE FALSE TRUE
		EXISTS IS NULL JSON_EXTRACT JSON_TYPE IN text jsonb SUBSTR INSTR split_part jsonpath
		json_each json_type json_array_length CASE WHEN THEN ELSE END AS key type value
		users identities connections id owner_id connection_id name provider upstream_id
		user_roles roles role_ref user_ref JOIN ON t1 reverse identities_connection`) {
		m[w] = true
	}
	for i := 1; i <= maxMetadataDepth; i++ {
		m["m"+strconv.Itoa(i)], m["e"+strconv.Itoa(i)] = true, true
	}
	for _, c := range user.Columns {
		m[c] = true
	}
	return m
}()

// searchSQLLiterals are the string literals it may hold: LIKE's escape
// character and SQLite's JSON type names.
var searchSQLLiterals = map[string]bool{`\`: true, "integer": true, "real": true, "text": true,
	"@": true, "object": true, "array": true, "[0]": true}

// checkSearchSQL lexes text as SQL and refuses anything the code did not
// write: a word or identifier outside searchSQLWords, a string literal
// outside searchSQLLiterals, an unterminated quote, or a count of placeholders other than nargs.
func checkSearchSQL(d, text string, nargs int) error {
	placeholders := 0
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == ' ' || c == '(' || c == ')' || c == ',' || c == '=' || c == '.' || c == '<' || c == '>' || c == '-' || c == ':' || c == '+':
			i++
		case d == dialect.Postgres && (c == '~' || c == '@'): // ~>=~ and friends, @@
			i++
			i++
		case c == '?' && d == dialect.SQLite:
			placeholders++
			i++
		case c == '$' && d == dialect.Postgres:
			j := i + 1
			for j < len(text) && text[j] >= '0' && text[j] <= '9' {
				j++
			}
			if j == i+1 {
				return errors.New("a bare $")
			}
			placeholders++
			i = j
		case c == '\'' || c == '"' || c == '`':
			end := strings.IndexByte(text[i+1:], c)
			if end < 0 {
				return errors.New("an unterminated quote")
			}
			lit := text[i+1 : i+1+end]
			i += end + 2
			if c == '\'' {
				if !searchSQLLiterals[lit] {
					return errors.New("string literal '" + lit + "' is not code-made")
				}
			} else if !searchSQLWords[lit] {
				return errors.New("identifier " + string(c) + lit + string(c) + " is not code-made")
			}
		case c >= '0' && c <= '9': // a number the code wrote (SUBSTR's 1)
			for i < len(text) && text[i] >= '0' && text[i] <= '9' {
				i++
			}
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(text) && (text[j] == '_' || unicode.IsLetter(rune(text[j])) || unicode.IsDigit(rune(text[j]))) {
				j++
			}
			if !searchSQLWords[text[i:j]] {
				return errors.New("word " + text[i:j] + " is not code-made")
			}
			i = j
		default:
			return errors.New("character " + string(c) + " is not code-made")
		}
	}
	if placeholders != nargs {
		return errors.New("placeholders and arguments differ in number")
	}
	return nil
}
