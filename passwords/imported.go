package passwords

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"unicode/utf16"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/md4"       //nolint:staticcheck // Auth0 imports name md4; verification only
	"golang.org/x/crypto/ripemd160" //nolint:staticcheck // Auth0 imports name ripemd160; verification only
	"golang.org/x/crypto/scrypt"
)

// Imported hashes (Auth0's custom_password_hash) are stored as the prefix
// below followed by the object as it came, in canonical JSON: the object is
// the whole description of how to verify the password, it exports back
// unchanged, and every Verify validates it again (a row edited behind
// Authgraph's back gets the same ceilings as an import).
const importedPrefix = "$auth0$"

// Ceilings of imported key-derivation functions, checked when the hash is
// imported and again at every Verify, so that a hostile import file cannot
// make one login cost more than bcrypt at the cost ceiling does (about a
// second of CPU) or more than 256 MiB of memory.
const (
	// maxPBKDF2Iterations bounds i; maxPBKDF2Work bounds i × the number of
	// digest blocks the key length needs (each block repeats the iterations).
	maxPBKDF2Iterations = 2_000_000
	maxPBKDF2Work       = 4_000_000
	maxPBKDF2KeyLen     = 256
	// maxScryptWork bounds N·r·p (time); with p ≥ 1 it also bounds the
	// memory 128·N·r to 128 MiB (N=131072, r=8).
	maxScryptWork   = 1 << 20
	maxScryptKeyLen = 256
	maxArgonLanes   = 16
	// maxArgonWork bounds m·t (KiB × passes) of imported argon2 hashes, on
	// top of the native ceilings on m and t: 512 MiB of memory passes, e.g.
	// 256 MiB × 2 or 64 MiB × 8.
	maxArgonWork = 1 << 19
	maxValueLen  = 4096 // hash.value, salt.value, key.value in characters
	maxSaltBytes = 1024
	maxKeyBytes  = 1024
)

// Auth0's row error codes (the JSON-schema validator's names).
const (
	CodeAdditionalProperties = "OBJECT_ADDITIONAL_PROPERTIES"
	CodeRequired             = "OBJECT_MISSING_REQUIRED_PROPERTY"
	CodeEnumMismatch         = "ENUM_MISMATCH"
	CodeInvalidType          = "INVALID_TYPE"
	CodeInvalidFormat        = "INVALID_FORMAT"
	CodePattern              = "PATTERN"
	CodeMinimum              = "MINIMUM"
	CodeMaximum              = "MAXIMUM"
)

// ImportError refuses an imported password hash. Code is Auth0's row error
// code, Path the offending property (custom_password_hash.hash.encoding...).
// Messages never contain the hash, the salt or the key.
type ImportError struct {
	Code    string
	Path    string
	Message string
}

func (e *ImportError) Error() string {
	if e.Path == "" {
		return e.Code + ": " + e.Message
	}
	return e.Code + ": " + e.Path + ": " + e.Message
}

func importErr(code, path, format string, a ...any) *ImportError {
	return &ImportError{Code: code, Path: path, Message: fmt.Sprintf(format, a...)}
}

// FromAuth0Bcrypt validates an Auth0 password_hash (bcrypt $2a$, $2b$ or
// $2y$, cost at most 14) and returns the string to store.
func FromAuth0Bcrypt(h string) (string, error) {
	if !isBcrypt(h) {
		return "", importErr(CodePattern, "password_hash", "must be a bcrypt hash ($2a$, $2b$ or $2y$)")
	}
	cost, err := bcrypt.Cost([]byte(h))
	if err != nil || len(h) != 60 {
		return "", importErr(CodeInvalidFormat, "password_hash", "is not a valid bcrypt hash")
	}
	if cost > maxBcryptCost {
		return "", importErr(CodeMaximum, "password_hash", "bcrypt cost %d is above the maximum %d", cost, maxBcryptCost)
	}
	return h, nil
}

func isBcrypt(h string) bool {
	return strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")
}

