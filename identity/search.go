package identity

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/authgraph/authgraph/emailaddr"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/predicate"
	"github.com/authgraph/authgraph/ent/role"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/ent/userrole"
)

// Search turns a user-search query in Auth0's Lucene subset into an ent
// predicate:
//
//	email:"jane@example.com"   exact, case-insensitive
//	email.domain:example.com   by domain
//	name:jo*                   prefix (case-insensitive for names and email)
//	name:"Jane Doe"            exact
//	app_metadata.plan:gold     metadata value (string, number or boolean)
//	identities.connection:"Username-Password-Authentication"
//	roles:"Support agent"      holds the role of exactly this name (RBAC)
//	_exists_:phone_number      field present
//	a AND b, a OR b, NOT a, -a, (…)   terms side by side mean AND
//
// Errors are ValidationErrors on field "query".
func Search(q string) (predicate.User, error) {
	pred, _, err := SearchFields(q)
	return pred, err
}

// SearchFields is Search that also reports the fields the query names (each
// once, in order of appearance), so callers can ask for the scopes a field
// reveals: "roles" discloses role membership, which read:users alone does
// not show.
func SearchFields(q string) (predicate.User, []string, error) {
	if len(q) > 1024 {
		return nil, nil, invalid("query", "is longer than 1024 characters")
	}
	// Postgres refuses a NUL in a text parameter (a database error, not a
	// bad query); no other control character has a use in a search either.
	if strings.ContainsFunc(q, func(r rune) bool { return unicode.IsControl(r) && !unicode.IsSpace(r) }) {
		return nil, nil, invalid("query", "must not contain control characters")
	}
	p := &parser{toks: lex(q)}
	if len(p.toks) == 0 {
		return nil, nil, nil
	}
	pred, err := p.or(0)
	if err != nil {
		return nil, nil, err
	}
	if p.pos < len(p.toks) {
		return nil, nil, invalid("query", "unexpected %q", p.toks[p.pos].text)
	}
	return pred, p.fields, nil
}

type token struct {
	text   string
	quoted bool
}

// lex splits on spaces, keeping quoted strings and parentheses apart. A
// "field:" prefix stays glued to its value.
func lex(q string) []token {
	var toks []token
	rs := []rune(q)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(' || r == ')':
			toks = append(toks, token{text: string(r)})
			i++
		default:
			var b strings.Builder
			quoted := false
			for i < len(rs) && !unicode.IsSpace(rs[i]) && rs[i] != '(' && rs[i] != ')' {
				if rs[i] == '"' {
					quoted = true
					i++
					for i < len(rs) && rs[i] != '"' {
						if rs[i] == '\\' && i+1 < len(rs) {
							i++
						}
						b.WriteRune(rs[i])
						i++
					}
					i++ // closing quote
					continue
				}
				b.WriteRune(rs[i])
				i++
			}
			toks = append(toks, token{text: b.String(), quoted: quoted})
		}
	}
	return toks
}

type parser struct {
	toks   []token
	pos    int
	fields []string
}

const maxDepth = 10

func (p *parser) peek() (token, bool) {
	if p.pos >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.pos], true
}

func (p *parser) or(depth int) (predicate.User, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	terms := []predicate.User{left}
	for {
		t, ok := p.peek()
		if !ok || t.quoted || t.text != "OR" {
			break
		}
		p.pos++
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		terms = append(terms, right)
	}
	if len(terms) == 1 {
		return left, nil
	}
	return user.Or(terms...), nil
}

func (p *parser) and(depth int) (predicate.User, error) {
	var terms []predicate.User
	for {
		t, ok := p.peek()
		if !ok || (!t.quoted && (t.text == "OR" || t.text == ")")) {
			break
		}
		if !t.quoted && t.text == "AND" {
			p.pos++
			continue
		}
		term, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		terms = append(terms, term)
	}
	switch len(terms) {
	case 0:
		return nil, invalid("query", "expected a term")
	case 1:
		return terms[0], nil
	}
	return user.And(terms...), nil
}

func (p *parser) unary(depth int) (predicate.User, error) {
	if depth > maxDepth {
		return nil, invalid("query", "nests deeper than %d levels", maxDepth)
	}
	t, _ := p.peek()
	switch {
	case !t.quoted && t.text == "NOT":
		p.pos++
		inner, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return not(inner), nil
	case !t.quoted && strings.HasPrefix(t.text, "-") && len(t.text) > 1:
		p.toks[p.pos].text = t.text[1:]
		inner, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return not(inner), nil
	case !t.quoted && t.text == "(":
		p.pos++
		inner, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.text != ")" {
			return nil, invalid("query", "missing )")
		}
		p.pos++
		return inner, nil
	}
	p.pos++
	if field, _, ok := strings.Cut(t.text, ":"); ok && !slices.Contains(p.fields, field) {
		p.fields = append(p.fields, field)
	}
	return term(t)
}

