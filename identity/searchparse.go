package identity

import (
	"fmt"
	"strings"
	"unicode"
)

// The user-search language (docs/SEARCH.md) is read in two steps: lex turns
// the query into tokens that remember their 1-based character column, and
// the parser builds an AST of and/or/not nodes over terms. searchsql.go
// turns the AST into SQL. Every syntax error names the column it found.

// node is a parsed query: *andNode, *orNode, *notNode or *termNode.
type node interface{}

type andNode struct{ kids []node }
type orNode struct{ kids []node }
type notNode struct{ kid node }

// termKind is what a term's value asks for.
type termKind int

const (
	kindExact  termKind = iota // name:jo, name:"Jo Doe"
	kindPrefix                 // name:jo*
	kindSuffix                 // name:*son
	kindRange                  // name:[a TO b}
	kindExists                 // _exists_:name, name:*
)

// termNode is one field:value.
type termNode struct {
	field  string   // as written before the colon, escapes resolved
	path   []string // field split at unescaped dots, escapes resolved
	pos    int      // column of the field
	vpos   int      // column of the value
	kind   termKind
	value  string // exact, prefix, suffix: the text without its wildcard
	raw    string // the value as written, escapes kept
	quoted bool
	lo, hi bound // kindRange
}

// bound is one end of a range.
type bound struct {
	value  string
	quoted bool
	open   bool // *
	incl   bool // [ or ]
}

type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tAnd
	tOr
	tNot  // NOT, -, !
	tPlus // +, a required term: the same as none under AND
	tTerm
)

type token struct {
	kind tokKind
	pos  int    // 1-based column
	text string // as written, for messages
	term *termNode
}

// syntaxError is the ValidationError of a query that cannot be read.
func syntaxError(pos int, format string, args ...any) error {
	return invalid("query", "%s at position %d", fmt.Sprintf(format, args...), pos)
}

// endsWord reports whether r ends a bare word: a value, field or keyword.
func endsWord(r rune) bool { return unicode.IsSpace(r) || r == '(' || r == ')' }

type lexer struct {
	rs   []rune
	i    int
	toks []token
}

func lex(q string) ([]token, error) {
	l := &lexer{rs: []rune(q)}
	for {
		for l.i < len(l.rs) && unicode.IsSpace(l.rs[l.i]) {
			l.i++
		}
		if l.i >= len(l.rs) {
			l.toks = append(l.toks, token{kind: tEOF, pos: l.i + 1, text: "end of query"})
			return l.toks, nil
		}
		start, r := l.i, l.rs[l.i]
		switch r {
		case '(':
			l.emit(tLParen, start, "(")
			continue
		case ')':
			l.emit(tRParen, start, ")")
			continue
		}
		end := start
		for end < len(l.rs) && !endsWord(l.rs[end]) {
			end++
		}
		switch word := string(l.rs[start:end]); word {
		case "AND", "&&":
			l.i = end
			l.toks = append(l.toks, token{kind: tAnd, pos: start + 1, text: word})
			continue
		case "OR", "||":
			l.i = end
			l.toks = append(l.toks, token{kind: tOr, pos: start + 1, text: word})
			continue
		case "NOT":
			l.i = end
			l.toks = append(l.toks, token{kind: tNot, pos: start + 1, text: word})
			continue
		}
		if r == '-' || r == '!' || r == '+' {
			if start+1 >= len(l.rs) || unicode.IsSpace(l.rs[start+1]) || l.rs[start+1] == ')' {
				return nil, syntaxError(start+1, "unexpected %q", string(r))
			}
			if r == '+' {
				l.emit(tPlus, start, "+")
			} else {
				l.emit(tNot, start, string(r))
			}
			continue
		}
		t, err := l.term()
		if err != nil {
			return nil, err
		}
		l.toks = append(l.toks, token{kind: tTerm, pos: start + 1, text: string(l.rs[start:l.i]), term: t})
	}
}

func (l *lexer) emit(k tokKind, start int, text string) {
	l.toks = append(l.toks, token{kind: k, pos: start + 1, text: text})
	l.i = start + len([]rune(text))
}

