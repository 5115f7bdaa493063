package rules

// Host functions of custom-database scripts (rules-sdk/ABI.md). Every one but
// host_result takes a JSON request at (ptr, len) and returns the byte length
// of its JSON response, which the guest then copies into a buffer of its own
// with host_result(ptr, len). A response is the function's result object or
// {"error": "..."}: failures are values the script decides about, never
// traps. Host time is not metered by the fuel, so each function bounds its
// own work: the database by the script's deadline (and the server-side
// statement timeout of the ScriptDB), the hashes by cost caps.

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"golang.org/x/crypto/bcrypt"

	"github.com/authgraph/authgraph/passwords"
)

// Caps of the password helpers: a hostile hash or request must not exhaust
// the host.
const (
	MaxBcryptCost       = 14
	MaxPBKDF2Iterations = 2_000_000
	MaxArgon2MemoryKiB  = 256 * 1024
	// maxScriptRequest caps one host call's request JSON.
	maxScriptRequest = 1 << 20
)

// addScriptHostFuncs adds the script-only functions to the idp module.
func addScriptHostFuncs(b wazero.HostModuleBuilder) wazero.HostModuleBuilder {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	for name, f := range scriptFns {
		b = b.NewFunctionBuilder().WithGoModuleFunction(scriptHostFunc(name, f), []api.ValueType{i32, i32}, []api.ValueType{i64}).
			WithParameterNames("ptr", "len").Export(name)
	}
	return b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostResult), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("ptr", "len").Export("host_result")
}

type scriptFn func(ctx context.Context, st *callState, call *scriptCall, req []byte) (any, error)

// scriptFns are the host functions of custom-database scripts, by name, for
// WebAssembly (idp module) and JavaScript (the prelude's host) alike.
var scriptFns = map[string]scriptFn{
	"db_query": dbQuery, "db_exec": dbExec,
	"bcrypt_verify": bcryptVerify, "bcrypt_hash": bcryptHash,
	"pbkdf2_verify": pbkdf2Verify, "argon2_verify": argon2Verify,
}

// scriptResponse runs one script host function on the request read returns
// (read only when size is within the cap) and encodes its response: the
// function's result, or {"error": "..."}; a failure is also logged for the
// script. Both script ABIs (WebAssembly and JavaScript) answer this way.
func scriptResponse(ctx context.Context, st *callState, call *scriptCall, name string, f scriptFn, size int, read func() []byte) []byte {
	var v any
	var err error
	if size > maxScriptRequest {
		err = fmt.Errorf("request of %d bytes, the limit is %d", size, maxScriptRequest)
	} else {
		start := time.Now()
		v, err = f(ctx, st, call, read())
		if err != nil {
			st.addLog(fmt.Sprintf("%s failed after %s: %v", name, time.Since(start).Round(time.Microsecond), err))
		}
	}
	if err != nil {
		v = map[string]string{"error": err.Error()}
	}
	out, merr := json.Marshal(v)
	if merr != nil {
		out, _ = json.Marshal(map[string]string{"error": "encoding the response: " + merr.Error()})
	}
	return out
}

func scriptHostFunc(name string, f scriptFn) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		st, call := stateFrom(ctx), scriptCallFrom(ctx)
		if st == nil || call == nil {
			stack[0] = 0 // instantiation (start code): nothing to answer with
			return
		}
		ptr, size := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
		out := scriptResponse(ctx, st, call, name, f, int(size), func() []byte {
			buf, ok := m.Memory().Read(ptr, size)
			if !ok {
				panic(fmt.Errorf("idp.%s: range [%d, +%d) is outside linear memory", name, ptr, size))
			}
			return append([]byte(nil), buf...)
		})
		call.pending = out
		stack[0] = uint64(len(out))
	}
}

// hostResult is idp.host_result(ptr, len) -> i32: copies the last response
// (at most len bytes) to ptr and forgets it; returns the bytes copied.
func hostResult(ctx context.Context, m api.Module, stack []uint64) {
	call := scriptCallFrom(ctx)
	if call == nil {
		stack[0] = 0
		return
	}
	ptr, size := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	out := call.pending
	if uint32(len(out)) > size {
		out = out[:size]
	}
	if !m.Memory().Write(ptr, out) {
		panic(fmt.Errorf("idp.host_result: range [%d, +%d) is outside linear memory", ptr, len(out)))
	}
	call.pending = nil
	stack[0] = uint64(len(out))
}

// deadlineCtx bounds a host call by the script's own deadline.
func deadlineCtx(st *callState) (context.Context, context.CancelFunc) {
	return context.WithDeadline(st.Context, st.deadline)
}

type sqlRequest struct {
	SQL    string          `json:"sql"`
	Params json.RawMessage `json:"params"`
}

func parseSQL(req []byte, call *scriptCall) (sqlRequest, error) {
	var r sqlRequest
	if err := json.Unmarshal(req, &r); err != nil {
		return r, fmt.Errorf("bad request: %v", err)
	}
	if strings.TrimSpace(r.SQL) == "" {
		return r, errors.New("empty sql")
	}
	if call.db == nil {
		return r, errors.New("this connection has no database (options.dsn)")
	}
	return r, nil
}

