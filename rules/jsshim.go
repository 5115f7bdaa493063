package rules

// JavaScript rules: how uploaded source is wrapped for rules/jsvm and which
// prelude entry runs it. The preludes (js/*.js, trusted, loaded once per
// runtime) translate between Auth0's shapes and the rules ABI: they receive
// the same event JSON a WebAssembly rule receives and return the same result
// JSON (deny, id_token_claims, access_token_claims, app_metadata,
// user_metadata, link_to, require_mfa, roles, error).

import (
	"strings"

	"github.com/authgraph/authgraph/rules/jsvm"
)

// JavaScript source kinds.
const (
	// KindAction is an Auth0 Action: a CommonJS module that sets
	// exports.onExecutePostLogin = async (event, api) => {…}.
	KindAction = "action"
	// KindRule is a legacy Auth0 Rule: function (user, context, callback) {…}.
	KindRule = "rule"
)

// Prelude entry points: global functions (factory, input string, host) →
// string or Promise<string>, where factory is the wrapped source evaluated,
// input the event (or script input) JSON, host(name, argJSON) → resultJSON a
// synchronous host call, and the string the result JSON.
const (
	entryAction   = "authgraph_action"
	entryRule     = "authgraph_rule"
	entryCustomDB = "authgraph_customdb"
)

// DetectKind tells a legacy Rule (the source, after comments, is a function
// expression) from an Action (anything else: a module). A module that
// starts with a helper function declaration is still an Action when it
// assigns exports.onExecutePostLogin.
func DetectKind(source string) string {
	s := stripLeadingComments(source)
	if !strings.HasPrefix(s, "function") && !strings.HasPrefix(s, "async function") {
		return KindAction
	}
	if hasActionExport(jsTokenize(source)) {
		return KindAction
	}
	return KindRule
}

// wrapFor returns the wrapper that turns source of kind into a factory
// function, and the prelude entry that runs it. The prefix stays on the
// source's first line so that positions in syntax errors are the source's.
//
// A Rule's factory takes the globals Auth0 gives rules (configuration,
// auth0, UnauthorizedError, global) as parameters, because the global
// object is frozen and they differ per call. The rule is assigned rather
// than returned so that a trailing semicolon or helper functions declared
// after it still compile, as they did on Auth0.
func wrapFor(kind string) (jsvm.Wrap, string) {
	if kind == KindRule {
		return jsvm.Wrap{
			Prefix: "(function (require, console, configuration, auth0, UnauthorizedError, global) { const authgraph_rule_fn = ",
			Suffix: "\n;\nreturn authgraph_rule_fn; })",
		}, entryRule
	}
	return jsvm.Wrap{Prefix: "(function (exports, module, require, console) {", Suffix: "\n})"}, entryAction
}

func stripLeadingComments(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n\ufeff")
		switch {
		case strings.HasPrefix(s, "//"):
			_, rest, ok := strings.Cut(s, "\n")
			if !ok {
				return ""
			}
			s = rest
		case strings.HasPrefix(s, "/*"):
			_, rest, ok := strings.Cut(s[2:], "*/")
			if !ok {
				return ""
			}
			s = rest
		default:
			return s
		}
	}
}
