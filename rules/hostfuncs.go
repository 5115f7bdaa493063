package rules

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// Import namespaces a rule may use.
const (
	nsIDP  = "idp"
	nsWASI = "wasi_snapshot_preview1"
	nsEnv  = "env" // AssemblyScript's runtime imports
)

// ruleImports are the idp host functions offered to rules.
var ruleImports = map[string]bool{"log": true}

// envImports are the AssemblyScript runtime imports the host provides.
var envImports = map[string]bool{"abort": true, "trace": true, "seed": true}

// ReservedIDPImports are idp functions meant for custom-database scripts.
// They give database and credential access, so a rule importing one is
// refused at upload with a clear message rather than a missing-import error.
var ReservedIDPImports = []string{
	"db_query", "db_exec", "db_begin", "db_commit", "db_rollback",
	"bcrypt_verify", "bcrypt_hash", "argon2_verify", "argon2_hash",
	"http_fetch", "ldap_bind", "ldap_search",
}

type callStateKey struct{}

// callState is one invocation's host-side state, reached by host functions
// through the call's context (host modules are shared by all instances). It
// is itself the context of the call: its parent is the login's context, so
// that a call costs no context allocation and no timer. Its Deadline and
// Done are the parent's: the rule's time limit is enforced by hostRefuel
// against deadline, not by the context.
type callState struct {
	context.Context
	deadline     time.Time
	timedOut     bool // hostRefuel stopped the rule at the deadline
	maxLines     int
	maxLineBytes int
	secrets      map[string]string
	redactor     *strings.Replacer
	logs         []string
	dropped      int
	abort        string // AssemblyScript abort message, if any
}

func (st *callState) Value(key any) any {
	if key == (callStateKey{}) {
		return st
	}
	return st.Context.Value(key)
}

func stateFrom(ctx context.Context) *callState {
	if st, ok := ctx.(*callState); ok {
		return st
	}
	st, _ := ctx.Value(callStateKey{}).(*callState)
	return st
}

// hostRefuel is idp.__refuel() -> i64, the internal import instrument adds
// (never callable by a rule's own code: see instrument.go). The guest calls
// it when its fuel runs out: past the deadline it traps, otherwise it
// returns a fresh tank. It is entered once per fuelRefill units of work.
func hostRefuel(ctx context.Context, stack []uint64) {
	if st, ok := ctx.(*callState); ok {
		if st.Context.Err() == nil && time.Now().Before(st.deadline) {
			stack[0] = fuelRefill
			return
		}
		st.timedOut = true
	} else if ctx.Err() == nil { // Validate: a plain context with a timeout
		stack[0] = fuelRefill
		return
	}
	panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
}

// redact hides the rule's secret values. Values shorter than 4 bytes are not
// redacted: they cannot be secrets and would garble every line.
func (st *callState) redact(s string) string {
	if len(st.secrets) == 0 {
		return s
	}
	if st.redactor == nil {
		var pairs []string
		for _, v := range st.secrets {
			if len(v) >= 4 {
				pairs = append(pairs, v, "[REDACTED]")
			}
		}
		st.redactor = strings.NewReplacer(pairs...)
	}
	return st.redactor.Replace(s)
}

func (st *callState) addLog(line string) {
	if len(st.logs) >= st.maxLines {
		st.dropped++
		return
	}
	if len(line) > st.maxLineBytes {
		cut := st.maxLineBytes
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut] + "…[truncated]"
	}
	st.logs = append(st.logs, st.redact(strings.ToValidUTF8(line, "\uFFFD")))
}

// finishLogs returns the lines with a marker for the ones dropped.
func (st *callState) finishLogs() []string {
	if st.dropped > 0 {
		return append(st.logs, fmt.Sprintf("[%d more log lines dropped: limit is %d]", st.dropped, st.maxLines))
	}
	return st.logs
}

