package rules

// Custom-database scripts in JavaScript (docs/CUSTOM_DATABASE.md,
// "JavaScript scripts"): one Auth0 script per operation, a function such as
// function login(email, password, callback) {…}. The wrapper makes the
// source a single function expression, so the function's name is free (Auth0's
// templates call them loginByEmail, getByEmail, remove…), and hands it the
// script's require and configuration; js/customdb.js calls it with the
// operation's arguments and turns the callback into the result JSON of
// WebAssembly scripts.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/authgraph/authgraph/rules/jsvm"
)

// ScriptOps are the custom-database operations and the parameters of each
// one's function, callback included, in Auth0's order.
var ScriptOps = map[string][]string{
	"login":           {"email", "password", "callback"},
	"get_user":        {"email", "callback"},
	"create":          {"user", "callback"},
	"verify":          {"email", "callback"},
	"change_password": {"email", "newPassword", "callback"},
	"delete":          {"id", "callback"},
	"change_email":    {"email", "newEmail", "verified", "callback"},
}

// ScriptModules are what a JavaScript script may require (a version suffix,
// as in 'bcrypt@0.8.5', is ignored): shims of Auth0's modules over the
// connection's database and the host's bcrypt (js/customdb.js).
var ScriptModules = []string{"bcrypt", "mysql", "pg"}

// ErrInvalidScript is wrapped by every refusal of ValidateScriptJavaScript,
// with ErrInvalidModule as for the refusals of rules.
var ErrInvalidScript = errors.New("invalid custom-database script")

// scriptError is a refusal: its message alone (the caller names the
// script), matching ErrInvalidScript, ErrInvalidModule and its cause (a
// *jsvm.SyntaxError gives the line and column).
type scriptError struct {
	msg   string
	cause error
}

func (e *scriptError) Error() string { return e.msg }

func (e *scriptError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrInvalidScript, ErrInvalidModule}
	}
	return []error{ErrInvalidScript, ErrInvalidModule, e.cause}
}

func refuse(format string, args ...any) error {
	return &scriptError{msg: fmt.Sprintf(format, args...)}
}

// scriptWrap makes a script's source a factory (require, console,
// configuration, db, bcrypt) → the script's function, whatever op. The
// prefix has no newline, so positions in syntax errors are the source's
// own. Scripts run in sloppy mode, as Auth0's do.
func scriptWrap(string) jsvm.Wrap {
	return jsvm.Wrap{Prefix: "(function (require, console, configuration, db, bcrypt) { return (", Suffix: "\n); })"}
}

// ScriptSource is the source as it is compiled: without the trailing
// semicolons and blanks a function declaration may end with, which would
// not fit in the wrapper's expression. Validation and runs use it alike.
func ScriptSource(source string) string {
	return strings.TrimRight(source, " \t\r\n;")
}

// ValidateScriptJavaScript checks a JavaScript custom-database script for op
// at upload: syntax (a *jsvm.SyntaxError with the line and column, wrapped),
// shape (one function taking the operation's arguments and the callback),
// and that it requires only ScriptModules. It never runs the script.
func (e *Engine) ValidateScriptJavaScript(ctx context.Context, op, source string) error {
	params, ok := ScriptOps[op]
	if !ok {
		return refuse("%q is not an operation", op)
	}
	src := ScriptSource(source)
	if strings.TrimSpace(src) == "" {
		return refuse("the script is empty")
	}
	if err := e.checkJSSize(src); err != nil {
		return &scriptError{msg: err.Error(), cause: err}
	}
	if err := e.compileScriptJS(ctx, op, src); err != nil {
		var se *jsvm.SyntaxError
		switch {
		case errors.As(err, &se):
			return &scriptError{msg: "syntax error at " + se.Error(), cause: se}
		case errors.Is(err, ErrInvalidModule): // the compiler gave up on it
			return &scriptError{msg: err.Error(), cause: err}
		}
		return err // the runtime's failure, not the script's
	}
	return checkScriptShape(op, params, src)
}

