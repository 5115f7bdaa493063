//go:build !wasip1

package script

// Outside WebAssembly (go vet, unit tests of a script's own helpers) the host
// functions are unavailable.

func unavailable([]byte) []byte { return []byte(`{"error":"not running in Authgraph"}`) }

var (
	hostDBQuery      = unavailable
	hostDBExec       = unavailable
	hostBcryptVerify = unavailable
	hostBcryptHash   = unavailable
	hostPBKDF2Verify = unavailable
	hostArgon2Verify = unavailable
)

func hostLog(string) {}

// Dispatch exposes dispatch to host-side tests.
func Dispatch(input []byte) []byte { return dispatch(input) }
