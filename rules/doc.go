// Package rules runs post-login rules: untrusted WebAssembly modules that
// implement the rules ABI v1 (rules-sdk/ABI.md) on wazero.
//
// One [Engine] owns one wazero runtime with an on-disk compilation cache and a
// per-instance memory limit. Modules are checked once at upload by
// [Engine.Validate] and compiled lazily on first use; instances are pooled per
// rule version, discarded after any trap, error or timeout and recycled after
// a number of calls. [Engine.RunPipeline] runs a login's enabled rules in
// order and returns their commands (deny, claims, metadata updates) without
// applying anything: the caller persists metadata in its own transaction.
//
// Rules have no file system, network, environment or real clock: the event
// carries the host's time and the rule's secrets.
//
// A rule version may instead be JavaScript (RuleVersion.JavaScript): an Auth0
// post-login Action, a legacy Auth0 Rule, or, for a custom-database
// connection, one of its scripts. It runs on QuickJS compiled to WebAssembly
// (package rules/jsvm) with the same limits, execution slots, event and
// result JSON as a module: the trusted preludes in js/*.js translate between
// Auth0's shapes and the rules ABI. Sources are checked at upload by
// [Engine.ValidateJavaScript] and [Engine.ValidateScriptJavaScript] (syntax
// with line and column, require allowlist, shape), compiled to bytecode once
// per version, and each call runs in a pooled, locked-down runtime where it
// starts from fresh state (RATIONALE.md, "JavaScript engine").
package rules
