package connections

// Custom-database scripts (options.scripts of a customdb connection) are
// checked when they are written, by the script engine the server sets in
// Service.Scripts, so a module that would never run is refused at upload
// rather than at its first login. This package does not import the engine.

import (
	"context"
	"encoding/base64"
	"maps"
	"slices"
	"strings"
)

// ScriptValidator checks one custom-database script module: the rules
// engine's ValidateScript (size, compilation, imports, exports, ABI
// version). Compiling it also fills the engine's on-disk compilation cache,
// when it has one, so the first login does not compile.
type ScriptValidator interface {
	ValidateScript(ctx context.Context, module []byte) error
}

// JavaScriptValidator checks one JavaScript custom-database script (Auth0's
// options.customScripts) for an operation: the rules engine's
// ValidateScriptJavaScript (syntax with line and column, shape, requires).
type JavaScriptValidator interface {
	ValidateScriptJavaScript(ctx context.Context, op, source string) error
}

// CustomDBScripts are the keys of options.scripts, in the documented order (docs/CUSTOM_DATABASE.md) (the
// operations of connectors/customdb, which checks that the lists agree).
var CustomDBScripts = []string{"login", "get_user", "create", "verify", "change_password", "delete", "change_email"}

// checkScripts validates the scripts given in a write (already checked to be
// an object by Split). Stored scripts were checked when they were written.
func (s *Service) checkScripts(ctx context.Context, strategy string, secret map[string]any) error {
	if strategy != StrategyCustomDB {
		return nil
	}
	if err := s.checkJavaScripts(ctx, secret); err != nil {
		return err
	}
	scripts, ok := secret["scripts"].(map[string]any)
	if !ok {
		return nil
	}
	checked := map[string]error{} // one module is often uploaded under several keys
	for _, op := range sortedKeys(scripts) {
		key := "scripts." + op
		if err := checkScriptOp(key, op); err != nil {
			return err
		}
		str, ok := scripts[op].(string)
		if !ok {
			return &OptionError{Key: key, Message: "must be a wasm module in base64 (standard encoding)"}
		}
		module, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			return &OptionError{Key: key, Message: "is not base64 (standard encoding): " + err.Error()}
		}
		if s.Scripts == nil {
			continue
		}
		err, done := checked[str]
		if !done {
			err = s.Scripts.ValidateScript(ctx, module)
			checked[str] = err
		}
		if err != nil {
			return &OptionError{Key: key, Message: "is not a valid script: " + err.Error()}
		}
	}
	return nil
}

// checkScriptOp refuses an operation name that is not one of
// CustomDBScripts, under the option key named.
func checkScriptOp(key, op string) error {
	if !slices.Contains(CustomDBScripts, op) {
		return &OptionError{Key: key, Message: "is not a script; the scripts are " + strings.Join(CustomDBScripts, ", ")}
	}
	return nil
}

// checkJavaScripts validates options.customScripts: known operations,
// source strings the engine accepts, and no operation given both a module
// and a JavaScript script in one write.
func (s *Service) checkJavaScripts(ctx context.Context, secret map[string]any) error {
	js, ok := secret["customScripts"].(map[string]any)
	if !ok {
		return nil
	}
	wasm, _ := secret["scripts"].(map[string]any)
	for _, op := range sortedKeys(js) {
		key := "customScripts." + op
		if err := checkScriptOp(key, op); err != nil {
			return err
		}
		src, ok := js[op].(string)
		if !ok {
			return &OptionError{Key: key, Message: "must be JavaScript source: function (…, callback) {…}"}
		}
		if wasm[op] != nil {
			return &OptionError{Key: key, Message: "is given with scripts." + op + ": an operation has one script, WebAssembly or JavaScript"}
		}
		v, ok := s.Scripts.(JavaScriptValidator)
		if !ok {
			continue
		}
		if err := v.ValidateScriptJavaScript(ctx, op, src); err != nil {
			return &OptionError{Key: key, Message: "is not a valid script: " + err.Error(), Err: err}
		}
	}
	return nil
}

// mergeScriptSets merges a write's scripts and customScripts into the
// stored ones key by key (a null removes one). An operation has one script:
// writing it in one language removes the stored one of the other. It
// returns the merged sets by option, for those the write touched.
func mergeScriptSets(stored, secret map[string]any) map[string]map[string]any {
	sets := map[string]map[string]any{}
	for _, key := range []string{"scripts", "customScripts"} {
		given, merged := mergeScripts(stored[key], secret[key])
		if given != nil {
			secret[key] = given
			sets[key] = merged
		}
	}
	for key, other := range map[string]string{"scripts": "customScripts", "customScripts": "scripts"} {
		given, _ := secret[key].(map[string]any)
		for op := range given {
			if sets[other] == nil {
				m, ok := stored[other].(map[string]any)
				if !ok || m[op] == nil {
					continue
				}
				sets[other] = maps.Clone(m)
			}
			delete(sets[other], op)
		}
	}
	return sets
}