// customHash is Auth0's custom_password_hash object.
type customHash struct {
	Algorithm       string         `json:"algorithm"`
	Hash            hashField      `json:"hash"`
	Salt            *saltField     `json:"salt,omitempty"`
	Password        *passwordField `json:"password,omitempty"`
	Keylen          *int           `json:"keylen,omitempty"`
	Cost            *int           `json:"cost,omitempty"`
	BlockSize       *int           `json:"blockSize,omitempty"`
	Parallelization *int           `json:"parallelization,omitempty"`
}

type hashField struct {
	Value    string    `json:"value"`
	Encoding string    `json:"encoding,omitempty"`
	Digest   string    `json:"digest,omitempty"`
	Key      *keyField `json:"key,omitempty"`
}

type keyField struct {
	Value    string `json:"value"`
	Encoding string `json:"encoding,omitempty"`
}

type saltField struct {
	Value    string `json:"value"`
	Encoding string `json:"encoding,omitempty"`
	Position string `json:"position,omitempty"`
}

type passwordField struct {
	Encoding string `json:"encoding,omitempty"`
}

const root = "custom_password_hash"

// FromAuth0Custom validates an Auth0 custom_password_hash object and returns
// the string to store in identity.password_hash. Every algorithm of Auth0's
// schema is accepted (argon2, bcrypt, hmac, ldap, md4, md5, sha1, sha256,
// sha512, pbkdf2, scrypt) except the digests Go has no implementation of
// (whirlpool, mdc2); anything else is an *ImportError.
func FromAuth0Custom(custom json.RawMessage) (string, error) {
	c, err := decodeCustom(custom)
	if err != nil {
		return "", err
	}
	if _, err := compile(c); err != nil {
		return "", err
	}
	return importedPrefix + canonical(c), nil
}

// canonical is c as compact JSON, properties in Auth0's order, values as
// they came.
func canonical(c *customHash) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		panic(err) // strings, ints and pointers to them always encode
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// decodeCustom parses the object strictly: unknown properties, wrong types
// and missing required properties are refused with the path that is wrong.
func decodeCustom(raw json.RawMessage) (*customHash, *ImportError) {
	top, e := object(raw, root, "algorithm", "hash", "salt", "password", "keylen", "cost", "blockSize", "parallelization")
	if e != nil {
		return nil, e
	}
	c := &customHash{}
	if e := required(top, root, "algorithm", "hash"); e != nil {
		return nil, e
	}
	if e := str(top["algorithm"], root+".algorithm", &c.Algorithm); e != nil {
		return nil, e
	}
	h, e := object(top["hash"], root+".hash", "value", "encoding", "digest", "key")
	if e != nil {
		return nil, e
	}
	if e := required(h, root+".hash", "value"); e != nil {
		return nil, e
	}
	for name, dst := range map[string]*string{"value": &c.Hash.Value, "encoding": &c.Hash.Encoding, "digest": &c.Hash.Digest} {
		if v, ok := h[name]; ok {
			if e := str(v, root+".hash."+name, dst); e != nil {
				return nil, e
			}
		}
	}
	if v, ok := h["key"]; ok {
		k, e := object(v, root+".hash.key", "value", "encoding")
		if e != nil {
			return nil, e
		}
		if e := required(k, root+".hash.key", "value"); e != nil {
			return nil, e
		}
		c.Hash.Key = &keyField{}
		if e := str(k["value"], root+".hash.key.value", &c.Hash.Key.Value); e != nil {
			return nil, e
		}
		if v, ok := k["encoding"]; ok {
			if e := str(v, root+".hash.key.encoding", &c.Hash.Key.Encoding); e != nil {
				return nil, e
			}
		}
	}
	if v, ok := top["salt"]; ok {
		s, e := object(v, root+".salt", "value", "encoding", "position")
		if e != nil {
			return nil, e
		}
		if e := required(s, root+".salt", "value"); e != nil {
			return nil, e
		}
		c.Salt = &saltField{}
		for name, dst := range map[string]*string{"value": &c.Salt.Value, "encoding": &c.Salt.Encoding, "position": &c.Salt.Position} {
			if v, ok := s[name]; ok {
				if e := str(v, root+".salt."+name, dst); e != nil {
					return nil, e
				}
			}
		}
	}
	if v, ok := top["password"]; ok {
		p, e := object(v, root+".password", "encoding")
		if e != nil {
			return nil, e
		}
		c.Password = &passwordField{}
		if v, ok := p["encoding"]; ok {
			if e := str(v, root+".password.encoding", &c.Password.Encoding); e != nil {
				return nil, e
			}
		}
	}
	for name, dst := range map[string]**int{"keylen": &c.Keylen, "cost": &c.Cost, "blockSize": &c.BlockSize, "parallelization": &c.Parallelization} {
		if v, ok := top[name]; ok {
			n, e := integer(v, root+"."+name)
			if e != nil {
				return nil, e
			}
			*dst = &n
		}
	}
	return c, nil
}

