package identity

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/authgraph/authgraph/ent/predicate"
	"github.com/authgraph/authgraph/ent/user"
)

// maxMetadataDepth bounds a metadata path: SQLite joins two table-valued
// functions per key, and joins at most 64 tables.
const maxMetadataDepth = 10

// metadataPath splits app_metadata.a.b into the column and its keys.
func metadataPath(t *termNode) (col string, path []string, ok bool) {
	if len(t.path) < 2 || (t.path[0] != user.FieldAppMetadata && t.path[0] != user.FieldUserMetadata) {
		return "", nil, false
	}
	for _, k := range t.path[1:] {
		if k == "" {
			return "", nil, false
		}
	}
	return t.path[0], t.path[1:], true
}

// metaValue is a value a metadata term compares with: a string, or a
// number or boolean the unquoted text spells.
type metaValue struct {
	typ string // text, number, true, false
	s   string
	n   float64
}

// metaValues are the JSON values an exact term matches: the string, and
// unless quoted also the number or boolean the text spells, each only as a
// value of that JSON type (a quoted "1" does not match the number 1, nor 1
// the boolean true).
func metaValues(v string, quoted bool) []metaValue {
	out := []metaValue{{typ: "text", s: v}}
	if !quoted {
		if n, ok := finite(v); ok {
			out = append(out, metaValue{typ: "number", n: n})
		}
		if v == "true" || v == "false" {
			out = append(out, metaValue{typ: v})
		}
	}
	return out
}

// metadataMatch matches the values at path in a metadata column. Arrays on
// the way are skipped: app_metadata.tags:admin matches {"tags":["admin"]},
// app_metadata.orgs.id:7 matches {"orgs":[{"id":7}]} (one array level at
// each key, as Postgres's lax jsonpath mode does).
//
// On Postgres the match is one jsonpath, bound as a parameter and tested
// with @@, which the jsonb_path_ops GIN index serves for equality. Keys and
// strings are JSON-quoted in the path, never SQL text.
func metadataMatch(t *termNode, col string, path []string) (predicate.User, error) {
	rng := func() (lo, hi *metaValue, err error) {
		numeric := true
		for _, b := range []bound{t.lo, t.hi} {
			if b.open {
				continue
			}
			if _, ok := finite(b.value); !ok || b.quoted {
				numeric = false
			}
		}
		mk := func(b bound) *metaValue {
			if b.open {
				return nil
			}
			if numeric {
				n, _ := finite(b.value)
				return &metaValue{typ: "number", n: n}
			}
			return &metaValue{typ: "text", s: b.value}
		}
		return mk(t.lo), mk(t.hi), nil
	}
	var lo, hi *metaValue
	if t.kind == kindRange {
		lo, hi, _ = rng()
		if lo == nil && hi == nil {
			t.kind = kindExists
		}
	}
	return func(s *sql.Selector) {
		c := s.C(col)
		if s.Dialect() == dialect.Postgres {
			s.Where(sql.P(func(b *sql.Builder) {
				b.WriteString(c).WriteString(" @@ ").Arg(jsonpathOf(t, path, lo, hi)).WriteString("::jsonpath")
			}))
			return
		}
		s.Where(sql.P(func(b *sql.Builder) { metadataSQLite(b, c, path, t, lo, hi) }))
	}, nil
}

// jsonpathOf is the jsonpath predicate of t at path.
func jsonpathOf(t *termNode, path []string, lo, hi *metaValue) string {
	var p strings.Builder
	p.WriteString("$")
	for _, k := range path {
		p.WriteString(".")
		p.WriteString(jsonString(k))
	}
	at := p.String()
	switch t.kind {
	case kindExists:
		return "exists(" + at + ")"
	case kindPrefix:
		return at + " starts with " + jsonString(t.value)
	case kindSuffix:
		return at + " like_regex " + jsonString(regexpQuote(t.value)+"$")
	case kindRange:
		var conds []string
		if lo != nil {
			conds = append(conds, "@ "+cmpOp(">", t.lo.incl)+" "+jsonpathLiteral(*lo))
		}
		if hi != nil {
			conds = append(conds, "@ "+cmpOp("<", t.hi.incl)+" "+jsonpathLiteral(*hi))
		}
		return "exists(" + at + " ? (" + strings.Join(conds, " && ") + "))"
	}
	var alts []string
	for _, v := range metaValues(t.value, t.quoted) {
		alts = append(alts, at+" == "+jsonpathLiteral(v))
	}
	return strings.Join(alts, " || ")
}

