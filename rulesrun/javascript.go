package rulesrun

// JavaScript rules: a rule's code is either a WebAssembly module or
// JavaScript source (an Auth0 post-login Action or legacy Rule), stored in
// the rule's javascript column and run by the engine's JavaScript runtime
// with the same event, result and limits.

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/rules"
	"github.com/authgraph/authgraph/rules/jsvm"
)

// MaxJavaScriptSize bounds a JavaScript rule's source in bytes: Auth0's
// largest published examples are a few KiB, and the source is read back
// with the rule.
const MaxJavaScriptSize = 1 << 20

// Rule languages, as Language reports them.
const (
	LanguageWASM       = "WASM"
	LanguageJavaScript = "JAVASCRIPT"
)

// Language tells a JavaScript rule from a WebAssembly one.
func Language(r *ent.Rule) string {
	if IsJavaScript(r) {
		return LanguageJavaScript
	}
	return LanguageWASM
}

// IsJavaScript reports whether r's code is JavaScript source.
func IsJavaScript(r *ent.Rule) bool { return r.Javascript != nil && *r.Javascript != "" }

// SourceError is JavaScript refused at upload, on the input field
// "javascript": a *identity.ValidationError for every transport, that also
// unwraps to the engine's error, so that the line and column of a
// *jsvm.SyntaxError or *rules.JSShapeError reach the caller.
type SourceError struct {
	Validation *identity.ValidationError
	Cause      error
}

func (e *SourceError) Error() string { return e.Validation.Error() }

func (e *SourceError) Unwrap() []error { return []error{e.Validation, e.Cause} }

// ValidateJavaScript checks JavaScript source as an upload: its size, that
// it is UTF-8, and the engine's checks (syntax, with the line and column of
// the error, allowed modules and the Action or Rule shape).
func (s *Service) ValidateJavaScript(ctx context.Context, source string) error {
	switch {
	case source == "":
		return &identity.ValidationError{Field: "javascript", Message: "is empty"}
	case len(source) > MaxJavaScriptSize:
		return &identity.ValidationError{Field: "javascript", Message: fmt.Sprintf("is %d bytes; at most %d are allowed", len(source), MaxJavaScriptSize)}
	case !utf8.ValidString(source):
		return &identity.ValidationError{Field: "javascript", Message: "must be UTF-8 text"}
	}
	err := s.Engine.ValidateJavaScript(ctx, source)
	if err == nil {
		return nil
	}
	var (
		syn   *jsvm.SyntaxError
		shape *rules.JSShapeError
	)
	switch {
	case errors.As(err, &syn):
		return &SourceError{Validation: &identity.ValidationError{Field: "javascript", Message: syn.Error()}, Cause: err}
	case errors.As(err, &shape):
		return &SourceError{Validation: &identity.ValidationError{Field: "javascript", Message: shape.Error()}, Cause: err}
	case errors.Is(err, rules.ErrInvalidModule):
		return &SourceError{Validation: &identity.ValidationError{Field: "javascript", Message: err.Error()}, Cause: err}
	}
	return err
}

// errBothCodes refuses an input giving a rule two codes.
var errBothCodes = &identity.ValidationError{Field: "javascript", Message: "give either a module or javascript, not both"}

// code is a rule's code as an upload gives it: a module or JavaScript.
type code struct {
	module     []byte
	javascript string
}

func (c code) isJavaScript() bool { return c.javascript != "" }

// version is the code's version: the hex SHA-256 of the module's bytes or
// of the source's UTF-8 bytes.
func (c code) version() string {
	if c.isJavaScript() {
		return Version([]byte(c.javascript))
	}
	return Version(c.module)
}

// size is module_size: the module's size, or the source's in bytes.
func (c code) size() int {
	if c.isJavaScript() {
		return len(c.javascript)
	}
	return len(c.module)
}

// validateCode checks the code with the check of its kind.
func (s *Service) validateCode(ctx context.Context, c code) error {
	if c.isJavaScript() {
		return s.ValidateJavaScript(ctx, c.javascript)
	}
	return s.Validate(ctx, c.module)
}

// codeOf picks the code given to Create, Update or Test: exactly one of a
// module and JavaScript, unless neither is required (update, test).
func codeOf(module []byte, javascript *string, required bool) (*code, error) {
	switch {
	case module != nil && javascript != nil:
		return nil, errBothCodes
	case javascript != nil:
		if *javascript == "" {
			return nil, &identity.ValidationError{Field: "javascript", Message: "is empty"}
		}
		return &code{javascript: *javascript}, nil
	case module != nil:
		return &code{module: module}, nil
	case required:
		return nil, &identity.ValidationError{Field: "module", Message: "give the rule's code: module (a WebAssembly module, base64) or javascript (its source)"}
	}
	return nil, nil
}