// object decodes an object whose properties must be among allowed.
func object(raw json.RawMessage, path string, allowed ...string) (map[string]json.RawMessage, *ImportError) {
	var m map[string]json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &m) != nil {
		return nil, importErr(CodeInvalidType, path, "expected type object")
	}
	var extra []string
	for k := range m {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sortStrings(extra)
		return nil, importErr(CodeAdditionalProperties, path, "additional properties not allowed: %s", strings.Join(extra, ","))
	}
	return m, nil
}

func required(m map[string]json.RawMessage, path string, names ...string) *ImportError {
	for _, n := range names {
		if _, ok := m[n]; !ok {
			return importErr(CodeRequired, path, "missing required property: %s", n)
		}
	}
	return nil
}

func str(raw json.RawMessage, path string, dst *string) *ImportError {
	if err := json.Unmarshal(raw, dst); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return importErr(CodeInvalidType, path, "expected type string")
	}
	if len(*dst) > maxValueLen {
		return importErr(CodeMaximum, path, "longer than %d characters", maxValueLen)
	}
	return nil
}

func integer(raw json.RawMessage, path string) (int, *ImportError) {
	var n int
	if err := json.Unmarshal(raw, &n); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return 0, importErr(CodeInvalidType, path, "expected type integer")
	}
	return n, nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// compiled is a validated custom hash, ready to verify.
type compiled struct {
	alg        string
	pwEncoding string
	salt       []byte
	saltSuffix bool
	want       []byte           // the expected digest or derived key
	newHash    func() hash.Hash // md*, sha*, hmac, ldap, pbkdf2
	key        []byte           // hmac
	iter       int              // pbkdf2
	keyLen     int              // pbkdf2
	n, r, p    int              // scrypt
	bcrypt     []byte
	argon      argonParams
	argonType  string // argon2id, argon2i, argon2d
}

// digests Auth0 accepts for hmac and md*/sha*, by name.
var digests = map[string]func() hash.Hash{
	"md4":       md4.New,
	"md5":       md5.New,
	"ripemd160": ripemd160.New,
	"sha1":      sha1.New,
	"sha224":    sha256.New224,
	"sha256":    sha256.New,
	"sha384":    sha512.New384,
	"sha512":    sha512.New,
}

// Digests in Auth0's lists that Go does not implement.
var unsupportedDigests = map[string]bool{"whirlpool": true, "mdc2": true}

