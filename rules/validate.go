package rules

import (
	"slices"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// ABI v1 exports (rules-sdk/ABI.md).
const (
	exportMemory     = "memory"
	exportAlloc      = "idp_alloc"
	exportABIVersion = "idp_abi_version"
	exportPostLogin  = "on_post_login"
	// startReactor is run at instantiation: Go c-shared (wasip1 reactor)
	// guests trap without it. AssemblyScript uses the start section instead.
	startReactor = "_initialize"
	abiVersion   = 1
)

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// requiredExports lists each ABI function with its signature, in the order
// errors report them.
var requiredExports = []struct {
	name            string
	params, results []api.ValueType
}{
	{exportABIVersion, nil, []api.ValueType{i32}},
	{exportAlloc, []api.ValueType{i32}, []api.ValueType{i32}},
	{exportPostLogin, []api.ValueType{i32, i32}, []api.ValueType{i64}},
}

// checkModule enforces the static part of the ABI on a compiled module:
// imports only from the allowed namespaces, no imported memory, and the
// required exports with their exact signatures.
// A custom-database script (script true) may also import scriptImports and
// exports on_script instead of on_post_login (script.go).
func checkModule(cm wazero.CompiledModule, script bool) error {
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case nsWASI:
			// Any WASI function: the instance has no preopened directory,
			// no environment, no sockets and a fake clock.
		case nsIDP:
			if name == refuelName {
				// Added by instrument, which refuses modules importing it.
				continue
			}
			if script && (ruleImports[name] || scriptImports[name]) {
				continue
			}
			if script {
				return invalid(ErrForbiddenImport, "%s.%s is not a host function of the custom-database script ABI", mod, name)
			}
			if slices.Contains(ReservedIDPImports, name) {
				return invalid(ErrForbiddenImport, "%s.%s is reserved for custom-database scripts and not available to rules", mod, name)
			}
			if !ruleImports[name] {
				return invalid(ErrForbiddenImport, "%s.%s is not a host function of ABI v1", mod, name)
			}
		case nsEnv:
			if !envImports[name] {
				return invalid(ErrForbiddenImport, "env.%s: only AssemblyScript's env.abort, env.trace and env.seed are provided", name)
			}
		default:
			return invalid(ErrForbiddenImport, "%s.%s: imports must come from idp, wasi_snapshot_preview1 or env", mod, name)
		}
	}
	if mems := cm.ImportedMemories(); len(mems) > 0 {
		mod, name, _ := mems[0].Import()
		return invalid(ErrForbiddenImport, "memory %s.%s: the module must define and export its own memory", mod, name)
	}
	if _, ok := cm.ExportedMemories()[exportMemory]; !ok {
		return invalid(ErrMissingExport, "no exported memory named %q", exportMemory)
	}
	fns := cm.ExportedFunctions()
	for _, sig := range exportsFor(script) {
		name := sig.name
		def, ok := fns[name]
		if !ok {
			return invalid(ErrMissingExport, "function %s is not exported", name)
		}
		if !slices.Equal(def.ParamTypes(), sig.params) || !slices.Equal(def.ResultTypes(), sig.results) {
			return invalid(ErrMissingExport, "function %s has signature %s, want %s", name,
				sigString(def.ParamTypes(), def.ResultTypes()), sigString(sig.params, sig.results))
		}
	}
	return nil
}

func sigString(params, results []api.ValueType) string {
	s := "("
	for i, p := range params {
		if i > 0 {
			s += ","
		}
		s += api.ValueTypeName(p)
	}
	s += ")->("
	for i, r := range results {
		if i > 0 {
			s += ","
		}
		s += api.ValueTypeName(r)
	}
	return s + ")"
}
