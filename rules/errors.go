package rules

import (
	"errors"
	"fmt"
	"time"
)

// Validation errors (at upload). All wrap ErrInvalidModule.
var (
	ErrInvalidModule   = errors.New("invalid rule module")
	ErrModuleTooLarge  = errors.New("module too large")
	ErrForbiddenImport = errors.New("forbidden import")
	ErrMissingExport   = errors.New("missing or mistyped export")
	ErrABIVersion      = errors.New("unsupported ABI version")
)

// Execution errors. A failing rule surfaces as a *RuleError wrapping one of
// these, and errors.Is(err, ErrRuleFailed) holds for all of them.
var (
	ErrRuleFailed      = errors.New(CodeRuleFailed)
	ErrTimeout         = errors.New("time limit exceeded")
	ErrMemoryLimit     = errors.New("memory limit exceeded")
	ErrOutputTooLarge  = errors.New("result too large")
	ErrTrap            = errors.New("rule trapped")
	ErrBadResult       = errors.New("invalid result")
	ErrRuleReported    = errors.New("rule reported an error")
	ErrInvalidMetadata = errors.New("invalid metadata update")
	ErrClaimsTooLarge  = errors.New("custom claims too large")
	ErrClosed          = errors.New("rules engine closed")
	ErrBusy            = errors.New("rules engine busy")
)

// CodeRuleFailed is the error code the edge reports for a failing rule
// (OAuth error_description prefix, GraphQL RULE_FAILED).
const CodeRuleFailed = "rule_failed"

// RuleError is a rule that failed or exceeded a limit. It names the rule so
// that the login's error and log event can say which one.
type RuleError struct {
	RuleID   string
	RuleName string
	// Err wraps one of the execution sentinels with details.
	Err error
	// Logs are the rule's log lines up to the failure (secrets redacted).
	Logs     []string
	Duration time.Duration
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("%s: rule %q (%s): %v", CodeRuleFailed, e.RuleName, e.RuleID, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

// Is makes every RuleError match ErrRuleFailed.
func (e *RuleError) Is(target error) bool { return target == ErrRuleFailed }

func invalid(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s", ErrInvalidModule, kind, fmt.Sprintf(format, args...))
}
