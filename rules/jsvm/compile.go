package jsvm

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
)

// Program is compiled untrusted source: QuickJS bytecode of its wrapped
// form, evaluated (to its factory) once per runtime that runs it.
type Program struct {
	Name     string
	id       uint64
	bytecode []byte
}

// compileTimeout bounds one compilation (the host's work, not a call's).
const compileTimeout = 10 * time.Second

// Compile checks and compiles source wrapped by wrap into a Program named
// name (the file name in stack traces). It never runs the source. Errors in
// the source are *SyntaxError, positioned in source.
func (vm *VM) Compile(ctx context.Context, name, source string, wrap Wrap) (*Program, error) {
	if vm.isClosed() {
		return nil, ErrClosed
	}
	if strings.ContainsRune(wrap.Prefix, '\n') {
		return nil, errors.New("jsvm: Wrap.Prefix must not contain a newline")
	}
	if i := strings.IndexByte(source, 0); i >= 0 {
		line, col := position(source, i)
		return nil, &SyntaxError{Message: "the source contains a NUL character", Line: line, Column: col}
	}
	if i := dynamicImport(source); i >= 0 {
		line, col := position(source, i)
		return nil, &SyntaxError{Message: "import() is not available: modules are loaded with require()", Line: line, Column: col}
	}
	if i := htmlComment(source); i >= 0 {
		line, col := position(source, i)
		return nil, &SyntaxError{Message: "HTML-like comments (<!-- and -->) are not allowed: use // or /* */", Line: line, Column: col}
	}
	vm.compileMu.Lock()
	defer vm.compileMu.Unlock()
	if vm.compiler == nil {
		r, err := vm.newRuntime(ctx, false)
		if err != nil {
			return nil, err
		}
		vm.compiler = r
	}
	r := vm.compiler
	var code []byte
	err := r.guard(ctx, compileTimeout, func() error {
		var err error
		code, err = r.q.compile(name, wrap.Prefix+source+wrap.Suffix)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrThrown) {
			r.broken = false // an exception: the compiler is intact
		}
		if r.broken {
			r.close()
			vm.compiler = nil
		}
		var se *SyntaxError
		if errors.As(err, &se) || !errors.Is(err, ErrThrown) {
			return nil, err
		}
		se = syntaxError(err, len(wrap.Prefix), source)
		refineColumn(se, wrap, source)
		return nil, se
	}
	if err := checkWrapped(wrap, source); err != nil {
		return nil, err
	}
	return &Program{Name: name, id: vm.programs.Add(1), bytecode: code}, nil
}

// checkWrapped verifies that the source stayed inside its wrapper: the
// wrapped text must be one expression statement, a function expression. A
// source that closes the wrapper early (`}); let stash = []; (function () {`)
// would otherwise declare bindings in the runtime's global scope, which the
// lockdown cannot freeze and which outlive the call, shared by every program
// the runtime runs. goja's parser is the second opinion; what it cannot
// parse (async generator methods in object literals) is refused rather than
// run unchecked. It does not know for-await loops: it reads them as
// for-of loops (forAwaitForGoja).
func checkWrapped(wrap Wrap, source string) error {
	prog, err := parser.ParseFile(nil, "", forAwaitForGoja(wrap.Prefix+source+wrap.Suffix), 0)
	if err != nil {
		se := &SyntaxError{Message: "not supported by the upload check: " + err.Error(), Line: 1, Column: 1}
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			se.Message = "not supported by the upload check: " + list[0].Message
			se.Line, se.Column = list[0].Position.Line, list[0].Position.Column
			if se.Line == 1 {
				se.Column = max(se.Column-len(wrap.Prefix), 1)
			}
		}
		return se
	}
	if len(prog.Body) == 1 {
		if st, ok := prog.Body[0].(*ast.ExpressionStatement); ok {
			if _, ok := st.Expression.(*ast.FunctionLiteral); ok {
				return nil
			}
		}
	}
	return &SyntaxError{Message: "the source must not close its enclosing function (unbalanced braces or parentheses)", Line: 1, Column: 1}
}

// forAwait is the token sequence `for await (`: the keyword for (not the
// end of a longer name, a member or private name: no letter, digit, _, $, \,
// . or # before it, nor any non-ASCII character), then await and (, with
// spaces or tabs only between them. Any other spacing (a line break, which
// could end a comment or a statement; other Unicode spaces) is left as
// written, and goja's parser then refuses the loop.
var forAwait = regexp.MustCompile(`(^|[^0-9A-Za-z_$\\.#\x{80}-\x{10FFFF}])for([ \t]+)await([ \t]*)\(`)

// forAwaitForGoja blanks the await of every `for await (` in the copy of the
// source goja's parser reads, so that a for-await loop reads as a for-of
// loop. The structure goja sees stays that of the source QuickJS runs: only
// the five letters between for and ( become spaces, on one line, so no
// quote, bracket, slash or line break is added or removed; where a match
// lies in a string, a comment, a regular expression or a template, only
// letters there become spaces. Lengths are kept, and so are the positions
// goja reports.
func forAwaitForGoja(s string) string {
	if !strings.Contains(s, "await") {
		return s
	}
	return forAwait.ReplaceAllString(s, "${1}for${2}     ${3}(")
}

