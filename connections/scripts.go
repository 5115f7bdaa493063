package connections

// Custom-database scripts (options.scripts of a customdb connection) are
// checked when they are written, by the script engine the server sets in
// Service.Scripts, so a module that would never run is refused at upload
// rather than at its first login. This package does not import the engine.

import (
	"context"
	"encoding/base64"
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

// CustomDBScripts are the keys of options.scripts, in the documented order (docs/CUSTOM_DATABASE.md) (the
// operations of connectors/customdb, which checks that the lists agree).
var CustomDBScripts = []string{"login", "get_user", "create", "verify", "change_password", "delete", "change_email"}

// checkScripts validates the scripts given in a write (already checked to be
// an object by Split). Stored scripts were checked when they were written.
func (s *Service) checkScripts(ctx context.Context, strategy string, secret map[string]any) error {
	scripts, ok := secret["scripts"].(map[string]any)
	if strategy != StrategyCustomDB || !ok {
		return nil
	}
	checked := map[string]error{} // one module is often uploaded under several keys
	for _, op := range sortedKeys(scripts) {
		key := "scripts." + op
		if !slices.Contains(CustomDBScripts, op) {
			return &OptionError{Key: key, Message: "is not a script; the scripts are " + strings.Join(CustomDBScripts, ", ")}
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