func compile(c *customHash) (*compiled, *ImportError) {
	x := &compiled{alg: c.Algorithm, pwEncoding: "utf8"}
	if c.Password != nil && c.Password.Encoding != "" {
		switch c.Password.Encoding {
		case "ascii", "utf8", "utf16le", "ucs2", "latin1", "binary":
			x.pwEncoding = c.Password.Encoding
		default:
			return nil, importErr(CodeEnumMismatch, root+".password.encoding", "no enum match for %q (ascii, utf8, utf16le, ucs2, latin1, binary)", c.Password.Encoding)
		}
	}
	if c.Salt != nil {
		var e *ImportError
		if x.salt, e = decodeBytes(c.Salt.Value, orDefault(c.Salt.Encoding, "utf8"), root+".salt"); e != nil {
			return nil, e
		}
		if len(x.salt) > maxSaltBytes {
			return nil, importErr(CodeMaximum, root+".salt.value", "longer than %d bytes", maxSaltBytes)
		}
		switch c.Salt.Position {
		case "", "prefix":
		case "suffix":
			x.saltSuffix = true
		default:
			return nil, importErr(CodeEnumMismatch, root+".salt.position", "no enum match for %q (prefix, suffix)", c.Salt.Position)
		}
	}
	noSalt := func() *ImportError {
		if c.Salt != nil {
			return importErr(CodeAdditionalProperties, root, "salt is not allowed with algorithm %s", c.Algorithm)
		}
		return nil
	}
	utf8Only := func() *ImportError {
		if c.Hash.Encoding != "" && c.Hash.Encoding != "utf8" {
			return importErr(CodeEnumMismatch, root+".hash.encoding", "must be utf8 with algorithm %s", c.Algorithm)
		}
		return nil
	}
	binary := func(size int) *ImportError {
		switch c.Hash.Encoding {
		case "hex", "base64":
		case "":
			return importErr(CodeRequired, root+".hash", "missing required property: encoding (hex or base64 with algorithm %s)", c.Algorithm)
		default:
			return importErr(CodeEnumMismatch, root+".hash.encoding", "must be hex or base64 with algorithm %s", c.Algorithm)
		}
		var e *ImportError
		if x.want, e = decodeBytes(c.Hash.Value, c.Hash.Encoding, root+".hash"); e != nil {
			return e
		}
		if size > 0 && len(x.want) != size {
			return importErr(CodeInvalidFormat, root+".hash.value", "a %s hash is %d bytes, this one decodes to %d", c.Algorithm, size, len(x.want))
		}
		return nil
	}
	switch c.Algorithm {
	case "md4", "md5", "sha1", "sha256", "sha512":
		x.newHash = digests[c.Algorithm]
		if e := binary(x.newHash().Size()); e != nil {
			return nil, e
		}
	case "hmac":
		if c.Hash.Digest == "" {
			return nil, importErr(CodeRequired, root+".hash", "missing required property: digest")
		}
		x.newHash = digests[c.Hash.Digest]
		if x.newHash == nil {
			if unsupportedDigests[c.Hash.Digest] {
				return nil, importErr(CodeEnumMismatch, root+".hash.digest", "digest %s is not supported by Authgraph", c.Hash.Digest)
			}
			return nil, importErr(CodeEnumMismatch, root+".hash.digest", "no enum match for %q (md4, md5, ripemd160, sha1, sha224, sha256, sha384, sha512)", c.Hash.Digest)
		}
		if c.Hash.Key == nil {
			return nil, importErr(CodeRequired, root+".hash", "missing required property: key")
		}
		var e *ImportError
		if x.key, e = decodeBytes(c.Hash.Key.Value, orDefault(c.Hash.Key.Encoding, "utf8"), root+".hash.key"); e != nil {
			return nil, e
		}
		if len(x.key) > maxKeyBytes {
			return nil, importErr(CodeMaximum, root+".hash.key.value", "longer than %d bytes", maxKeyBytes)
		}
		if e := binary(x.newHash().Size()); e != nil {
			return nil, e
		}
	case "ldap":
		if e := firstErr(noSalt(), utf8Only()); e != nil {
			return nil, e
		}
		if e := x.compileLDAP(c.Hash.Value); e != nil {
			return nil, e
		}
	case "bcrypt":
		if e := utf8Only(); e != nil {
			return nil, e
		}
		if _, err := FromAuth0Bcrypt(c.Hash.Value); err != nil {
			ie := err.(*ImportError)
			ie.Path = root + ".hash.value"
			return nil, ie
		}
		x.bcrypt = []byte(c.Hash.Value)
	case "argon2":
		if e := firstErr(noSalt(), utf8Only()); e != nil {
			return nil, e
		}
		if e := x.compileArgon2(c.Hash.Value); e != nil {
			return nil, e
		}
	case "pbkdf2":
		if e := firstErr(noSalt(), utf8Only()); e != nil {
			return nil, e
		}
		if e := x.compilePBKDF2(c.Hash.Value); e != nil {
			return nil, e
		}
	case "scrypt":
		if c.Keylen == nil {
			return nil, importErr(CodeRequired, root, "missing required property: keylen (with algorithm scrypt)")
		}
		x.n, x.r, x.p = intOr(c.Cost, 16384), intOr(c.BlockSize, 8), intOr(c.Parallelization, 1)
		switch {
		case *c.Keylen < 1:
			return nil, importErr(CodeMinimum, root+".keylen", "must be an integer greater than zero")
		case *c.Keylen > maxScryptKeyLen:
			return nil, importErr(CodeMaximum, root+".keylen", "must be at most %d", maxScryptKeyLen)
		case x.n < 2 || x.n&(x.n-1) != 0:
			return nil, importErr(CodeInvalidFormat, root+".cost", "must be a power of two greater than one")
		case x.r < 1:
			return nil, importErr(CodeMinimum, root+".blockSize", "must be a positive integer")
		case x.p < 1:
			return nil, importErr(CodeMinimum, root+".parallelization", "must be a positive integer")
		case x.n > maxScryptWork || x.r > maxScryptWork || x.p > maxScryptWork || x.n*x.r*x.p > maxScryptWork:
			return nil, importErr(CodeMaximum, root, "scrypt cost·blockSize·parallelization is above the maximum %d", maxScryptWork)
		}
		if e := binary(*c.Keylen); e != nil {
			return nil, e
		}
	default:
		return nil, importErr(CodeEnumMismatch, root+".algorithm", "no enum match for %q (argon2, bcrypt, hmac, ldap, md4, md5, sha1, sha256, sha512, pbkdf2, scrypt)", c.Algorithm)
	}
	return x, nil
}