// term reads field:value at l.i.
func (l *lexer) term() (*termNode, error) {
	t := &termNode{pos: l.i + 1}
	var field strings.Builder
	var path []string
	var seg strings.Builder
	for {
		if l.i >= len(l.rs) || endsWord(l.rs[l.i]) || l.rs[l.i] == '"' {
			if l.i < len(l.rs) && l.rs[l.i] == '"' && field.Len() == 0 {
				return nil, syntaxError(l.i+1, "a quoted value needs a field (field:\"…\"; bare terms are not supported)")
			}
			end := l.i
			for end < len(l.rs) && !endsWord(l.rs[end]) {
				end++
			}
			return nil, syntaxError(t.pos, "%q must be field:value (bare terms are not supported)", string(l.rs[t.pos-1:end]))
		}
		r := l.rs[l.i]
		if r == '\\' && l.i+1 < len(l.rs) {
			l.i++
			field.WriteRune(l.rs[l.i])
			seg.WriteRune(l.rs[l.i])
			l.i++
			continue
		}
		if r == ':' {
			break
		}
		field.WriteRune(r)
		if r == '.' {
			path = append(path, seg.String())
			seg.Reset()
		} else {
			seg.WriteRune(r)
		}
		l.i++
	}
	if field.Len() == 0 {
		return nil, syntaxError(l.i+1, "expected a field name before \":\"")
	}
	t.field, t.path = field.String(), append(path, seg.String())
	l.i++ // the colon
	t.vpos = l.i + 1
	if l.i >= len(l.rs) || endsWord(l.rs[l.i]) {
		if l.i < len(l.rs) && l.rs[l.i] == '(' {
			return nil, syntaxError(t.vpos, "field groups such as %s:(a OR b) are not supported", t.field)
		}
		return nil, syntaxError(t.vpos, "%s: the value is empty", t.field)
	}
	switch l.rs[l.i] {
	case '"':
		v, err := l.phrase()
		if err != nil {
			return nil, err
		}
		t.value, t.quoted = v, true
	case '[', '{':
		if err := l.rangeValue(t); err != nil {
			return nil, err
		}
	default:
		v, stars, err := l.bare(func(r rune) bool { return endsWord(r) })
		if err != nil {
			return nil, err
		}
		t.value = v
		if err := wildcard(t, stars); err != nil {
			return nil, err
		}
	}
	if l.i < len(l.rs) && !endsWord(l.rs[l.i]) {
		return nil, syntaxError(l.i+1, "unexpected %q", string(l.rs[l.i]))
	}
	t.raw = string(l.rs[t.vpos-1 : l.i])
	return t, nil
}

// phrase reads a double-quoted string at l.i; \ escapes the next character.
func (l *lexer) phrase() (string, error) {
	open := l.i
	l.i++
	var b strings.Builder
	for l.i < len(l.rs) {
		r := l.rs[l.i]
		switch {
		case r == '\\' && l.i+1 < len(l.rs):
			b.WriteRune(l.rs[l.i+1])
			l.i += 2
		case r == '"':
			l.i++
			return b.String(), nil
		default:
			b.WriteRune(r)
			l.i++
		}
	}
	return "", syntaxError(open+1, "unterminated quote")
}

// bare reads an unquoted value up to a rune stop accepts; \ escapes the
// next character. stars are the offsets (in runes of the result) of the
// unescaped * wildcards.
func (l *lexer) bare(stop func(rune) bool) (v string, stars []int, err error) {
	var b []rune
	for l.i < len(l.rs) && !stop(l.rs[l.i]) {
		r := l.rs[l.i]
		switch {
		case r == '\\' && l.i+1 < len(l.rs):
			b = append(b, l.rs[l.i+1])
			l.i += 2
			continue
		case r == '"':
			return "", nil, syntaxError(l.i+1, "unexpected %q (quote the whole value)", `"`)
		case r == '*':
			stars = append(stars, len(b))
		}
		b = append(b, r)
		l.i++
	}
	return string(b), stars, nil
}

// wildcard sets t.kind from the unescaped * in t.value: jo* is a prefix,
// *son a suffix (at least 3 other characters, as Auth0 asks), * alone
// "the field exists". Any other * is refused.
func wildcard(t *termNode, stars []int) error {
	rs := []rune(t.value)
	switch {
	case len(stars) == 0:
		return nil
	case len(rs) == 1:
		t.kind, t.value = kindExists, ""
		return nil
	case len(stars) == 1 && stars[0] == len(rs)-1:
		t.kind, t.value = kindPrefix, string(rs[:len(rs)-1])
		return nil
	case len(stars) == 1 && stars[0] == 0:
		if len(rs) < 4 {
			return syntaxError(t.vpos, "%s: a leading * needs at least 3 more characters", t.field)
		}
		t.kind, t.value = kindSuffix, string(rs[1:])
		return nil
	}
	return syntaxError(t.vpos, "%s: only a leading or a trailing * is supported (escape a literal * as \\*)", t.field)
}