// term builds the predicate of one field:value.
func term(t token) (predicate.User, error) {
	field, value, ok := strings.Cut(t.text, ":")
	if !ok || field == "" {
		return nil, invalid("query", "%q must be field:value (bare terms are not supported)", t.text)
	}
	if t.quoted && strings.Contains(field, "\"") {
		return nil, invalid("query", "field names cannot be quoted")
	}
	if value == "" {
		return nil, invalid("query", "%s: value is empty", field)
	}
	prefix := !t.quoted && strings.HasSuffix(value, "*")
	if prefix {
		value = strings.TrimSuffix(value, "*")
		if value == "" || strings.Contains(value, "*") {
			return nil, invalid("query", "%s: only a trailing * (prefix match) is supported", field)
		}
	}
	if !t.quoted && strings.Contains(value, "*") {
		return nil, invalid("query", "%s: only a trailing * (prefix match) is supported", field)
	}

	switch field {
	case "_exists_":
		return exists(value)
	case "email", "name", "given_name", "family_name", "nickname":
		return foldMatch(field, value, prefix), nil
	case "email.domain":
		if prefix {
			return nil, invalid("query", "email.domain does not take wildcards")
		}
		// Stored domains are ASCII (emailaddr): "bücher.de" finds
		// "xn--bcher-kva.de". A value that is no domain is matched as typed.
		if d, err := emailaddr.Domain(value); err == nil {
			value = d
		}
		return likeLower(user.FieldEmail, "%@"+escapeLike(strings.ToLower(value))), nil
	case "user_id", "username", "phone_number":
		if prefix {
			return exactPrefix(field, value), nil
		}
		return func(s *sql.Selector) { s.Where(sql.EQ(s.C(field), value)) }, nil
	case "blocked", "email_verified", "phone_verified":
		b, err := strconv.ParseBool(value)
		if err != nil || prefix {
			return nil, invalid("query", "%s takes true or false", field)
		}
		return func(s *sql.Selector) { s.Where(sql.EQ(s.C(field), b)) }, nil
	case "logins_count":
		n, err := strconv.Atoi(value)
		if err != nil || prefix {
			return nil, invalid("query", "logins_count takes an integer")
		}
		return user.LoginsCount(n), nil
	case "identities.connection":
		return user.HasIdentitiesWith(identity.HasConnectionWith(connection.Name(value))), nil
	case "identities.provider":
		return user.HasIdentitiesWith(identity.Provider(value)), nil
	case "roles":
		if prefix {
			return nil, invalid("query", "roles takes an exact role name, without wildcards")
		}
		return hasRole(value), nil
	}
	if col, path, ok := metadataPath(field); ok {
		if prefix {
			return nil, invalid("query", "%s: metadata does not take wildcards", field)
		}
		return metadataEQ(col, path, value, t.quoted), nil
	}
	return nil, invalid("query", "unknown or unsearchable field %q", field)
}

// hasRole keeps the users assigned the role named name. Assignments are
// rows of user_roles (package rbac), found through the unique role name and
// the (role_ref, user_ref) index.
func hasRole(name string) predicate.User {
	return func(s *sql.Selector) {
		ur, r := sql.Table(userrole.Table), sql.Table(role.Table)
		members := sql.Select(ur.C(userrole.FieldUserRef)).From(ur).
			Join(r).On(ur.C(userrole.FieldRoleRef), r.C(role.FieldID)).
			Where(sql.EQ(r.C(role.FieldName), name))
		s.Where(sql.In(s.C(user.FieldID), members))
	}
}

