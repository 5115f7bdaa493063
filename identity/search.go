package identity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
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

// Search turns a user-search query in Auth0's v3 Lucene syntax into an ent
// predicate (docs/SEARCH.md has the language and the indexes that serve it):
//
//	email:"jane@example.com"   exact, case-insensitive
//	email.domain:example.com   by domain
//	name:jo*  name:*son        prefix, suffix (case-insensitive for names and email)
//	app_metadata.tags:admin    metadata value at any depth, arrays skipped
//	logins_count:[10 TO *]     ranges; created_at:[2026-01 TO 2026-06] rounds dates
//	roles:"Support agent"      holds the role of exactly this name (RBAC)
//	_exists_:phone_number      field present
//	a AND b, a OR b, NOT a, -a, (…)   terms side by side mean AND
//
// Errors are ValidationErrors on field "query"; a syntax error names its
// 1-based character position.
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
	n, fields, err := parse(q)
	if err != nil || n == nil {
		return nil, nil, err
	}
	if k := metadataKeys(n); k > maxQueryMetadataKeys {
		return nil, nil, invalid("query", "names %d metadata keys; a query may name at most %d", k, maxQueryMetadataKeys)
	}
	pred, err := build(n)
	if err != nil {
		return nil, nil, err
	}
	return pred, fields, nil
}

// maxQueryMetadataKeys bounds the metadata keys of one query, all terms
// together. No index serves a metadata term on SQLite, nor a metadata range
// or wildcard on Postgres: each key is work on every row (two json_each per
// key on SQLite), and 25 deep terms OR-ed took 250 µs a row.
const maxQueryMetadataKeys = 24

// metadataKeys counts the metadata keys the terms of n name.
func metadataKeys(n node) int {
	k := 0
	switch n := n.(type) {
	case *andNode:
		for _, c := range n.kids {
			k += metadataKeys(c)
		}
	case *orNode:
		for _, c := range n.kids {
			k += metadataKeys(c)
		}
	case *notNode:
		k = metadataKeys(n.kid)
	case *termNode:
		if _, path, ok := metadataPath(n); ok {
			k = len(path)
		}
	}
	return k
}

func build(n node) (predicate.User, error) {
	switch n := n.(type) {
	case *andNode, *orNode:
		var kids []node
		if a, ok := n.(*andNode); ok {
			kids = a.kids
		} else {
			kids = n.(*orNode).kids
		}
		preds := make([]predicate.User, len(kids))
		for i, k := range kids {
			p, err := build(k)
			if err != nil {
				return nil, err
			}
			preds[i] = p
		}
		if _, ok := n.(*andNode); ok {
			return user.And(preds...), nil
		}
		return user.Or(preds...), nil
	case *notNode:
		p, err := build(n.kid)
		if err != nil {
			return nil, err
		}
		return not(p), nil
	case *termNode:
		return term(n)
	}
	panic("search: unknown node")
}

// termError is a ValidationError about one term's value.
func termError(t *termNode, format string, args ...any) error {
	return syntaxError(t.vpos, "%s: %s", t.field, strFmt(format, args...))
}

