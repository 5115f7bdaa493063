package rules

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateJSShape(t *testing.T) {
	cases := []struct {
		name, src  string
		kind       error // nil: accepted
		line, col  int
		msgContain string
	}{
		{name: "action", src: "exports.onExecutePostLogin = async (event, api) => {};"},
		{name: "action via module.exports member", src: "module.exports.onExecutePostLogin = async () => {};"},
		{name: "action via bracket", src: "exports['onExecutePostLogin'] = function (e, a) {};"},
		{name: "action via object", src: "const onExecutePostLogin = async () => {};\nmodule.exports = { onExecutePostLogin };"},
		{name: "action starting with a helper function", src: "function isAdmin(event) { return true; }\nexports.onExecutePostLogin = async (event, api) => {};"},
		{name: "action starting with an async helper", src: "async function helper() {}\nmodule.exports = { onExecutePostLogin: helper };"},
		{name: "action after a const", src: "const f = async (event, api) => {};\nexports.onExecutePostLogin = f;"},
		{name: "action allowlisted requires", src: "const qs = require('querystring');\nconst u = require(\"node:util\");\nexports.onExecutePostLogin = async () => {};"},
		{name: "action dynamic require left to run time", src: "const m = 'ax' + 'ios'; require(m);\nexports.onExecutePostLogin = async () => {};"},
		{name: "action export only in a comment", src: "// exports.onExecutePostLogin = async () => {};\nconst x = 1;",
			kind: ErrMissingExport, msgContain: "exports.onExecutePostLogin"},
		{name: "action export only in a string", src: "const s = 'exports.onExecutePostLogin = 1';",
			kind: ErrMissingExport},
		{name: "action comparing, not assigning", src: "if (exports.onExecutePostLogin == null) {}", kind: ErrMissingExport},
		{name: "action other export", src: "exports.onContinuePostLogin = async () => {};", kind: ErrMissingExport},
		{name: "forbidden require names module and line", src: "const x = 1;\n  const axios = require('axios');\nexports.onExecutePostLogin = async () => {};",
			kind: ErrForbiddenImport, line: 2, col: 17, msgContain: "require('axios') is not available"},
		{name: "template literal name left to run time", src: "exports.onExecutePostLogin = async () => {\n\tconst fs = require(`fs`);\n};"},
		{name: "forbidden node: prefixed", src: "const c = require('node:crypto');\nexports.onExecutePostLogin = async () => {};",
			kind: ErrForbiddenImport, line: 1, col: 11, msgContain: "require('node:crypto')"},
		{name: "require in a comment ignored", src: "/* require('axios') */ exports.onExecutePostLogin = async () => {};"},
		{name: "require in a string ignored", src: "const s = \"require('axios')\";\nexports.onExecutePostLogin = async () => {};"},
		{name: "require in a template text ignored", src: "const s = `x require('axios') ${1} y`;\nexports.onExecutePostLogin = async () => {};"},
		{name: "require in a template substitution seen", src: "const s = `x ${require('axios')} y`;\nexports.onExecutePostLogin = async () => {};",
			kind: ErrForbiddenImport, line: 1, col: 16},
		{name: "regexp with quote does not hide a require", src: "const re = /'/;\nconst a = require('axios');\nexports.onExecutePostLogin = 1;",
			kind: ErrForbiddenImport, line: 2, col: 11},
		{name: "division is not a regexp", src: "const a = 4 / 2; const b = require('axios') / 1;\nexports.onExecutePostLogin = 1;",
			kind: ErrForbiddenImport, line: 1, col: 28},
		{name: "method named require ignored", src: "obj.require('axios');\nexports.onExecutePostLogin = 1;"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := validateJSShape(DetectKind(c.src), c.src)
			if c.kind == nil {
				if err != nil {
					t.Fatalf("validateJSShape: %v", err)
				}
				return
			}
			var se *JSShapeError
			if !errors.As(err, &se) || !errors.Is(err, c.kind) || !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("err = %v, want a JSShapeError wrapping %v and ErrInvalidModule", err, c.kind)
			}
			if c.line != 0 && (se.Line != c.line || se.Column != c.col) {
				t.Fatalf("position = %d:%d, want %d:%d (%v)", se.Line, se.Column, c.line, c.col, err)
			}
			if !strings.Contains(err.Error(), c.msgContain) {
				t.Fatalf("err = %q, want it to contain %q", err, c.msgContain)
			}
		})
	}
}

func TestValidateJSShapeRules(t *testing.T) {
	ok := []string{
		"function (user, context, callback) { callback(null, user, context); }",
		"/** doc */\nfunction named(user, context, callback) {\n  callback(null, user, context);\n}\n",
		"async function (user, context, callback) { callback(null, user, context); }",
		"function ({ email } = {}, context, callback = () => {}) {}",
		"function (user, context, callback,) {}",
		"function (u, c, cb) { const s = \"a,b\"; }",
	}
	for _, src := range []string{
		"function isAdmin(event) { return true; }\nexports.onExecutePostLogin = async () => {};",
		"exports.onExecutePostLogin = async () => {};",
		"// a comment\nconst x = 1;",
	} {
		if k := DetectKind(src); k != KindAction {
			t.Fatalf("DetectKind(%q) = %s, want an Action", src, k)
		}
	}
	for _, src := range ok {
		if k := DetectKind(src); k != KindRule {
			t.Fatalf("DetectKind(%q) = %s", src, k)
		}
		if err := validateJSShape(KindRule, src); err != nil {
			t.Fatalf("validateJSShape(%q): %v", src, err)
		}
	}
	bad := map[string]string{
		"function (user, context) {}":                         "takes 2 parameters",
		"function (cb) {}":                                    "takes 1 parameter",
		"function (a, b, c, d) {}":                            "takes 4 parameters",
		"function* (user, context, callback) {}":              "not a generator",
		"function (user, context, callback) { require('x') }": "require('x') is not available",
	}
	for src, want := range bad {
		err := validateJSShape(DetectKind(src), src)
		if err == nil || !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), want) {
			t.Fatalf("validateJSShape(%q) = %v, want an ErrInvalidModule containing %q", src, err, want)
		}
	}
}

// FuzzValidateJSShape: the upload checks end, without panicking, on any
// input, and DetectKind agrees with the shape check about Rules.
func FuzzValidateJSShape(f *testing.F) {
	for _, s := range []string{
		"exports.onExecutePostLogin = async (event, api) => {};",
		"function (user, context, callback) { callback(null, user, context); }",
		"const s = `a ${ `b ${1}` } c`; /re[/]x/g; require('x')",
		"/* unterminated", "'unterminated", "`${", "}}}", "a / b / c", "\\u0061 = 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		kind := DetectKind(src)
		err := validateJSShape(kind, src)
		if err != nil && !errors.Is(err, ErrInvalidModule) {
			t.Fatalf("validateJSShape(%q) = %v, not an ErrInvalidModule", src, err)
		}
	})
}