func metadataPath(field string) (col string, path []string, ok bool) {
	for _, c := range []string{user.FieldAppMetadata, user.FieldUserMetadata} {
		if rest, found := strings.CutPrefix(field, c+"."); found && rest != "" {
			parts := strings.Split(rest, ".")
			for _, part := range parts {
				if part == "" || strings.ContainsAny(part, `"\`) {
					return "", nil, false
				}
			}
			return c, parts, true
		}
	}
	return "", nil, false
}

// metadataEQ matches a JSON value: the string, and unless quoted also the
// number or boolean the text spells, each only as a value of that JSON type
// (a quoted "1" does not match the number 1, nor 1 the boolean true).
//
// The path's keys are bind parameters, never SQL text: ent's sqljson writes
// them into quoted literals unescaped, so a key such as x'y broke out of the
// literal (SQL injection through a search term).
func metadataEQ(col string, path []string, value string, quoted bool) predicate.User {
	return func(s *sql.Selector) {
		c := s.C(col)
		preds := []*sql.Predicate{jsonValueEQ(s.Dialect(), c, path, "text", value)}
		if !quoted {
			if n, err := strconv.ParseFloat(value, 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) {
				preds = append(preds, jsonValueEQ(s.Dialect(), c, path, "number", n))
			}
			if value == "true" || value == "false" {
				preds = append(preds, jsonValueEQ(s.Dialect(), c, path, value, value == "true"))
			}
		}
		s.Where(sql.Or(preds...))
	}
}

// jsonValueEQ is "the JSON value at path in column c has type typ and equals
// v" (typ: text, number, true or false, as SQLite's JSON_TYPE names them).
func jsonValueEQ(d, c string, path []string, typ string, v any) *sql.Predicate {
	return sql.P(func(b *sql.Builder) {
		if d == dialect.Postgres {
			// jsonb equality compares type and value (1 = 1.0, "1" != 1).
			enc, _ := json.Marshal(v) // a string, a finite float64 or a bool
			jsonPathPG(b, c, path)
			b.WriteString(" = ").Arg(string(enc)).WriteString("::jsonb")
			return
		}
		// SQLite's JSON_EXTRACT turns booleans into 1 and 0: check the type.
		b.WriteString("JSON_TYPE(").WriteString(c).WriteString(", ").Arg(jsonPathSQLite(path)).WriteString(")")
		switch typ {
		case "number":
			b.WriteString(" IN ('integer', 'real') AND JSON_EXTRACT(").WriteString(c).WriteString(", ").
				Arg(jsonPathSQLite(path)).WriteString(") = ").Arg(v)
		case "text":
			b.WriteString(" = 'text' AND JSON_EXTRACT(").WriteString(c).WriteString(", ").
				Arg(jsonPathSQLite(path)).WriteString(") = ").Arg(v)
		default: // true, false
			b.WriteString(" = ").Arg(typ)
		}
	})
}

// jsonPathPG writes c -> $1::text -> $2::text …: the value at path, or NULL.
func jsonPathPG(b *sql.Builder, c string, path []string) {
	b.WriteString("(").WriteString(c)
	for _, k := range path {
		b.WriteString(" -> ").Arg(k).WriteString("::text")
	}
	b.WriteString(")")
}

// jsonPathSQLite is the JSON path $."k1"."k2" (metadataPath refuses keys
// holding a double quote, which the path syntax cannot escape).
func jsonPathSQLite(path []string) string {
	var sb strings.Builder
	sb.WriteString("$")
	for _, k := range path {
		sb.WriteString(`."`)
		sb.WriteString(k)
		sb.WriteString(`"`)
	}
	return sb.String()
}

func exists(field string) (predicate.User, error) {
	switch field {
	case "email", "username", "phone_number", "name", "given_name", "family_name", "nickname", "picture", "last_login", "last_ip":
		return func(s *sql.Selector) { s.Where(sql.NotNull(s.C(field))) }, nil
	}
	if col, path, ok := metadataPath(field); ok {
		return func(s *sql.Selector) {
			c := s.C(col)
			s.Where(sql.P(func(b *sql.Builder) {
				if s.Dialect() == dialect.Postgres {
					jsonPathPG(b, c, path)
				} else {
					b.WriteString("JSON_TYPE(").WriteString(c).WriteString(", ").Arg(jsonPathSQLite(path)).WriteString(")")
				}
				b.WriteString(" IS NOT NULL")
			}))
		}, nil
	}
	return nil, invalid("query", "_exists_: unknown field %q", field)
}

// exactPrefix matches values starting with value, case-sensitively on
// every backend: SQLite's LIKE ignores ASCII case (username:jA* found "jane"
// there and not on Postgres), so SQLite compares the leading characters.
func exactPrefix(col, value string) predicate.User {
	return func(s *sql.Selector) {
		c := s.C(col)
		if s.Dialect() == dialect.Postgres {
			s.Where(sql.HasPrefix(c, value)) // LIKE, metacharacters escaped
			return
		}
		s.Where(sql.P(func(b *sql.Builder) {
			b.WriteString("SUBSTR(").WriteString(c).WriteString(", 1, ").Arg(utf8.RuneCountInString(value)).
				WriteString(") = ").Arg(value)
		}))
	}
}

// foldMatch compares case-insensitively; Postgres serves it from the
// LOWER(…) expression indexes the migration creates.
func foldMatch(col, value string, prefix bool) predicate.User {
	v := strings.ToLower(value)
	if prefix {
		return likeLower(col, escapeLike(v)+"%")
	}
	return func(s *sql.Selector) {
		s.Where(sql.P(func(b *sql.Builder) {
			b.WriteString("LOWER(").WriteString(s.C(col)).WriteString(") = ").Arg(v)
		}))
	}
}

func likeLower(col, pattern string) predicate.User {
	return func(s *sql.Selector) {
		s.Where(sql.P(func(b *sql.Builder) {
			b.WriteString("LOWER(").WriteString(s.C(col)).WriteString(") LIKE ").Arg(pattern).WriteString(` ESCAPE '\'`)
		}))
	}
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// not negates p as Lucene does: a user lacking the field (SQL NULL, e.g. no
// name or no such metadata key) does not match p, so it matches NOT p. A
// plain SQL NOT keeps NULL, which dropped those users from `NOT name:jo*` and
// `NOT app_metadata.plan:gold`. This is ent's sql.NotPredicates with the
// operand wrapped in COALESCE(…, FALSE).
func not(p predicate.User) predicate.User {
	return func(s1 *sql.Selector) {
		s2 := s1.Clone().SetP(nil)
		p(s2)
		s1.Where(sql.Not(sql.P(func(b *sql.Builder) {
			b.WriteString("COALESCE(").Join(s2.P()).WriteString(", FALSE)")
		})))
	}
}