func strFmt(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

// Fields by kind of match.
var (
	foldFields  = []string{"email", "name", "given_name", "family_name", "nickname"}    // case-insensitive
	exactFields = []string{"user_id", "username", "phone_number", "picture", "last_ip"} // case-sensitive
	boolFields  = []string{"email_verified", "phone_verified", "blocked"}               //
	timeFields  = []string{"created_at", "updated_at", "last_login"}                    //
	nullable    = []string{"email", "username", "phone_number", "name", "given_name", "family_name", "nickname", "picture", "last_login", "last_ip"}
)

// term builds the predicate of one field:value.
func term(t *termNode) (predicate.User, error) {
	if t.field == "_exists_" {
		if t.kind != kindExact || t.quoted {
			return nil, termError(t, "takes a field name")
		}
		p, err := lexField(t.raw, t.vpos)
		if err != nil {
			return nil, err
		}
		p.kind = kindExists
		return term(p)
	}
	f := t.field
	switch {
	case containsString(foldFields, f):
		if f == "email" {
			if d, ok := domainSuffix(t); ok {
				return emailDomain(d), nil
			}
		}
		return textMatch(t, true)
	case containsString(exactFields, f):
		return textMatch(t, false)
	case f == "email.domain":
		if t.kind != kindExact {
			return nil, termError(t, "takes a domain, without wildcards or ranges")
		}
		return emailDomain(t.value), nil
	case containsString(boolFields, f):
		if t.kind == kindExists {
			return exists(f), nil
		}
		b, err := strconv.ParseBool(t.value)
		if err != nil || t.kind != kindExact || (t.value != "true" && t.value != "false") {
			return nil, termError(t, "takes true or false")
		}
		return func(s *sql.Selector) { s.Where(sql.EQ(s.C(f), b)) }, nil
	case f == "logins_count":
		return intMatch(t)
	case containsString(timeFields, f):
		return timeMatch(t)
	case f == "identities.connection", f == "identities.provider", f == "identities.user_id":
		if t.kind != kindExact {
			return nil, termError(t, "takes an exact value")
		}
		switch f {
		case "identities.connection":
			return user.HasIdentitiesWith(identity.HasConnectionWith(connection.Name(t.value))), nil
		case "identities.provider":
			return user.HasIdentitiesWith(identity.Provider(t.value)), nil
		}
		return user.HasIdentitiesWith(identity.UpstreamID(t.value)), nil
	case f == "roles":
		if t.kind != kindExact {
			return nil, termError(t, "takes an exact role name, without wildcards")
		}
		return hasRole(t.value), nil
	}
	if col, path, ok := metadataPath(t); ok {
		if len(path) > maxMetadataDepth {
			return nil, syntaxError(t.pos, "%s: metadata paths have at most %d keys", t.field, maxMetadataDepth)
		}
		return metadataMatch(t, col, path)
	}
	return nil, syntaxError(t.pos, "unknown or unsearchable field %q", t.field)
}

// lexField reads the field name of _exists_:name as a term's field.
func lexField(name string, pos int) (*termNode, error) {
	l := &lexer{rs: []rune(name + ":*")}
	t, err := l.term()
	if err != nil || l.i != len(l.rs) {
		return nil, syntaxError(pos, "_exists_ takes a field name")
	}
	t.pos, t.vpos = pos, pos
	return t, nil
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

// exists is "the column is set".
func exists(col string) predicate.User {
	return func(s *sql.Selector) { s.Where(sql.NotNull(s.C(col))) }
}

// pred is a predicate written by hand; every value goes through b.Arg.
func pred(fn func(s *sql.Selector, b *sql.Builder)) predicate.User {
	return func(s *sql.Selector) {
		s.Where(sql.P(func(b *sql.Builder) { fn(s, b) }))
	}
}

// textMatch matches a text column: exactly, by prefix or suffix, by range,
// or present. fold compares LOWER(col) with the lowered value (Postgres
// serves it from the LOWER(…) indexes).
//
// Prefixes are ranges [p, successor(p)) rather than LIKE 'p%': a LIKE with a
// bound pattern cannot use a btree under a generic plan (cached prepared
// statements), a range can. Postgres compares with the ~<~ family, which
// orders by bytes like the text_pattern_ops indexes, whatever the
// collation; SQLite's default BINARY collation already does.
func textMatch(t *termNode, fold bool) (predicate.User, error) {
	col := t.field
	v := t.value
	if fold {
		v = strings.ToLower(v)
	}
	expr := func(s *sql.Selector, b *sql.Builder) {
		if fold {
			b.WriteString("LOWER(").WriteString(s.C(col)).WriteString(")")
		} else {
			b.WriteString(s.C(col))
		}
	}
	switch t.kind {
	case kindExists:
		return exists(col), nil
	case kindExact:
		return pred(func(s *sql.Selector, b *sql.Builder) {
			expr(s, b)
			b.WriteString(" = ").Arg(v)
		}), nil
	case kindPrefix:
		hi, ok := successor(v)
		return pred(func(s *sql.Selector, b *sql.Builder) {
			expr(s, b)
			b.WriteString(" " + textOp(s, ">=") + " ").Arg(v)
			if ok {
				b.WriteString(" AND ")
				expr(s, b)
				b.WriteString(" " + textOp(s, "<") + " ").Arg(hi)
			}
		}), nil
	case kindSuffix:
		return pred(func(s *sql.Selector, b *sql.Builder) {
			if s.Dialect() == dialect.Postgres && fold {
				// A prefix of the reversed text, served by the
				// reverse(LOWER(col)) indexes under any plan.
				r := reverse(v)
				hi, ok := successor(r)
				b.WriteString("reverse(")
				expr(s, b)
				b.WriteString(") ~>=~ ").Arg(r)
				if ok {
					b.WriteString(" AND reverse(")
					expr(s, b)
					b.WriteString(") ~<~ ").Arg(hi)
				}
				return
			}
			if s.Dialect() == dialect.Postgres {
				expr(s, b)
				b.WriteString(" LIKE ").Arg("%" + escapeLike(v))
				return
			}
			// SQLite's LIKE ignores ASCII case: compare the last characters.
			b.WriteString("SUBSTR(")
			expr(s, b)
			b.WriteString(", ").Arg(-utf8.RuneCountInString(v)).WriteString(") = ").Arg(v)
		}), nil
	}
	lo, hi := t.lo, t.hi
	if fold {
		lo.value, hi.value = strings.ToLower(lo.value), strings.ToLower(hi.value)
	}
	return rangePred(func(s *sql.Selector, b *sql.Builder, op string, arg any) {
		expr(s, b)
		b.WriteString(" " + textOp(s, op) + " ").Arg(arg)
	}, col, lo, hi, func(b bound) any { return b.value }), nil
}

// textOp is op comparing text by bytes (code points): Postgres's pattern
// operators, SQLite's plain ones.
func textOp(s *sql.Selector, op string) string {
	if s.Dialect() == dialect.Postgres {
		return "~" + op + "~"
	}
	return op
}

// rangePred writes lo/hi as comparisons of the column (cmp); both open is
// "present".
func rangePred(cmp func(s *sql.Selector, b *sql.Builder, op string, arg any), col string, lo, hi bound, val func(bound) any) predicate.User {
	if lo.open && hi.open {
		return exists(col)
	}
	return pred(func(s *sql.Selector, b *sql.Builder) {
		and := false
		if !lo.open {
			op := ">"
			if lo.incl {
				op = ">="
			}
			cmp(s, b, op, val(lo))
			and = true
		}
		if !hi.open {
			if and {
				b.WriteString(" AND ")
			}
			op := "<"
			if hi.incl {
				op = "<="
			}
			cmp(s, b, op, val(hi))
		}
	})
}

// reverse is s with its characters (code points) in reverse order, as
// Postgres's reverse() makes them.
func reverse(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

// successor is the least string greater than every string starting with p:
// p with its last code point incremented (dropping trailing U+10FFFF).
// UTF-8 orders by code point, so [p, successor(p)) is exactly "starts with p".
func successor(p string) (string, bool) {
	rs := []rune(p)
	for len(rs) > 0 {
		last := rs[len(rs)-1]
		if last < unicode.MaxRune {
			last++
			if last >= 0xD800 && last <= 0xDFFF { // surrogates are no characters
				last = 0xE000
			}
			rs[len(rs)-1] = last
			return string(rs), true
		}
		rs = rs[:len(rs)-1]
	}
	return "", false
}

// domainSuffix recognizes email:*@example.com, which is email.domain:example.com
// (addresses hold one @) and so uses the domain index.
func domainSuffix(t *termNode) (string, bool) {
	if t.kind != kindSuffix || !strings.HasPrefix(t.value, "@") || strings.Count(t.value, "@") != 1 {
		return "", false
	}
	return t.value[1:], true
}

// emailDomain matches the part of the address after the @,
// case-insensitively. Stored domains are ASCII (emailaddr): "bücher.de"
// finds "xn--bcher-kva.de". A value that is no domain is matched as typed.
func emailDomain(value string) predicate.User {
	if d, err := emailaddr.Domain(value); err == nil {
		value = d
	}
	value = strings.ToLower(value)
	return pred(func(s *sql.Selector, b *sql.Builder) {
		c := s.C(user.FieldEmail)
		if s.Dialect() == dialect.Postgres {
			// The expression of the users_email_domain index, verbatim.
			b.WriteString("LOWER(split_part(").WriteString(c).WriteString(", '@', 2)) = ").Arg(value)
			return
		}
		b.WriteString("INSTR(").WriteString(c).WriteString(", '@') > 0 AND LOWER(SUBSTR(").WriteString(c).
			WriteString(", INSTR(").WriteString(c).WriteString(", '@') + 1)) = ").Arg(value)
	})
}

// intMatch is logins_count: a number or a range of numbers.
func intMatch(t *termNode) (predicate.User, error) {
	col := t.field
	num := func(v string) (int64, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, termError(t, "takes an integer")
		}
		return n, nil
	}
	switch t.kind {
	case kindExists:
		return exists(col), nil
	case kindExact:
		n, err := num(t.value)
		if err != nil {
			return nil, err
		}
		return func(s *sql.Selector) { s.Where(sql.EQ(s.C(col), n)) }, nil
	case kindRange:
		for _, b := range []bound{t.lo, t.hi} {
			if !b.open {
				if _, err := num(b.value); err != nil {
					return nil, err
				}
			}
		}
		// An open end is the type's extreme, so that Postgres sees a
		// range (estimated narrow) rather than one inequality (estimated
		// as a third of the table) when it plans without the values.
		lo, hi := t.lo, t.hi
		if lo.open != hi.open {
			if lo.open {
				lo = bound{value: strconv.FormatInt(math.MinInt64, 10), incl: true}
			} else {
				hi = bound{value: strconv.FormatInt(math.MaxInt64, 10), incl: true}
			}
		}
		return rangePred(func(s *sql.Selector, b *sql.Builder, op string, arg any) {
			b.WriteString(s.C(col) + " " + op + " ").Arg(arg)
		}, col, lo, hi, func(b bound) any { n, _ := num(b.value); return n }), nil
	}
	return nil, termError(t, "takes an integer or a range, without wildcards")
}

// timeMatch is a date field. A partial date is the whole period it names
// (created_at:2026-01 is January); range ends round as Elasticsearch does:
// [2026-01 starts with January, {2026-01 after it; 2026-06] ends after June,
// 2026-06} before it.
func timeMatch(t *termNode) (predicate.User, error) {
	col := t.field
	cmp := func(s *sql.Selector, b *sql.Builder, op string, arg any) {
		b.WriteString(s.C(col) + " " + op + " ").Arg(arg)
	}
	switch t.kind {
	case kindExists:
		return exists(col), nil
	case kindExact:
		start, end, err := period(t, t.value)
		if err != nil {
			return nil, err
		}
		return pred(func(s *sql.Selector, b *sql.Builder) {
			cmp(s, b, ">=", start)
			b.WriteString(" AND ")
			cmp(s, b, "<", end)
		}), nil
	case kindRange:
		// Every end becomes >= or <: [x is >= start(x), {x is >= end(x),
		// x] is < end(x), x} is < start(x).
		if t.lo.open && t.hi.open {
			return exists(col), nil
		}
		var lo, hi *time.Time
		for _, e := range []struct {
			b     bound
			out   **time.Time
			lower bool
		}{{t.lo, &lo, true}, {t.hi, &hi, false}} {
			if e.b.open {
				continue
			}
			start, end, err := period(t, e.b.value)
			if err != nil {
				return nil, err
			}
			if e.lower == e.b.incl {
				*e.out = &start
			} else {
				*e.out = &end
			}
		}
		// An open end is the first or last representable day (see intMatch).
		if lo == nil {
			lo = &minTime
		}
		if hi == nil {
			hi = &maxTime
		}
		return pred(func(s *sql.Selector, b *sql.Builder) {
			cmp(s, b, ">=", *lo)
			b.WriteString(" AND ")
			cmp(s, b, "<", *hi)
		}), nil
	}
	return nil, termError(t, "takes a date (2026, 2026-01, 2026-01-15 or RFC 3339) or a range of dates")
}

// The open ends of date ranges: years both databases store.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// period is the interval [start, end) a date names: a year, a month, a day,
// or an RFC 3339 instant (to the microsecond the databases keep).
func period(t *termNode, v string) (start, end time.Time, err error) {
	for _, f := range []struct {
		layout string
		next   func(time.Time) time.Time
	}{
		{"2006", func(x time.Time) time.Time { return x.AddDate(1, 0, 0) }},
		{"2006-01", func(x time.Time) time.Time { return x.AddDate(0, 1, 0) }},
		{"2006-01-02", func(x time.Time) time.Time { return x.AddDate(0, 0, 1) }},
		{time.RFC3339Nano, func(x time.Time) time.Time { return x.Add(time.Microsecond) }},
	} {
		if x, err := time.Parse(f.layout, v); err == nil {
			x = x.UTC().Truncate(time.Microsecond)
			// The end of 9999 would be year 10000, which SQLite's text
			// timestamps sort before every four-digit year.
			end := f.next(x)
			if end.After(maxTime) {
				end = maxTime
			}
			return x, end, nil
		}
	}
	return time.Time{}, time.Time{}, termError(t, "%q is no date (2026, 2026-01, 2026-01-15 or RFC 3339)", v)
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

// jsonString is s as a JSON (and jsonpath) string literal.
func jsonString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(buf.String(), "\n")
}

// finite parses an unquoted value as a JSON number.
func finite(v string) (float64, bool) {
	n, err := strconv.ParseFloat(v, 64)
	return n, err == nil && !math.IsInf(n, 0) && !math.IsNaN(n)
}
