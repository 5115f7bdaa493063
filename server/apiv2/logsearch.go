package apiv2

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/predicate"
)

// Log search (GET /logs?q=) is the subset of Auth0's log query syntax (a
// subset of Lucene's) that maps onto the stored columns:
//
//	type:fp                        exact value (all fields are case sensitive)
//	user_id:"auth0|abc"            quoted value
//	user_name:jane*                prefix
//	description:"Wrong email"      description contains the words
//	date:2026-12-06                that day (UTC)
//	date:[2026-12-01 TO 2026-12-06}  range, [ ] inclusive, { } exclusive, * open; dates or RFC 3339 times
//	log_id:[log_01J… TO *]         range over log ids
//	a AND b, a OR b, NOT a, (…)    operators in capitals; adjacent terms are ORed, as in Lucene
//
// Fields: client_id, client_name, connection, connection_id, description,
// date, ip, log_id, strategy, strategy_type, type, user_agent, user_id,
// user_name. Terms without a field, fuzzy and proximity operators, boosts
// and the fields Authgraph does not record (hostname, organization_id…)
// are refused with 400.

// logSearchColumns maps searchable fields to columns.
var logSearchColumns = map[string]string{
	"client_id": logevent.FieldClientID, "client_name": logevent.FieldClientName,
	"connection": logevent.FieldConnection, "connection_id": logevent.FieldConnectionID,
	"description": logevent.FieldDescription, "date": logevent.FieldDate, "ip": logevent.FieldIP,
	"log_id": logevent.FieldID, "strategy": logevent.FieldStrategy, "strategy_type": logevent.FieldStrategyType,
	"type": logevent.FieldType, "user_agent": logevent.FieldUserAgent, "user_id": logevent.FieldUserID,
	"user_name": logevent.FieldUserName,
}

// Bounds on one search, so that a read:logs token cannot make the database
// do unbounded work: q's length, its number of terms, how many of them
// scan (a prefix or description term cannot use an index), and nesting.
const (
	maxLogQuery     = 2048
	maxLogTerms     = 32
	maxLogScanTerms = 4
	maxLogDepth     = 16
)

// parseLogSearch turns q into a predicate (nil for an empty q).
func parseLogSearch(q string) (predicate.LogEvent, error) {
	if len(q) > maxLogQuery {
		return nil, fmt.Errorf("q is longer than %d characters", maxLogQuery)
	}
	toks, err := lexLogSearch(q)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, nil
	}
	p := &logSearchParser{toks: toks}
	pred, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.i].text)
	}
	return pred, nil
}

type logTokKind int

const (
	tokWord   logTokKind = iota // a bare word (field:value is lexed as one word)
	tokPhrase                   // a quoted value, after "field:"
	tokLParen
	tokRParen
)

type logTok struct {
	kind logTokKind
	text string // word: as typed (escapes removed, wildcard kept); phrase: the value
	// field is the field of a term ("type" in type:fp), "" for operators.
	field string
	// wildcard: the word's value ended in an unescaped "*".
	wildcard bool
	// rng is set for field:[a TO b] terms.
	rng *logRange
}

type logRange struct {
	lo, hi         string // "*" is open
	loIncl, hiIncl bool
}

// lexLogSearch splits q into terms, operators and parentheses.
func lexLogSearch(q string) ([]logTok, error) {
	var toks []logTok
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, logTok{kind: tokLParen, text: "("})
			i++
		case c == ')':
			toks = append(toks, logTok{kind: tokRParen, text: ")"})
			i++
		default:
			// A field name, then ":" and a value; or an operator.
			start := i
			for i < len(q) && isFieldChar(q[i]) {
				i++
			}
			name := q[start:i]
			if i >= len(q) || q[i] != ':' {
				word := q[start:i]
				for i < len(q) && !isSpaceOrParen(q[i]) {
					i++
				}
				word = q[start:i]
				switch word {
				case "AND", "OR", "NOT", "&&", "||", "!":
					toks = append(toks, logTok{kind: tokWord, text: word})
					continue
				}
				if word == "" {
					return nil, fmt.Errorf("unexpected %q", string(q[start]))
				}
				return nil, fmt.Errorf("term %q has no field: write field:value", word)
			}
			if name == "" {
				return nil, fmt.Errorf("a term starts with \":\"")
			}
			i++ // ':'
			tok := logTok{field: name, text: q[start:i]}
			switch {
			case i < len(q) && q[i] == '"':
				v, n, err := lexPhrase(q[i:])
				if err != nil {
					return nil, err
				}
				tok.kind, tok.text = tokPhrase, v
				i += n
			case i < len(q) && (q[i] == '[' || q[i] == '{'):
				r, n, err := lexRange(q[i:])
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				tok.kind, tok.rng = tokWord, r
				i += n
			default:
				v, wild, n, err := lexBare(q[i:])
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				if v == "" && !wild {
					return nil, fmt.Errorf("%s: missing value", name)
				}
				tok.kind, tok.text, tok.wildcard = tokWord, v, wild
				i += n
			}
			toks = append(toks, tok)
		}
	}
	return toks, nil
}

