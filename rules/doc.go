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
package rules
