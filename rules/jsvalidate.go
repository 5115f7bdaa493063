package rules

import (
	"fmt"
	"slices"
	"strings"
)

// jsRequireAllowlist are the modules a JavaScript rule may require: pure
// helpers implemented by the prelude (js/00-common.js, ALLOWED), with
// Node's "node:" prefix allowed too. Keep the two lists in step.
var jsRequireAllowlist = []string{"querystring", "util"}

// JSShapeError is a JavaScript rule refused at upload for its shape rather
// than its syntax: a require() of a module that is not available, an
// Action that does not export onExecutePostLogin, a Rule that is not a
// function (user, context, callback). Line and Column (1-based) locate it
// in the source; errors.Is(err, ErrInvalidModule) holds.
type JSShapeError struct {
	Line, Column int
	Message      string
	kind         error
}

func (e *JSShapeError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
	}
	return e.Message
}

// Unwrap makes the error match ErrInvalidModule and its kind
// (ErrForbiddenImport or ErrMissingExport).
func (e *JSShapeError) Unwrap() []error { return []error{ErrInvalidModule, e.kind} }

// validateJSShape checks at upload what the runtime would only find out at
// a login: every literal require() names an available module, an Action
// assigns exports.onExecutePostLogin, a Rule is a function of three
// parameters. A require() with a computed name is left to fail at run
// time.
func validateJSShape(kind, source string) error {
	toks := jsTokenize(source)
	if err := checkRequires(toks); err != nil {
		return err
	}
	if kind == KindRule {
		return checkRuleFunction(toks)
	}
	return checkActionExport(toks)
}

func checkRequires(toks []jsToken) error {
	for i := 0; i+3 < len(toks); i++ {
		t := toks[i]
		if t.kind != jsIdent || t.text != "require" || (i > 0 && toks[i-1].text == ".") {
			continue
		}
		if toks[i+1].kind != jsPunct || toks[i+1].text != "(" || toks[i+2].kind != jsString || toks[i+3].kind != jsPunct || toks[i+3].text != ")" {
			continue
		}
		name := toks[i+2].text
		if slices.Contains(jsRequireAllowlist, strings.TrimPrefix(name, "node:")) {
			continue
		}
		return &JSShapeError{Line: t.line, Column: t.col, kind: ErrForbiddenImport, Message: fmt.Sprintf(
			"require('%s') is not available: JavaScript rules run without network or file access and without npm "+
				"packages; the modules available are %s", name, strings.Join(jsRequireAllowlist, ", "))}
	}
	return nil
}

func checkActionExport(toks []jsToken) error {
	if hasActionExport(toks) {
		return nil
	}
	return &JSShapeError{kind: ErrMissingExport, Message: "an Action must set exports.onExecutePostLogin = async " +
		"(event, api) => { … } (a legacy Rule must be a function (user, context, callback) { … })"}
}

// hasActionExport looks for exports.onExecutePostLogin = …,
// module.exports.onExecutePostLogin = …, exports['onExecutePostLogin'] = …
// or module.exports = { …onExecutePostLogin… }.
func hasActionExport(toks []jsToken) bool {
	is := func(i int, text string) bool {
		return i < len(toks) && toks[i].text == text && toks[i].kind != jsString
	}
	for i, t := range toks {
		if t.kind != jsIdent || t.text != "exports" {
			continue
		}
		if i > 0 && toks[i-1].text == "." && !(i > 1 && toks[i-2].text == "module") {
			continue
		}
		switch {
		case is(i+1, ".") && is(i+2, "onExecutePostLogin") && is(i+3, "="):
			return true
		case is(i+1, "[") && i+2 < len(toks) && toks[i+2].kind == jsString && toks[i+2].text == "onExecutePostLogin" &&
			is(i+3, "]") && is(i+4, "="):
			return true
		case i > 1 && toks[i-2].text == "module" && is(i+1, "=") && is(i+2, "{"):
			for _, u := range toks[i+3:] {
				if (u.kind == jsIdent || u.kind == jsString) && u.text == "onExecutePostLogin" {
					return true
				}
			}
		}
	}
	return false
}

// checkRuleFunction insists on function [name](user, context, callback):
// with fewer parameters the rule could never call its callback.
func checkRuleFunction(toks []jsToken) error {
	i := 0
	if i < len(toks) && toks[i].text == "async" {
		i++
	}
	if i >= len(toks) || toks[i].text != "function" {
		return &JSShapeError{kind: ErrMissingExport, Message: "a Rule must be a function (user, context, callback) { … }"}
	}
	fn := toks[i]
	i++
	if i < len(toks) && toks[i].text == "*" {
		return &JSShapeError{Line: fn.line, Column: fn.col, kind: ErrMissingExport,
			Message: "a Rule must be a function (user, context, callback) { … }, not a generator"}
	}
	if i < len(toks) && toks[i].kind == jsIdent {
		i++
	}
	if i >= len(toks) || toks[i].text != "(" {
		return nil // a syntax error: the compiler reports it with its position
	}
	params, depth, empty := 0, 0, true
	for i++; i < len(toks); i++ {
		if toks[i].kind != jsPunct {
			empty = false
			continue
		}
		switch toks[i].text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			if depth == 0 && toks[i].text == ")" {
				if !empty {
					params++
				}
				if params != 3 {
					return &JSShapeError{Line: fn.line, Column: fn.col, kind: ErrMissingExport, Message: fmt.Sprintf(
						"a Rule must be a function (user, context, callback) { … }: this one takes %d parameter%s",
						params, map[bool]string{true: "", false: "s"}[params == 1])}
				}
				return nil
			}
			depth--
		case ",":
			if depth == 0 {
				params++
				empty = true
				continue
			}
		}
		empty = false
	}
	return nil
}