func isFieldChar(c byte) bool {
	return c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isSpaceOrParen(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ')'
}

// lexPhrase reads "…" with backslash escapes; it returns the value and the
// bytes consumed.
func lexPhrase(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("unfinished escape in a quoted value")
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, fmt.Errorf("unterminated quoted value")
}

// lexBare reads an unquoted value up to a space or parenthesis. A final
// unescaped "*" makes it a prefix; other wildcards ("?", an inner "*")
// and Lucene's fuzzy (~) and boost (^) operators are refused.
func lexBare(s string) (string, bool, int, error) {
	var b strings.Builder
	i := 0
	wild := false
	for i < len(s) && !isSpaceOrParen(s[i]) {
		c := s[i]
		switch {
		case wild:
			return "", false, 0, fmt.Errorf("wildcards are supported at the end of a value only")
		case c == '\\':
			if i+1 >= len(s) {
				return "", false, 0, fmt.Errorf("unfinished escape")
			}
			i++
			b.WriteByte(s[i])
		case c == '*':
			wild = true
		case c == '?' || c == '~' || c == '^' || c == '"' || c == '[' || c == ']' || c == '{' || c == '}':
			return "", false, 0, fmt.Errorf("%q is not supported in a value (quote the value)", string(c))
		default:
			b.WriteByte(c)
		}
		i++
	}
	return b.String(), wild, i, nil
}

// lexRange reads [lo TO hi] with [ ] inclusive and { } exclusive bounds.
func lexRange(s string) (*logRange, int, error) {
	end := strings.IndexAny(s, "]}")
	if end < 0 {
		return nil, 0, fmt.Errorf("unterminated range")
	}
	parts := strings.Fields(s[1:end])
	if len(parts) != 3 || parts[1] != "TO" {
		return nil, 0, fmt.Errorf("a range is [from TO to]")
	}
	r := &logRange{lo: unquote(parts[0]), hi: unquote(parts[2]), loIncl: s[0] == '[', hiIncl: s[end] == ']'}
	return r, end + 1, nil
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

type logSearchParser struct {
	toks  []logTok
	i     int
	terms int // terms parsed so far
	scans int // of which prefix or description terms
}

func (p *logSearchParser) peekOp(ops ...string) bool {
	if p.i >= len(p.toks) {
		return false
	}
	t := p.toks[p.i]
	if t.kind != tokWord || t.field != "" {
		return false
	}
	for _, op := range ops {
		if t.text == op {
			return true
		}
	}
	return false
}

// or: and-groups joined by OR or by juxtaposition (Lucene's default).
func (p *logSearchParser) or(depth int) (predicate.LogEvent, error) {
	if depth > maxLogDepth {
		return nil, fmt.Errorf("too deeply nested")
	}
	first, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	preds := []predicate.LogEvent{first}
	for p.i < len(p.toks) && p.toks[p.i].kind != tokRParen {
		if p.peekOp("OR", "||") {
			p.i++
		}
		next, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		preds = append(preds, next)
	}
	if len(preds) == 1 {
		return first, nil
	}
	return logevent.Or(preds...), nil
}

func (p *logSearchParser) and(depth int) (predicate.LogEvent, error) {
	first, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	preds := []predicate.LogEvent{first}
	for p.peekOp("AND", "&&") {
		p.i++
		next, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		preds = append(preds, next)
	}
	if len(preds) == 1 {
		return first, nil
	}
	return logevent.And(preds...), nil
}

func (p *logSearchParser) unary(depth int) (predicate.LogEvent, error) {
	if depth > maxLogDepth {
		return nil, fmt.Errorf("too deeply nested")
	}
	if p.peekOp("NOT", "!") {
		p.i++
		inner, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return logevent.Not(inner), nil
	}
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("the query ends where a term was expected")
	}
	t := p.toks[p.i]
	switch {
	case t.kind == tokLParen:
		p.i++
		inner, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.i >= len(p.toks) || p.toks[p.i].kind != tokRParen {
			return nil, fmt.Errorf("missing \")\"")
		}
		p.i++
		return inner, nil
	case t.kind == tokRParen:
		return nil, fmt.Errorf("unexpected \")\"")
	case t.field == "":
		return nil, fmt.Errorf("unexpected %q where a term was expected", t.text)
	}
	p.i++
	if p.terms++; p.terms > maxLogTerms {
		return nil, fmt.Errorf("at most %d terms", maxLogTerms)
	}
	if (t.wildcard && t.text != "") || t.field == "description" {
		if p.scans++; p.scans > maxLogScanTerms {
			return nil, fmt.Errorf("at most %d prefix (*) or description terms", maxLogScanTerms)
		}
	}
	return logTerm(t)
}

// logTerm is one field:value term's predicate.
func logTerm(t logTok) (predicate.LogEvent, error) {
	col, ok := logSearchColumns[t.field]
	if !ok {
		return nil, fmt.Errorf("%q is not a searchable field", t.field)
	}
	if t.field == "date" {
		return dateTerm(t)
	}
	if t.rng != nil {
		if t.field != "log_id" {
			return nil, fmt.Errorf("ranges are supported on date and log_id only")
		}
		var preds []predicate.LogEvent
		if t.rng.lo != "*" {
			preds = append(preds, cmp(col, t.rng.lo, t.rng.loIncl, true))
		}
		if t.rng.hi != "*" {
			preds = append(preds, cmp(col, t.rng.hi, t.rng.hiIncl, false))
		}
		return logevent.And(append(preds, predicate.LogEvent(sql.FieldNotNull(col)))...), nil
	}
	switch {
	case t.wildcard && t.text == "":
		// field:* — the event has the field.
		return logevent.And(predicate.LogEvent(sql.FieldNotNull(col)), predicate.LogEvent(sql.FieldNEQ(col, ""))), nil
	case t.wildcard:
		return hasPrefix(col, t.text), nil
	case t.field == "description":
		// Descriptions are text: a term matches the words it contains.
		return contains(col, t.text), nil
	}
	return predicate.LogEvent(sql.FieldEQ(col, t.text)), nil
}

func cmp(col, v string, incl, lower bool) predicate.LogEvent {
	switch {
	case lower && incl:
		return predicate.LogEvent(sql.FieldGTE(col, v))
	case lower:
		return predicate.LogEvent(sql.FieldGT(col, v))
	case incl:
		return predicate.LogEvent(sql.FieldLTE(col, v))
	}
	return predicate.LogEvent(sql.FieldLT(col, v))
}

// hasPrefix is a case-sensitive prefix match on both dialects (SQLite's
// LIKE ignores ASCII case; Auth0's fields are case sensitive).
func hasPrefix(col, prefix string) predicate.LogEvent {
	n := utf8.RuneCountInString(prefix)
	return func(s *sql.Selector) {
		s.Where(sql.P(func(b *sql.Builder) {
			b.WriteString("substr(").Ident(s.C(col)).WriteString(", 1, " + strconv.Itoa(n) + ") = ").Arg(prefix)
		}))
	}
}

// contains is a case-sensitive substring match on both dialects.
func contains(col, sub string) predicate.LogEvent {
	return func(s *sql.Selector) {
		s.Where(sql.P(func(b *sql.Builder) {
			if b.Dialect() == dialect.Postgres {
				b.WriteString("strpos(").Ident(s.C(col)).WriteString(", ").Arg(sub).WriteString(") > 0")
				return
			}
			b.WriteString("instr(").Ident(s.C(col)).WriteString(", ").Arg(sub).WriteString(") > 0")
		}))
	}
}

// dateTerm: date:YYYY-MM-DD is that UTC day; a range takes days or RFC 3339
// times, a day bound covering the whole day on its inclusive side.
func dateTerm(t logTok) (predicate.LogEvent, error) {
	if t.wildcard {
		return nil, fmt.Errorf("date does not take wildcards")
	}
	if t.rng == nil {
		day, err := time.Parse(time.DateOnly, t.text)
		if err != nil {
			return nil, fmt.Errorf("date must be YYYY-MM-DD, or a range [from TO to]")
		}
		return logevent.And(logevent.DateGTE(day.Local()), logevent.DateLT(day.AddDate(0, 0, 1).Local())), nil
	}
	var preds []predicate.LogEvent
	if t.rng.lo != "*" {
		at, day, err := parseLogTime(t.rng.lo)
		if err != nil {
			return nil, err
		}
		switch {
		case day && !t.rng.loIncl: // {2026-12-01: after that day
			preds = append(preds, logevent.DateGTE(at.AddDate(0, 0, 1).Local()))
		case t.rng.loIncl:
			preds = append(preds, logevent.DateGTE(at.Local()))
		default:
			preds = append(preds, logevent.DateGT(at.Local()))
		}
	}
	if t.rng.hi != "*" {
		at, day, err := parseLogTime(t.rng.hi)
		if err != nil {
			return nil, err
		}
		switch {
		case day && t.rng.hiIncl: // 2026-12-06]: through that day
			preds = append(preds, logevent.DateLT(at.AddDate(0, 0, 1).Local()))
		case t.rng.hiIncl:
			preds = append(preds, logevent.DateLTE(at.Local()))
		default:
			preds = append(preds, logevent.DateLT(at.Local()))
		}
	}
	if len(preds) == 0 {
		return predicate.LogEvent(sql.FieldNotNull(logevent.FieldDate)), nil
	}
	return logevent.And(preds...), nil
}

// parseLogTime reads a day (YYYY-MM-DD, UTC) or an RFC 3339 time.
func parseLogTime(v string) (t time.Time, day bool, err error) {
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		return d, true, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, false, nil
	}
	return time.Time{}, false, fmt.Errorf("date bound %q is neither YYYY-MM-DD nor an RFC 3339 time", v)
}
