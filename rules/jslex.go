package rules

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// A small JavaScript tokenizer, enough for the checks at upload
// (jsvalidate.go) to see code as code: comments, string and template
// contents and regular expressions cannot fake or hide a require() or an
// export. It does not validate: the runtime's compiler reports syntax
// errors.

type jsTokKind int

const (
	jsIdent jsTokKind = iota
	jsString
	jsTemplate
	jsNumber
	jsRegexp
	jsPunct
)

type jsToken struct {
	kind jsTokKind
	text string // identifier, punctuator, or a string literal's value
	line int    // 1-based
	col  int    // 1-based, in characters
}

type jsLexer struct {
	src       string
	pos       int
	line, col int
	toks      []jsToken
	// braces holds, for every open '{' or '${', whether it opened a
	// template substitution, so that its '}' resumes the template.
	braces []bool
}

func jsTokenize(src string) []jsToken {
	lx := &jsLexer{src: src, line: 1, col: 1}
	lx.run()
	return lx.toks
}

func (lx *jsLexer) next() rune {
	r, n := utf8.DecodeRuneInString(lx.src[lx.pos:])
	lx.pos += n
	if r == '\n' {
		lx.line, lx.col = lx.line+1, 1
	} else {
		lx.col++
	}
	return r
}

func (lx *jsLexer) peek(off int) byte {
	if lx.pos+off < len(lx.src) {
		return lx.src[lx.pos+off]
	}
	return 0
}

func (lx *jsLexer) emit(k jsTokKind, text string, line, col int) {
	lx.toks = append(lx.toks, jsToken{kind: k, text: text, line: line, col: col})
}

func (lx *jsLexer) run() {
	for lx.pos < len(lx.src) {
		c := lx.peek(0)
		line, col := lx.line, lx.col
		switch {
		case c == '/' && lx.peek(1) == '/':
			for lx.pos < len(lx.src) && lx.peek(0) != '\n' {
				lx.next()
			}
		case c == '/' && lx.peek(1) == '*':
			lx.next()
			lx.next()
			for lx.pos < len(lx.src) && !(lx.peek(0) == '*' && lx.peek(1) == '/') {
				lx.next()
			}
			lx.next()
			lx.next()
		case c == '\'' || c == '"':
			lx.emit(jsString, lx.str(rune(c)), line, col)
		case c == '`':
			lx.next()
			lx.template(line, col)
		case c == '/' && lx.regexAllowed():
			lx.regexp()
			lx.emit(jsRegexp, "", line, col)
		case c >= '0' && c <= '9' || c == '.' && lx.peek(1) >= '0' && lx.peek(1) <= '9':
			start := lx.pos
			for lx.pos < len(lx.src) && (isIdentByte(lx.peek(0)) || lx.peek(0) == '.') {
				lx.next()
			}
			lx.emit(jsNumber, lx.src[start:lx.pos], line, col)
		default:
			r, _ := utf8.DecodeRuneInString(lx.src[lx.pos:])
			switch {
			case unicode.IsSpace(r) || r == '\ufeff':
				lx.next()
			case r == '$' || r == '_' || r == '\\' || unicode.IsLetter(r):
				start := lx.pos
				for lx.pos < len(lx.src) {
					r, _ := utf8.DecodeRuneInString(lx.src[lx.pos:])
					if !(r == '$' || r == '_' || r == '\\' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
						break
					}
					lx.next()
				}
				lx.emit(jsIdent, lx.src[start:lx.pos], line, col)
			case r == '{':
				lx.next()
				lx.braces = append(lx.braces, false)
				lx.emit(jsPunct, "{", line, col)
			case r == '}':
				lx.next()
				if n := len(lx.braces); n > 0 {
					tmpl := lx.braces[n-1]
					lx.braces = lx.braces[:n-1]
					if tmpl {
						lx.template(line, col)
						continue
					}
				}
				lx.emit(jsPunct, "}", line, col)
			case r == '=' && (lx.peek(1) == '=' || lx.peek(1) == '>'):
				lx.next()
				lx.next()
				lx.emit(jsPunct, lx.src[lx.pos-2:lx.pos], line, col)
			default:
				lx.next()
				lx.emit(jsPunct, string(r), line, col)
			}
		}
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// str reads a quoted string literal and returns its value (common escapes
// decoded; enough to name a module).
func (lx *jsLexer) str(q rune) string {
	lx.next()
	var b strings.Builder
	for lx.pos < len(lx.src) {
		r := lx.next()
		switch r {
		case q:
			return b.String()
		case '\n':
			return b.String() // unterminated: the compiler reports it
		case '\\':
			if lx.pos < len(lx.src) {
				e := lx.next()
				switch e {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case '\n':
				default:
					b.WriteRune(e)
				}
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// template reads a template literal's text up to its end or to a '${',
// whose closing brace resumes it.
func (lx *jsLexer) template(line, col int) {
	for lx.pos < len(lx.src) {
		c := lx.peek(0)
		switch {
		case c == '\\':
			lx.next()
			lx.next()
		case c == '`':
			lx.next()
			lx.emit(jsTemplate, "", line, col)
			return
		case c == '$' && lx.peek(1) == '{':
			lx.next()
			lx.next()
			lx.emit(jsTemplate, "", line, col)
			lx.braces = append(lx.braces, true)
			return
		default:
			lx.next()
		}
	}
}

func (lx *jsLexer) regexp() {
	lx.next()
	class := false
	for lx.pos < len(lx.src) {
		c := lx.peek(0)
		switch {
		case c == '\\':
			lx.next()
		case c == '[':
			class = true
		case c == ']':
			class = false
		case c == '\n':
			return
		case c == '/' && !class:
			lx.next()
			for lx.pos < len(lx.src) && isIdentByte(lx.peek(0)) {
				lx.next()
			}
			return
		}
		lx.next()
	}
}

// regexAllowed tells a regular expression from a division by the token
// before the slash.
func (lx *jsLexer) regexAllowed() bool {
	if len(lx.toks) == 0 {
		return true
	}
	t := lx.toks[len(lx.toks)-1]
	switch t.kind {
	case jsNumber, jsString, jsTemplate, jsRegexp:
		return false
	case jsIdent:
		switch t.text {
		case "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else", "yield", "await":
			return true
		}
		return false
	}
	return t.text != ")" && t.text != "]" && t.text != "}"
}