// htmlComment returns the offset of "<!--" or "-->" in source, or -1.
// QuickJS honours these legacy comment forms in scripts, where other parsers
// (and the import() scan above) read code: refusing them keeps every check
// reading the same program. Like that scan, this one is conservative and
// also refuses them inside strings.
func htmlComment(source string) int {
	i, j := strings.Index(source, "<!--"), strings.Index(source, "-->")
	switch {
	case i < 0:
		return j
	case j < 0:
		return i
	}
	return min(i, j)
}

// A QuickJS syntax error reads "SyntaxError: message\n    at file:line:col".
var atPosition = regexp.MustCompile(`at [^\n]*?:(\d+):(\d+)`)

// syntaxError turns QuickJS's error into a *SyntaxError in the user's
// coordinates: the wrapper's prefix shares the first line.
func syntaxError(err error, prefixLen int, source string) *SyntaxError {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, ErrThrown.Error()+": ")
	head, rest, _ := strings.Cut(msg, "\n")
	head = strings.TrimPrefix(head, "SyntaxError: ")
	if i := strings.Index(head, " ("); i >= 0 && strings.HasPrefix(head[i+2:], "at ") {
		rest = head[i+2:] + "\n" + rest
		head = head[:i]
	}
	se := &SyntaxError{Message: head, Line: 1, Column: 1}
	if m := atPosition.FindStringSubmatch(rest); m != nil {
		se.Line, _ = strconv.Atoi(m[1])
		se.Column, _ = strconv.Atoi(m[2])
		if se.Line == 1 {
			se.Column -= prefixLen
		}
	}
	// An error in the suffix (an unclosed block, say) is at the source's end.
	if lines := strings.Count(source, "\n") + 1; se.Line > lines {
		se.Line, se.Column = position(source, len(source))
	}
	se.Column = max(se.Column, 1)
	return se
}

// refineColumn corrects se's column. QuickJS-NG reports a syntax error's
// line reliably but not its column (often that of an earlier token, or past
// the end of the line). goja's parser, an independent ECMAScript parser in
// pure Go, positions the same errors to the character; where it finds an
// error on the line QuickJS named, its column is used. Otherwise the column
// is kept when it lies on the line, else the line's first non-blank
// character is named rather than a position that does not exist.
func refineColumn(se *SyntaxError, wrap Wrap, source string) {
	_, err := parser.ParseFile(nil, "", forAwaitForGoja(wrap.Prefix+source+wrap.Suffix), 0)
	var list parser.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			line, col := e.Position.Line, e.Position.Column
			if line == 1 {
				col -= len(wrap.Prefix)
			}
			if line == se.Line && col >= 1 {
				se.Column = col
				return
			}
		}
	}
	text := lineText(source, se.Line)
	if se.Column > len(text)+1 {
		se.Column = 1 + len(text) - len(strings.TrimLeft(text, " \t"))
	}
}

// lineText returns line n (1-based) of s, without its newline.
func lineText(s string, n int) string {
	for ; n > 1; n-- {
		_, rest, ok := strings.Cut(s, "\n")
		if !ok {
			return ""
		}
		s = rest
	}
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSuffix(line, "\r")
}

// position returns the 1-based line and column (in bytes) of offset i.
func position(s string, i int) (line, col int) {
	line = 1 + strings.Count(s[:i], "\n")
	return line, i - strings.LastIndexByte(s[:i], '\n')
}

// dynamicImport returns the offset of a possible import() call in source, or
// -1. It errs on the side of refusing: it does not tokenize (a string could
// hide code from a tokenizer that guessed wrong about a regular expression),
// so "import" followed by "(" is refused even inside a string or a comment.
// Member names (.import, #import), longer identifiers and import followed by
// anything that cannot start a call are allowed.
func dynamicImport(source string) int {
	const kw = "import"
	for off := 0; ; {
		i := strings.Index(source[off:], kw)
		if i < 0 {
			return -1
		}
		i += off
		off = i + len(kw)
		if i > 0 {
			switch prev := source[i-1]; {
			case prev == '.' || prev == '#' || prev == '$' || prev == '_' || prev == '\\' || isASCIIAlnum(prev):
				continue
			}
		}
		if importCallFollows(source[off:]) {
			return i
		}
	}
}

// importCallFollows reports whether s (what follows "import") may continue
// as a call: "(" after whitespace and comments, or something this scan does
// not understand.
func importCallFollows(s string) bool {
	for len(s) > 0 {
		c := s[0]
		switch {
		case c == '(':
			return true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			s = s[1:]
		case strings.HasPrefix(s, "//"):
			j := strings.IndexAny(s, "\n\r")
			if j < 0 {
				return false
			}
			s = s[j:]
		case strings.HasPrefix(s, "/*"):
			j := strings.Index(s[2:], "*/")
			if j < 0 {
				return true
			}
			s = s[j+4:]
		case c >= 0x80:
			r, n := utf8.DecodeRuneInString(s)
			if unicode.IsSpace(r) || r == '\ufeff' {
				s = s[n:]
				continue
			}
			return true // an identifier character or something unusual
		case c == '\\':
			return true // an escape: \u0028 is not "(", but be safe
		default:
			return false
		}
	}
	return false
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// String names the program in errors.
func (p *Program) String() string {
	return fmt.Sprintf("%s (%d bytes of bytecode)", p.Name, len(p.bytecode))
}
