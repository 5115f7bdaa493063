// Package passwords hashes and verifies user passwords.
//
// New hashes are argon2id with OWASP's minimum recommended parameters
// (m=19 MiB, t=2, p=1: about 20 ms on a 2-core machine), encoded as a PHC
// string so parameters can be raised later without breaking old hashes.
// bcrypt hashes ($2a$, $2b$, $2y$) from imported users verify too, as do
// the hashes of Auth0's custom_password_hash (imported.go), and NeedsRehash
// tells the login path to upgrade them to argon2id. A server computes every
// hash through its Limiter (limiter.go), which bounds how many run at once.
package passwords

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2id parameters (OWASP Password Storage Cheat Sheet, first option).
const (
	MemoryKiB   = 19 * 1024
	Iterations  = 2
	Parallelism = 1
	saltLen     = 16
	keyLen      = 32
)

// Ceilings for hashes we did not create (imports): verifying a hash must not
// let its author exhaust the host.
const (
	maxMemoryKiB  = 256 * 1024
	maxIterations = 16
	maxBcryptCost = 14
)

// Errors.
var (
	ErrMismatch    = errors.New("password does not match")
	ErrUnsupported = errors.New("unsupported password hash")
)

var b64 = base64.RawStdEncoding

// Hash returns an argon2id PHC string for password. It is the computation
// alone: a server hashes through its Limiter (limiter.go), which bounds how
// many run at once.
func Hash(password string) string {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	key := argon2.IDKey([]byte(password), salt, Iterations, MemoryKiB, Parallelism, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, MemoryKiB, Iterations, Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify checks password against an argon2id or bcrypt hash, or a hash
// imported from Auth0 (FromAuth0Custom), in constant time. Like Hash, it is
// the computation alone; a server verifies through its Limiter.
func Verify(hash, password string) error {
	_, verify, err := prepare(hash)
	if err != nil {
		return err
	}
	return verify(password)
}

// prepare parses hash without verifying anything: the memory its
// verification holds (what the Limiter admits) and the verification. A
// hash Verify would refuse is ErrUnsupported here, before any work.
func prepare(hash string) (mem int64, verify func(password string) error, err error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		a, err := parseArgon2id(hash)
		if err != nil {
			return 0, nil, err
		}
		return argonMemory(a.m), a.verify, nil
	case strings.HasPrefix(hash, importedPrefix):
		return prepareImported(hash)
	case isBcrypt(hash):
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil || cost > maxBcryptCost {
			return 0, nil, ErrUnsupported
		}
		// bcrypt holds 4 KiB; the Limiter still counts it as one
		// computation, for its CPU.
		return 0, func(password string) error {
			if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
				return ErrMismatch
			}
			return nil
		}, nil
	default:
		return 0, nil, ErrUnsupported
	}
}

// IsSupported reports whether Verify understands hash (for imports). It
// verifies nothing: an import does not spend a hash computation per row.
func IsSupported(hash string) bool {
	_, _, err := prepare(hash)
	return err == nil
}

// NeedsRehash reports whether hash should be replaced by Hash(password)
// after a successful login: anything but argon2id at today's parameters.
func NeedsRehash(hash string) bool {
	p, err := parseArgon2id(hash)
	return err != nil || p.m != MemoryKiB || p.t != Iterations || p.p != Parallelism
}

// dummy is verified against when a user does not exist, so an unknown user
// costs the same time as a wrong password.
var dummy = Hash("authgraph-dummy-password")

var dummyArgon, _ = parseArgon2id(dummy)

// VerifyDummy spends the time one Verify takes, and always fails (the
// computation alone, as Verify).
func VerifyDummy(password string) error {
	_ = dummyArgon.verify(password)
	return ErrMismatch
}

type argonParams struct {
	m, t      uint32
	p         uint8
	salt, key []byte
}

func parseArgon2id(hash string) (argonParams, error) {
	var a argonParams
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return a, ErrUnsupported
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return a, ErrUnsupported
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &a.m, &a.t, &a.p); err != nil {
		return a, ErrUnsupported
	}
	var err1, err2 error
	a.salt, err1 = b64.DecodeString(parts[4])
	a.key, err2 = b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(a.key) < 16 || len(a.key) > 64 ||
		a.m == 0 || a.m > maxMemoryKiB || a.t == 0 || a.t > maxIterations || a.p == 0 {
		return a, ErrUnsupported
	}
	return a, nil
}

func (a argonParams) verify(password string) error {
	got := argon2.IDKey([]byte(password), a.salt, a.t, a.m, a.p, uint32(len(a.key)))
	if subtle.ConstantTimeCompare(got, a.key) != 1 {
		return ErrMismatch
	}
	return nil
}