func firstErr(es ...*ImportError) *ImportError {
	for _, e := range es {
		if e != nil {
			return e
		}
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// decodeBytes decodes value (property path+".value") in encoding (property
// path+".encoding"): hex in either case, base64 standard or URL-safe, with
// or without padding, or utf8.
func decodeBytes(value, encoding, path string) ([]byte, *ImportError) {
	switch encoding {
	case "utf8":
		return []byte(value), nil
	case "hex":
		b, err := hex.DecodeString(value)
		if err != nil {
			return nil, importErr(CodeInvalidFormat, path+".value", "is not valid hex")
		}
		return b, nil
	case "base64":
		b, err := decodeB64(value)
		if err != nil {
			return nil, importErr(CodeInvalidFormat, path+".value", "is not valid base64")
		}
		return b, nil
	default:
		return nil, importErr(CodeEnumMismatch, path+".encoding", "no enum match for %q (base64, hex, utf8)", encoding)
	}
}

func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// ldapSchemes are RFC 2307 userPassword schemes (OpenLDAP's names); a
// salted scheme appends the salt to the password and to the digest.
var ldapSchemes = map[string]struct {
	digest string
	salted bool
}{
	"MD5": {"md5", false}, "SMD5": {"md5", true},
	"SHA": {"sha1", false}, "SSHA": {"sha1", true},
	"SHA224": {"sha224", false}, "SSHA224": {"sha224", true},
	"SHA256": {"sha256", false}, "SSHA256": {"sha256", true},
	"SHA384": {"sha384", false}, "SSHA384": {"sha384", true},
	"SHA512": {"sha512", false}, "SSHA512": {"sha512", true},
}

func (x *compiled) compileLDAP(v string) *ImportError {
	path := root + ".hash.value"
	end := strings.IndexByte(v, '}')
	if !strings.HasPrefix(v, "{") || end < 0 {
		return importErr(CodePattern, path, "must be an RFC 2307 value such as {SSHA}base64")
	}
	scheme := strings.ToUpper(v[1:end])
	s, ok := ldapSchemes[scheme]
	if !ok {
		// The braces may hold most of a malformed hash: never echo them.
		return importErr(CodeInvalidFormat, path, "the LDAP scheme is not supported (MD5, SMD5, SHA, SSHA, SHA224/256/384/512 and their salted forms)")
	}
	b, err := decodeB64(v[end+1:])
	if err != nil {
		return importErr(CodeInvalidFormat, path, "the digest after {%s} is not valid base64", scheme)
	}
	x.newHash = digests[s.digest]
	size := x.newHash().Size()
	switch {
	case !s.salted && len(b) != size, s.salted && (len(b) <= size || len(b)-size > maxSaltBytes):
		return importErr(CodeInvalidFormat, path, "a {%s} value has the wrong length", scheme)
	}
	x.want, x.salt, x.saltSuffix = b[:size], b[size:], true
	return nil
}

// pbkdf2Digests maps the digest names Auth0 lists for pbkdf2-<digest>
// (OpenSSL's names and aliases, case-insensitive) to Go's.
var pbkdf2Digests = map[string]string{
	"rsa-md4": "md4", "md4": "md4", "md4withrsaencryption": "md4",
	"rsa-md5": "md5", "md5": "md5", "md5withrsaencryption": "md5", "ssl3-md5": "md5",
	"rsa-ripemd160": "ripemd160", "ripemd": "ripemd160", "ripemd160": "ripemd160", "ripemd160withrsa": "ripemd160", "rmd160": "ripemd160",
	"rsa-sha1": "sha1", "rsa-sha1-2": "sha1", "sha1": "sha1", "sha1withrsaencryption": "sha1", "ssl3-sha1": "sha1",
	"rsa-sha224": "sha224", "sha224": "sha224", "sha224withrsaencryption": "sha224",
	"rsa-sha256": "sha256", "sha256": "sha256", "sha256withrsaencryption": "sha256",
	"rsa-sha384": "sha384", "sha384": "sha384", "sha384withrsaencryption": "sha384",
	"rsa-sha512": "sha512", "sha512": "sha512", "sha512withrsaencryption": "sha512",
	"rsa-mdc2": "mdc2", "mdc2": "mdc2", "mdc2withrsa": "mdc2", "whirlpool": "whirlpool",
}

// compilePBKDF2 parses $pbkdf2-<digest>[$i=<iterations>,l=<keylen>]$<salt>$<hash>
// (PHC; salt and hash in base64 without padding; i defaults to 100000 and
// l to 64, as in Auth0).
func (x *compiled) compilePBKDF2(v string) *ImportError {
	path := root + ".hash.value"
	parts := strings.Split(v, "$")
	if len(parts) < 4 || len(parts) > 5 || parts[0] != "" || !strings.HasPrefix(parts[1], "pbkdf2-") {
		return importErr(CodePattern, path, "must be a PHC string $pbkdf2-<digest>$i=<iterations>,l=<keylen>$<salt>$<hash>")
	}
	name := strings.TrimPrefix(parts[1], "pbkdf2-")
	d, ok := pbkdf2Digests[strings.ToLower(name)]
	if !ok || digests[d] == nil {
		if ok {
			return importErr(CodeInvalidFormat, path, "pbkdf2 digest %s is not supported by Authgraph", name)
		}
		return importErr(CodeInvalidFormat, path, "unknown pbkdf2 digest %q", name)
	}
	x.newHash = digests[d]
	x.iter, x.keyLen = 100000, 64
	if len(parts) == 5 {
		for _, kv := range strings.Split(parts[2], ",") {
			k, val, _ := strings.Cut(kv, "=")
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || len(val) > 10 {
				return importErr(CodeInvalidFormat, path, "pbkdf2 parameter %q must be a positive integer", k)
			}
			switch k {
			case "i":
				x.iter = n
			case "l":
				x.keyLen = n
			default:
				return importErr(CodeInvalidFormat, path, "unknown pbkdf2 parameter %q (i, l)", k)
			}
		}
	}
	salt, err1 := decodeB64(parts[len(parts)-2])
	want, err2 := decodeB64(parts[len(parts)-1])
	if err1 != nil || err2 != nil || len(salt) > maxSaltBytes {
		return importErr(CodeInvalidFormat, path, "salt and hash must be base64")
	}
	blocks := (x.keyLen + x.newHash().Size() - 1) / x.newHash().Size()
	switch {
	case x.keyLen > maxPBKDF2KeyLen:
		return importErr(CodeMaximum, path, "pbkdf2 key length %d is above the maximum %d", x.keyLen, maxPBKDF2KeyLen)
	case x.iter > maxPBKDF2Iterations || x.iter*blocks > maxPBKDF2Work:
		return importErr(CodeMaximum, path, "pbkdf2 iterations %d are above the maximum (%d, and %d × blocks of the digest)", x.iter, maxPBKDF2Iterations, maxPBKDF2Work)
	case len(want) != x.keyLen:
		return importErr(CodeInvalidFormat, path, "the hash is %d bytes, l says %d", len(want), x.keyLen)
	}
	x.salt, x.want = salt, want
	return nil
}

// compileArgon2 parses $argon2{id,i,d}$v=19$m=..,t=..,p=..$salt$hash with
// the ceilings of native argon2id hashes.
func (x *compiled) compileArgon2(v string) *ImportError {
	path := root + ".hash.value"
	parts := strings.Split(v, "$")
	if len(parts) != 6 || parts[0] != "" {
		return importErr(CodePattern, path, "must be a PHC string $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>")
	}
	switch parts[1] {
	case "argon2id", "argon2i", "argon2d":
		x.argonType = parts[1]
	default:
		return importErr(CodePattern, path, "unknown argon2 variant %q (argon2id, argon2i, argon2d)", parts[1])
	}
	if parts[2] != "v=19" {
		return importErr(CodeInvalidFormat, path, "only argon2 version 19 is supported")
	}
	var m, t, p uint64
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, val, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil || n == 0 || seen[k] {
			return importErr(CodeInvalidFormat, path, "argon2 parameter %q must be a positive integer, given once", k)
		}
		seen[k] = true
		switch k {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			p = n
		default:
			return importErr(CodeInvalidFormat, path, "unknown argon2 parameter %q (m, t, p)", k)
		}
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	switch {
	case m == 0 || t == 0 || p == 0:
		return importErr(CodeInvalidFormat, path, "argon2 parameters m, t and p are required")
	case err1 != nil || err2 != nil || len(salt) < 8 || len(salt) > 64:
		return importErr(CodeInvalidFormat, path, "salt and hash must be base64 without padding, the salt 8 to 64 bytes")
	case len(key) < 16 || len(key) > 64:
		return importErr(CodeInvalidFormat, path, "the hash must be 16 to 64 bytes")
	case m > maxMemoryKiB || t > maxIterations || p > maxArgonLanes || m*t > maxArgonWork:
		return importErr(CodeMaximum, path, "argon2 cost is above the maximum (m ≤ %d, t ≤ %d, m·t ≤ %d, p ≤ %d)", maxMemoryKiB, maxIterations, maxArgonWork, maxArgonLanes)
	case m < 8*p:
		return importErr(CodeInvalidFormat, path, "argon2 m must be at least 8×p")
	}
	x.argon = argonParams{m: uint32(m), t: uint32(t), p: uint8(p), salt: salt, key: key}
	return nil
}

// encodePassword turns the typed password into the bytes the original
// system hashed, with Node.js's Buffer semantics (Auth0's): latin1, binary
// and ascii keep the low byte of each UTF-16 code unit, ucs2 is utf16le.
func encodePassword(pw, encoding string) []byte {
	switch encoding {
	case "utf16le", "ucs2":
		units := utf16.Encode([]rune(pw))
		b := make([]byte, 2*len(units))
		for i, u := range units {
			b[2*i], b[2*i+1] = byte(u), byte(u>>8)
		}
		return b
	case "latin1", "binary", "ascii":
		units := utf16.Encode([]rune(pw))
		b := make([]byte, len(units))
		for i, u := range units {
			b[i] = byte(u)
		}
		return b
	default:
		return []byte(pw)
	}
}

// salted is the password with the salt at its position.
func (x *compiled) salted(pw []byte) []byte {
	out := make([]byte, 0, len(pw)+len(x.salt))
	if x.saltSuffix {
		return append(append(out, pw...), x.salt...)
	}
	return append(append(out, x.salt...), pw...)
}

// dummyWork spends one argon2id verification; fast imported digests call it
// so that a wrong password costs what an unknown user (VerifyDummy) costs.
var dummyWork = func(pw string) { _ = dummyArgon.verify(pw) }

// prepareImported decodes an imported hash: the memory its verification
// holds (limiter.go) and the verification. Fast digests spend the dummy
// argon2id (dummyWork), so they hold what a native verification holds.
func prepareImported(stored string) (int64, func(password string) error, error) {
	c, e := decodeCustom(json.RawMessage(strings.TrimPrefix(stored, importedPrefix)))
	if e != nil {
		return 0, nil, ErrUnsupported
	}
	x, e := compile(c)
	if e != nil {
		return 0, nil, ErrUnsupported
	}
	var mem int64
	switch x.alg {
	case "md4", "md5", "sha1", "sha256", "sha512", "ldap", "hmac":
		mem = argonMemory(MemoryKiB)
	case "scrypt":
		mem = scryptMemory(x.n, x.r, x.p)
	case "argon2":
		mem = argonMemory(x.argon.m)
	case "pbkdf2", "bcrypt":
	default:
		return 0, nil, ErrUnsupported
	}
	return mem, func(password string) error { return x.verify(password) }, nil
}

func (x *compiled) verify(password string) error {
	pw := encodePassword(password, x.pwEncoding)
	got, want := []byte(nil), x.want
	switch x.alg {
	case "md4", "md5", "sha1", "sha256", "sha512", "ldap":
		dummyWork(password)
		h := x.newHash()
		h.Write(x.salted(pw))
		got = h.Sum(nil)
	case "hmac":
		dummyWork(password)
		m := hmac.New(x.newHash, x.key)
		m.Write(x.salted(pw))
		got = m.Sum(nil)
	case "pbkdf2":
		var err error
		if got, err = pbkdf2.Key(x.newHash, string(pw), x.salt, x.iter, x.keyLen); err != nil {
			return ErrUnsupported
		}
	case "scrypt":
		var err error
		if got, err = scrypt.Key(pw, x.salt, x.n, x.r, x.p, len(x.want)); err != nil {
			return ErrUnsupported
		}
	case "bcrypt":
		if bcrypt.CompareHashAndPassword(x.bcrypt, x.salted(pw)) != nil {
			return ErrMismatch
		}
		return nil
	case "argon2":
		a := x.argon
		switch x.argonType {
		case "argon2id":
			got = argon2.IDKey(pw, a.salt, a.t, a.m, a.p, uint32(len(a.key)))
		case "argon2i":
			got = argon2.Key(pw, a.salt, a.t, a.m, a.p, uint32(len(a.key)))
		default:
			got = argon2dKey(pw, a.salt, nil, nil, a.t, a.m, a.p, uint32(len(a.key)))
		}
		want = a.key
	default:
		return ErrUnsupported
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// Export returns Auth0's representation of a stored hash for a lossless
// export: bcrypt as password_hash, argon2id (Authgraph's own hashes) as a
// custom_password_hash of algorithm argon2, imported custom hashes as they
// came. Both are empty for a hash Authgraph does not understand.
func Export(stored string) (passwordHash string, custom json.RawMessage) {
	switch {
	case isBcrypt(stored):
		if _, err := FromAuth0Bcrypt(stored); err == nil {
			return stored, nil
		}
	case strings.HasPrefix(stored, "$argon2id$"):
		if _, err := parseArgon2id(stored); err == nil {
			c := &customHash{Algorithm: "argon2", Hash: hashField{Value: stored, Encoding: "utf8"}}
			return "", json.RawMessage(canonical(c))
		}
	case strings.HasPrefix(stored, importedPrefix):
		raw := strings.TrimPrefix(stored, importedPrefix)
		if c, e := decodeCustom(json.RawMessage(raw)); e == nil {
			if _, e := compile(c); e == nil {
				return "", json.RawMessage(canonical(c))
			}
		}
	}
	return "", nil
}