// rangeValue reads [lo TO hi], {lo TO hi} or a mix; * is an open end.
func (l *lexer) rangeValue(t *termNode) error {
	open := l.i
	t.kind = kindRange
	t.lo.incl = l.rs[l.i] == '['
	l.i++
	stop := func(r rune) bool { return unicode.IsSpace(r) || r == ']' || r == '}' }
	readBound := func() (bound, error) {
		l.skipSpace()
		if l.i >= len(l.rs) {
			return bound{}, syntaxError(open+1, "unterminated range")
		}
		at := l.i + 1
		if l.rs[l.i] == '"' {
			v, err := l.phrase()
			return bound{value: v, quoted: true}, err
		}
		v, stars, err := l.bare(stop)
		if err != nil {
			return bound{}, err
		}
		switch {
		case v == "":
			return bound{}, syntaxError(at, "expected a range bound")
		case v == "*" && len(stars) == 1:
			return bound{open: true}, nil
		case len(stars) > 0:
			return bound{}, syntaxError(at, "range bounds take no wildcards (escape a literal * as \\*)")
		}
		return bound{value: v}, nil
	}
	var err error
	if t.lo, err = readBound(); err != nil {
		return err
	}
	t.lo.incl = l.rs[open] == '['
	l.skipSpace()
	if l.i+2 > len(l.rs) || string(l.rs[l.i:l.i+2]) != "TO" || (l.i+2 < len(l.rs) && !unicode.IsSpace(l.rs[l.i+2])) {
		if l.i >= len(l.rs) {
			return syntaxError(open+1, "unterminated range")
		}
		return syntaxError(l.i+1, "expected TO in the range")
	}
	l.i += 2
	if t.hi, err = readBound(); err != nil {
		return err
	}
	l.skipSpace()
	if l.i >= len(l.rs) {
		return syntaxError(open+1, "unterminated range")
	}
	switch l.rs[l.i] {
	case ']':
		t.hi.incl = true
	case '}':
	default:
		return syntaxError(l.i+1, "unexpected %q in the range", string(l.rs[l.i]))
	}
	l.i++
	return nil
}

func (l *lexer) skipSpace() {
	for l.i < len(l.rs) && unicode.IsSpace(l.rs[l.i]) {
		l.i++
	}
}

// parser is recursive descent over the tokens:
//
//	or    = and { OR and }
//	and   = unary { [AND] unary }
//	unary = (NOT | - | ! | +) unary | "(" or ")" | term
type parser struct {
	toks   []token
	pos    int
	fields []string
}

const maxDepth = 10

func (p *parser) peek() token { return p.toks[p.pos] }

func unexpected(t token) error {
	if t.kind == tEOF {
		return syntaxError(t.pos, "unexpected end of query")
	}
	return syntaxError(t.pos, "unexpected %q", t.text)
}

func (p *parser) or(depth int) (node, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	kids := []node{left}
	for p.peek().kind == tOr {
		p.pos++
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, right)
	}
	if len(kids) == 1 {
		return left, nil
	}
	return &orNode{kids}, nil
}

func (p *parser) and(depth int) (node, error) {
	first, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	kids := []node{first}
	for {
		switch p.peek().kind {
		case tEOF, tOr, tRParen:
			if len(kids) == 1 {
				return first, nil
			}
			return &andNode{kids}, nil
		case tAnd:
			p.pos++
		}
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
}

func (p *parser) unary(depth int) (node, error) {
	t := p.peek()
	if depth > maxDepth {
		return nil, syntaxError(t.pos, "the query nests deeper than %d levels", maxDepth)
	}
	switch t.kind {
	case tNot:
		p.pos++
		inner, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &notNode{inner}, nil
	case tPlus:
		p.pos++
		return p.unary(depth + 1)
	case tLParen:
		p.pos++
		inner, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tRParen {
			if p.peek().kind == tEOF {
				return nil, syntaxError(t.pos, "missing ) for the (")
			}
			return nil, unexpected(p.peek())
		}
		p.pos++
		return inner, nil
	case tTerm:
		p.pos++
		if !containsString(p.fields, t.term.field) {
			p.fields = append(p.fields, t.term.field)
		}
		return t.term, nil
	}
	return nil, unexpected(t)
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// parse reads a whole query; nil for a blank one.
func parse(q string) (node, []string, error) {
	toks, err := lex(q)
	if err != nil {
		return nil, nil, err
	}
	if toks[0].kind == tEOF {
		return nil, nil, nil
	}
	p := &parser{toks: toks}
	n, err := p.or(0)
	if err != nil {
		return nil, nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, nil, unexpected(t)
	}
	return n, p.fields, nil
}