// checkScriptShape checks, without running it, that src is one function of
// len(params) parameters requiring only ScriptModules.
func checkScriptShape(op string, params []string, src string) error {
	want := fmt.Sprintf("function %s(%s) {…}", op, strings.Join(params, ", "))
	n, variadic, ok := functionParams(src)
	if !ok {
		return refuse("the script must be one function: %s", want)
	}
	if n != len(params) && !(variadic && n <= len(params)) {
		return refuse("the function takes %d parameters; the %s script's takes %d: %s", n, op, len(params), want)
	}
	for _, r := range requires(src) {
		name := r.name
		if at := strings.LastIndex(name, "@"); at > 0 {
			name = name[:at]
		}
		name = strings.TrimPrefix(name, "node:")
		if !slices.Contains(ScriptModules, name) && !slices.Contains(jsRequireAllowlist, name) {
			return refuse("line %d, column %d: require('%s'): scripts may require only %s (the database is the connection's, through pg or mysql)",
				r.line, r.col, r.name, strings.Join(append(slices.Clone(ScriptModules), jsRequireAllowlist...), ", "))
		}
	}
	return nil
}

// functionParams reads the parameter list of the function src starts with
// (after comments): function [name](…), async function, or an arrow
// function (…) => …. It counts the top-level parameters; variadic reports a
// rest parameter.
func functionParams(src string) (n int, variadic, ok bool) {
	s := stripLeadingComments(src)
	s = strings.TrimPrefix(s, "async ")
	s = strings.TrimLeft(s, " \t\r\n")
	if rest, found := strings.CutPrefix(s, "function"); found {
		s = strings.TrimLeft(rest, " \t\r\n*")
		i := strings.IndexByte(s, '(')
		if i < 0 {
			return 0, false, false
		}
		name := strings.TrimSpace(s[:i])
		if strings.ContainsAny(name, " \t\r\n{}=;") {
			return 0, false, false
		}
		s = s[i:]
	}
	if !strings.HasPrefix(s, "(") {
		return 0, false, false
	}
	depth, start := 0, 1
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"', '`':
			quote = c
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth == 0 {
				p := strings.TrimSpace(s[start:i])
				if p != "" { // else empty, or a trailing comma
					n++
					variadic = variadic || strings.HasPrefix(p, "...")
				}
				return n, variadic, true
			}
		case ',':
			if depth == 1 {
				p := strings.TrimSpace(s[start:i])
				n++
				variadic = variadic || strings.HasPrefix(p, "...")
				start = i + 1
			}
		}
	}
	return 0, false, false
}

type requireCall struct {
	name      string
	line, col int
}

// requires lists the require('literal') calls of src, outside comments and
// strings. A require of a computed name is left to run time, where the
// script's require refuses anything but ScriptModules.
func requires(src string) []requireCall {
	var out []requireCall
	line, col := 1, 1
	advance := func(b byte) {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				advance(src[i])
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			stop := len(src)
			if end >= 0 {
				stop = i + 2 + end + 2
			}
			for ; i < stop; i++ {
				advance(src[i])
			}
		case c == '\'' || c == '"' || c == '`':
			advance(c)
			i++
			for i < len(src) && src[i] != c {
				if src[i] == '\\' && i+1 < len(src) {
					advance(src[i])
					i++
				}
				advance(src[i])
				i++
			}
			if i < len(src) {
				advance(src[i])
				i++
			}
		case strings.HasPrefix(src[i:], "require") && (i == 0 || !isScriptIdentByte(src[i-1])) &&
			(i+7 == len(src) || !isScriptIdentByte(src[i+7])):
			l, cl := line, col
			j := i + 7
			for j < len(src) && strings.IndexByte(" \t\r\n", src[j]) >= 0 {
				j++
			}
			if j < len(src) && src[j] == '(' {
				k := j + 1
				for k < len(src) && strings.IndexByte(" \t\r\n", src[k]) >= 0 {
					k++
				}
				if k < len(src) && (src[k] == '\'' || src[k] == '"' || src[k] == '`') {
					q := src[k]
					if end := strings.IndexByte(src[k+1:], q); end >= 0 {
						out = append(out, requireCall{name: src[k+1 : k+1+end], line: l, col: cl})
					}
				}
			}
			for ; i < j; i++ {
				advance(src[i])
			}
		default:
			advance(c)
			i++
		}
	}
	return out
}

func isScriptIdentByte(b byte) bool {
	return b == '_' || b == '$' || b == '.' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// compileScriptJS compiles src in the script wrapper (syntax only): a
// syntax error is a *jsvm.SyntaxError with the line and column.
func (e *Engine) compileScriptJS(ctx context.Context, op, src string) error {
	vm, err := e.jsVM(ctx, true)
	if err != nil {
		return err
	}
	_, err = vm.Compile(ctx, op+".js", src, scriptWrap(op))
	var se *jsvm.SyntaxError
	if errors.As(err, &se) {
		return se
	}
	if err != nil {
		return jsCompileError(err)
	}
	return nil
}