func cmpOp(op string, incl bool) string {
	if incl {
		return op + "="
	}
	return op
}

func jsonpathLiteral(v metaValue) string {
	switch v.typ {
	case "text":
		return jsonString(v.s)
	case "number":
		return strconv.FormatFloat(v.n, 'f', -1, 64)
	}
	return v.typ // true, false
}

// regexpQuote escapes every character but letters and digits, which a
// backslash makes literal in Postgres's regular expressions.
func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// metadataSQLite walks path with json_each, one join pair per key: m<i>
// is the member named by key i, e<i> the elements when that member is a
// non-empty array (else the member itself, through the one-row '[0]').
//
//	EXISTS (SELECT 1 FROM json_each(<object>) AS m1, json_each(<array or '[0]'>) AS e1, … WHERE m1.key = ? … AND <test>)
func metadataSQLite(b *sql.Builder, c string, path []string, t *termNode, lo, hi *metaValue) {
	arr := func(i int) string {
		m := "m" + strconv.Itoa(i)
		return m + ".type = 'array' AND json_array_length(CASE WHEN " + m + ".type = 'array' THEN " + m + ".value END) > 0"
	}
	pick := func(i int, col string) string {
		n := strconv.Itoa(i)
		return "(CASE WHEN " + arr(i) + " THEN e" + n + "." + col + " ELSE m" + n + "." + col + " END)"
	}
	b.WriteString("EXISTS (SELECT 1 FROM ")
	for i := range path {
		n := strconv.Itoa(i + 1)
		if i > 0 {
			b.WriteString(", ")
		}
		if i == 0 {
			b.WriteString("json_each(CASE WHEN json_type(" + c + ") = 'object' THEN " + c + " END) AS m1")
		} else {
			b.WriteString("json_each(CASE WHEN " + pick(i, "type") + " = 'object' THEN " + pick(i, "value") + " END) AS m" + n)
		}
		b.WriteString(", json_each(CASE WHEN " + arr(i+1) + " THEN m" + n + ".value ELSE '[0]' END) AS e" + n)
	}
	b.WriteString(" WHERE ")
	for i, k := range path {
		b.WriteString("m" + strconv.Itoa(i+1) + ".key = ").Arg(k).WriteString(" AND ")
	}
	v, typ := pick(len(path), "value"), pick(len(path), "type")
	test := func(mv metaValue, op string) {
		switch mv.typ {
		case "text":
			b.WriteString(typ + " = 'text' AND " + v + " " + op + " ").Arg(mv.s)
		case "number":
			b.WriteString(typ + " IN ('integer', 'real') AND " + v + " " + op + " ").Arg(mv.n)
		default:
			b.WriteString(typ + " = ").Arg(mv.typ)
		}
	}
	switch t.kind {
	case kindExists:
		b.WriteString(typ + " IS NOT NULL")
	case kindPrefix:
		hiS, ok := successor(t.value)
		test(metaValue{typ: "text", s: t.value}, ">=")
		if ok {
			b.WriteString(" AND " + v + " < ").Arg(hiS)
		}
	case kindSuffix:
		b.WriteString(typ + " = 'text' AND SUBSTR(" + v + ", ").Arg(-utf8.RuneCountInString(t.value)).
			WriteString(") = ").Arg(t.value)
	case kindRange:
		b.WriteString("(")
		if lo != nil {
			test(*lo, cmpOp(">", t.lo.incl))
		}
		if hi != nil {
			if lo != nil {
				b.WriteString(" AND ")
			}
			test(*hi, cmpOp("<", t.hi.incl))
		}
		b.WriteString(")")
	default:
		b.WriteString("(")
		for i, mv := range metaValues(t.value, t.quoted) {
			if i > 0 {
				b.WriteString(" OR ")
			}
			b.WriteString("(")
			test(mv, "=")
			b.WriteString(")")
		}
		b.WriteString(")")
	}
	b.WriteString(")")
}