func dbQuery(_ context.Context, st *callState, call *scriptCall, req []byte) (any, error) {
	r, err := parseSQL(req, call)
	if err != nil {
		return nil, err
	}
	ctx, cancel := deadlineCtx(st)
	defer cancel()
	return call.db.Query(ctx, r.SQL, r.Params)
}

func dbExec(_ context.Context, st *callState, call *scriptCall, req []byte) (any, error) {
	r, err := parseSQL(req, call)
	if err != nil {
		return nil, err
	}
	ctx, cancel := deadlineCtx(st)
	defer cancel()
	return call.db.Exec(ctx, r.SQL, r.Params)
}

type hashRequest struct {
	Hash       string `json:"hash"`
	Password   string `json:"password"`
	Cost       int    `json:"cost"`
	Salt       string `json:"salt"`
	Iterations int    `json:"iterations"`
	Digest     string `json:"digest"`
}

func parseHash(req []byte) (hashRequest, error) {
	var r hashRequest
	if err := json.Unmarshal(req, &r); err != nil {
		return r, fmt.Errorf("bad request: %v", err)
	}
	return r, nil
}

func bcryptVerify(_ context.Context, st *callState, _ *scriptCall, req []byte) (any, error) {
	r, err := parseHash(req)
	if err != nil {
		return nil, err
	}
	cost, err := bcrypt.Cost([]byte(r.Hash))
	if err != nil {
		return nil, fmt.Errorf("not a bcrypt hash: %v", err)
	}
	if cost > MaxBcryptCost {
		return nil, fmt.Errorf("bcrypt cost %d exceeds the limit of %d", cost, MaxBcryptCost)
	}
	err = bcrypt.CompareHashAndPassword([]byte(r.Hash), []byte(r.Password))
	return map[string]bool{"match": err == nil}, nil
}

func bcryptHash(_ context.Context, _ *callState, _ *scriptCall, req []byte) (any, error) {
	r, err := parseHash(req)
	if err != nil {
		return nil, err
	}
	if r.Cost == 0 {
		r.Cost = bcrypt.DefaultCost
	}
	if r.Cost < bcrypt.MinCost || r.Cost > MaxBcryptCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside [%d, %d]", r.Cost, bcrypt.MinCost, MaxBcryptCost)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(r.Password), r.Cost)
	if err != nil {
		return nil, err
	}
	return map[string]string{"hash": string(h)}, nil
}

// pbkdf2Verify: salt and hash are standard base64; digest sha1, sha256
// (default) or sha512.
func pbkdf2Verify(_ context.Context, _ *callState, _ *scriptCall, req []byte) (any, error) {
	r, err := parseHash(req)
	if err != nil {
		return nil, err
	}
	if r.Iterations < 1 || r.Iterations > MaxPBKDF2Iterations {
		return nil, fmt.Errorf("pbkdf2 iterations %d are outside [1, %d]", r.Iterations, MaxPBKDF2Iterations)
	}
	var h func() hash.Hash
	switch r.Digest {
	case "", "sha256":
		h = sha256.New
	case "sha512":
		h = sha512.New
	case "sha1":
		h = sha1.New
	default:
		return nil, fmt.Errorf("pbkdf2 digest %q: use sha1, sha256 or sha512", r.Digest)
	}
	salt, err1 := base64.StdEncoding.DecodeString(r.Salt)
	want, err2 := base64.StdEncoding.DecodeString(r.Hash)
	if err1 != nil || err2 != nil || len(want) < 16 || len(want) > 128 {
		return nil, errors.New("pbkdf2 salt and hash must be standard base64, the hash 16 to 128 bytes")
	}
	got, err := pbkdf2.Key(h, r.Password, salt, r.Iterations, len(want))
	if err != nil {
		return nil, err
	}
	return map[string]bool{"match": subtle.ConstantTimeCompare(got, want) == 1}, nil
}

// argon2Verify takes an argon2id PHC string; memory is capped at
// MaxArgon2MemoryKiB (and iterations at 16, by the passwords package).
func argon2Verify(_ context.Context, _ *callState, _ *scriptCall, req []byte) (any, error) {
	r, err := parseHash(req)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(r.Hash, "$argon2id$") {
		return nil, errors.New("not an argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)")
	}
	if parts := strings.Split(r.Hash, "$"); len(parts) == 6 {
		var m, t, p int
		if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err == nil && m > MaxArgon2MemoryKiB {
			return nil, fmt.Errorf("argon2 memory %d KiB exceeds the limit of %d KiB (256 MiB)", m, MaxArgon2MemoryKiB)
		}
	}
	switch err := passwords.Verify(r.Hash, r.Password); {
	case err == nil:
		return map[string]bool{"match": true}, nil
	case errors.Is(err, passwords.ErrMismatch):
		return map[string]bool{"match": false}, nil
	default:
		return nil, fmt.Errorf("argon2 hash refused (malformed, or iterations above 16): %v", err)
	}
}
