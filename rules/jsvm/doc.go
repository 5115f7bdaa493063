// Package jsvm runs untrusted JavaScript on QuickJS-NG compiled to
// WebAssembly (the build github.com/fastschema/qjs ships), inside wazero: no
// file system, no network, no environment, no timers, a wall-clock limit, a
// heap limit and output and log caps per call.
//
// A VM compiles the QuickJS module once and pools runtimes. A new runtime
// runs a trusted prelude, which defines the entry functions, and is then
// locked down: code generation from strings is removed and the global object
// and every intrinsic are frozen. Untrusted source is compiled to bytecode
// (Compile, which runs nothing); Run evaluates it once per runtime into a
// frozen factory function that the prelude's entry calls, so a program's
// top-level code and state are new on every call. A call's leftover promise
// jobs run before it returns; any error or timeout discards the runtime.
package jsvm
