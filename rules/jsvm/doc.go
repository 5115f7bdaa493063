// Package jsvm runs untrusted JavaScript on QuickJS-NG compiled to
// WebAssembly (github.com/fastschema/qjs), inside wazero: no file system, no
// network, no environment, a wall-clock limit, a heap limit and a stack
// limit per call. Runtimes are pooled; after a trusted prelude has run in a
// runtime its intrinsics and global object are frozen, and every call
// re-instantiates the untrusted program, so nothing one call leaves behind
// is visible to the next.
package jsvm