// instantiateHostModules registers the idp and env modules once per runtime.
func instantiateHostModules(ctx context.Context, rt wazero.Runtime) error {
	i32, i64, f64 := api.ValueTypeI32, api.ValueTypeI64, api.ValueTypeF64
	idp := rt.NewHostModuleBuilder(nsIDP).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostLog), []api.ValueType{i32, i32}, nil).
		WithParameterNames("ptr", "len").Export("log").
		NewFunctionBuilder().WithGoFunction(api.GoFunc(hostRefuel), nil, []api.ValueType{i64}).
		Export(refuelName)
	// Custom-database script functions (scripthost.go); checkModule refuses
	// them in rules.
	idp = addScriptHostFuncs(idp)
	_, err := idp.Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("instantiate idp host module: %w", err)
	}
	_, err = rt.NewHostModuleBuilder(nsEnv).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(asAbort), []api.ValueType{i32, i32, i32, i32}, nil).
		WithParameterNames("message", "file", "line", "column").Export("abort").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(asTrace), []api.ValueType{i32, i32, f64, f64, f64, f64, f64}, nil).
		Export("trace").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(asSeed), nil, []api.ValueType{f64}).
		Export("seed").
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("instantiate env host module: %w", err)
	}
	return nil
}

// hostLog is idp.log(ptr, len): one UTF-8 log line. Only the first
// maxLineBytes are read, so a huge length costs nothing.
func hostLog(ctx context.Context, m api.Module, stack []uint64) {
	st := stateFrom(ctx)
	if st == nil {
		return // called during instantiation (init code): nowhere to log
	}
	ptr, size := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	n := min(size, uint32(st.maxLineBytes)+1)
	buf, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("idp.log: range [%d, %d) is outside linear memory", ptr, uint64(ptr)+uint64(n)))
	}
	st.addLog(string(buf))
}

// asAbort is AssemblyScript's abort(message, file, line, column): it records
// a readable message, then traps.
func asAbort(ctx context.Context, m api.Module, stack []uint64) {
	msg := readASString(m, api.DecodeU32(stack[0]))
	file := readASString(m, api.DecodeU32(stack[1]))
	text := fmt.Sprintf("abort: %s at %s:%d:%d", msg, file, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	if st := stateFrom(ctx); st != nil {
		st.abort = st.redact(text)
	}
	panic(fmt.Errorf("%s", text))
}

// asTrace is AssemblyScript's trace(message, n, a0..a4): a log line.
func asTrace(ctx context.Context, m api.Module, stack []uint64) {
	st := stateFrom(ctx)
	if st == nil {
		return
	}
	var b strings.Builder
	b.WriteString("trace: ")
	b.WriteString(readASString(m, api.DecodeU32(stack[0])))
	n := min(int(api.DecodeU32(stack[1])), 5)
	for i := range n {
		fmt.Fprintf(&b, " %g", api.DecodeF64(stack[2+i]))
	}
	st.addLog(b.String())
}

// asSeed seeds AssemblyScript's Math.random from the host's CSPRNG: the
// default wasm randomness would be deterministic.
func asSeed(_ context.Context, _ api.Module, stack []uint64) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	stack[0] = api.EncodeF64(float64(binary.LittleEndian.Uint64(b[:])>>11) / (1 << 53) * math.MaxInt32)
}

// readASString decodes an AssemblyScript string: UTF-16LE with its byte
// length in the object header 4 bytes before the pointer. Capped at 1 KiB.
func readASString(m api.Module, ptr uint32) string {
	if ptr < 4 {
		return ""
	}
	size, ok := m.Memory().ReadUint32Le(ptr - 4)
	if !ok {
		return ""
	}
	size = min(size, 2048) &^ 1
	raw, ok := m.Memory().Read(ptr, size)
	if !ok {
		return ""
	}
	units := make([]uint16, len(raw)/2)
	for i := range units {
		units[i] = binary.LittleEndian.Uint16(raw[2*i:])
	}
	return string(utf16.Decode(units))
}
