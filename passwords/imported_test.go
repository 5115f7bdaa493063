package passwords

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/md4"
	xpbkdf2 "golang.org/x/crypto/pbkdf2"
	"golang.org/x/crypto/ripemd160"
	"golang.org/x/crypto/scrypt"
)

// The expected values below are computed with the standard library and
// x/crypto directly, never through the code under test.

func digest(h func() hash.Hash, parts ...[]byte) []byte {
	d := h()
	for _, p := range parts {
		d.Write(p)
	}
	return d.Sum(nil)
}

func mac(h func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func b64std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
func b64raw(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

type importCase struct {
	name   string
	pw     string
	custom string
}

// importCases returns one custom_password_hash per algorithm and per
// option that changes the verification.
func importCases(t testing.TB) []importCase {
	pw := "Tr0ub4dor&3-ünï"
	salt := []byte("NaCl-salt")
	var cs []importCase
	add := func(name, custom string) { cs = append(cs, importCase{name, pw, custom}) }

	for _, d := range []struct {
		name string
		h    func() hash.Hash
	}{{"md4", md4.New}, {"md5", md5.New}, {"sha1", sha1.New}, {"sha256", sha256.New}, {"sha512", sha512.New}} {
		add(d.name+"/hex", fmt.Sprintf(`{"algorithm":%q,"hash":{"value":%q,"encoding":"hex"}}`, d.name, hex.EncodeToString(digest(d.h, []byte(pw)))))
		add(d.name+"/HEX", fmt.Sprintf(`{"algorithm":%q,"hash":{"value":%q,"encoding":"hex"}}`, d.name, strings.ToUpper(hex.EncodeToString(digest(d.h, []byte(pw))))))
		add(d.name+"/base64+prefix", fmt.Sprintf(`{"algorithm":%q,"hash":{"value":%q,"encoding":"base64"},"salt":{"value":%q,"position":"prefix"}}`,
			d.name, b64std(digest(d.h, salt, []byte(pw))), salt))
		add(d.name+"/urlbase64+suffix+hexsalt", fmt.Sprintf(`{"algorithm":%q,"hash":{"value":%q,"encoding":"base64"},"salt":{"value":%q,"encoding":"hex","position":"suffix"}}`,
			d.name, base64.RawURLEncoding.EncodeToString(digest(d.h, []byte(pw), salt)), hex.EncodeToString(salt)))
	}
	// Password encodings (Node.js Buffer semantics).
	u16 := utf16.Encode([]rune(pw))
	le := make([]byte, 0, 2*len(u16))
	lat := make([]byte, 0, len(u16))
	for _, u := range u16 {
		le = append(le, byte(u), byte(u>>8))
		lat = append(lat, byte(u))
	}
	for _, enc := range []string{"utf16le", "ucs2"} {
		add("sha1/password "+enc, fmt.Sprintf(`{"algorithm":"sha1","hash":{"value":%q,"encoding":"hex"},"password":{"encoding":%q}}`, hex.EncodeToString(digest(sha1.New, le)), enc))
	}
	for _, enc := range []string{"latin1", "binary", "ascii"} {
		add("md5/password "+enc, fmt.Sprintf(`{"algorithm":"md5","hash":{"value":%q,"encoding":"hex"},"salt":{"value":%q,"encoding":"base64"},"password":{"encoding":%q}}`,
			hex.EncodeToString(digest(md5.New, salt, lat)), b64std(salt), enc))
	}
	add("sha256/password utf8", fmt.Sprintf(`{"algorithm":"sha256","hash":{"value":%q,"encoding":"base64"},"password":{"encoding":"utf8"}}`, b64std(digest(sha256.New, []byte(pw)))))

	for _, d := range []struct {
		name string
		h    func() hash.Hash
	}{{"md4", md4.New}, {"md5", md5.New}, {"ripemd160", ripemd160.New}, {"sha1", sha1.New}, {"sha224", sha256.New224},
		{"sha256", sha256.New}, {"sha384", sha512.New384}, {"sha512", sha512.New}} {
		key := []byte("hmac-key-" + d.name)
		add("hmac-"+d.name+"/utf8 key", fmt.Sprintf(`{"algorithm":"hmac","hash":{"value":%q,"encoding":"hex","digest":%q,"key":{"value":%q}}}`,
			hex.EncodeToString(mac(d.h, key, []byte(pw))), d.name, key))
		add("hmac-"+d.name+"/base64 key+salt", fmt.Sprintf(`{"algorithm":"hmac","hash":{"value":%q,"encoding":"base64","digest":%q,"key":{"value":%q,"encoding":"base64"}},"salt":{"value":%q,"position":"suffix"}}`,
			b64std(mac(d.h, key, []byte(pw), salt)), d.name, b64std(key), salt))
	}

	for _, s := range []struct {
		scheme string
		h      func() hash.Hash
	}{{"MD5", md5.New}, {"SHA", sha1.New}, {"SHA256", sha256.New}, {"SHA384", sha512.New384}, {"SHA512", sha512.New}} {
		add("ldap/{"+s.scheme+"}", fmt.Sprintf(`{"algorithm":"ldap","hash":{"value":%q}}`, "{"+s.scheme+"}"+b64std(digest(s.h, []byte(pw)))))
		add("ldap/{S"+s.scheme+"}", fmt.Sprintf(`{"algorithm":"ldap","hash":{"value":%q,"encoding":"utf8"}}`,
			"{S"+s.scheme+"}"+b64std(append(digest(s.h, []byte(pw), salt), salt...))))
	}
	add("ldap/{ssha} lower case", fmt.Sprintf(`{"algorithm":"ldap","hash":{"value":%q}}`, "{ssha}"+b64std(append(digest(sha1.New, []byte(pw), salt), salt...))))

	for _, d := range []struct {
		id string
		h  func() hash.Hash
	}{{"sha1", sha1.New}, {"sha256", sha256.New}, {"sha512", sha512.New}, {"md5", md5.New}, {"RSA-SHA256", sha256.New}, {"sha512WithRSAEncryption", sha512.New}} {
		for _, l := range []int{20, 32, 64} {
			key := xpbkdf2.Key([]byte(pw), salt, 1000, l, d.h)
			add(fmt.Sprintf("pbkdf2-%s/l=%d", d.id, l), fmt.Sprintf(`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-%s$i=1000,l=%d$%s$%s","encoding":"utf8"}}`, d.id, l, b64raw(salt), b64raw(key)))
		}
	}
	add("pbkdf2-sha512/defaults", fmt.Sprintf(`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha512$%s$%s"}}`, b64raw(salt), b64raw(xpbkdf2.Key([]byte(pw), salt, 100000, 64, sha512.New))))

	for _, p := range []struct{ n, r, p, keylen int }{{16384, 8, 1, 32}, {1024, 4, 2, 64}} {
		key, err := scrypt.Key([]byte(pw), salt, p.n, p.r, p.p, p.keylen)
		if err != nil {
			t.Fatal(err)
		}
		add(fmt.Sprintf("scrypt/N=%d,r=%d,p=%d", p.n, p.r, p.p), fmt.Sprintf(`{"algorithm":"scrypt","hash":{"value":%q,"encoding":"base64"},"salt":{"value":%q,"encoding":"hex"},"keylen":%d,"cost":%d,"blockSize":%d,"parallelization":%d}`,
			b64std(key), hex.EncodeToString(salt), p.keylen, p.n, p.r, p.p))
	}
	defKey, _ := scrypt.Key([]byte(pw), salt, 16384, 8, 1, 16)
	add("scrypt/defaults", fmt.Sprintf(`{"algorithm":"scrypt","hash":{"value":%q,"encoding":"hex"},"salt":{"value":%q},"keylen":16}`, hex.EncodeToString(defKey), salt))

	bc, _ := bcrypt.GenerateFromPassword([]byte(pw), 4)
	add("bcrypt", fmt.Sprintf(`{"algorithm":"bcrypt","hash":{"value":%q}}`, bc))
	bcs, _ := bcrypt.GenerateFromPassword(append(append([]byte{}, salt...), pw...), 4)
	add("bcrypt/salt prefix", fmt.Sprintf(`{"algorithm":"bcrypt","hash":{"value":%q,"encoding":"utf8"},"salt":{"value":%q}}`, bcs, salt))
	bcy, _ := bcrypt.GenerateFromPassword([]byte(pw), 5)
	add("bcrypt/$2y$", fmt.Sprintf(`{"algorithm":"bcrypt","hash":{"value":%q}}`, "$2y$"+string(bcy[4:])))

	asalt := []byte("0123456789abcdef")
	add("argon2id", fmt.Sprintf(`{"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=4096,t=3,p=2$%s$%s"}}`, b64raw(asalt), b64raw(argon2.IDKey([]byte(pw), asalt, 3, 4096, 2, 32))))
	add("argon2i", fmt.Sprintf(`{"algorithm":"argon2","hash":{"value":"$argon2i$v=19$m=4096,t=2,p=1$%s$%s","encoding":"utf8"}}`, b64raw(asalt), b64raw(argon2.Key([]byte(pw), asalt, 2, 4096, 1, 24))))
	// argon2d has no x/crypto implementation: the expected value comes
	// from argon2Generic, which TestArgon2RFC9106 checks against the RFC's
	// argon2d test vector.
	add("argon2d", fmt.Sprintf(`{"algorithm":"argon2","hash":{"value":"$argon2d$v=19$m=1024,t=2,p=2$%s$%s"}}`, b64raw(asalt), b64raw(argon2dKey([]byte(pw), asalt, nil, nil, 2, 1024, 2, 32))))
	return cs
}

// withoutDummyWork skips the dummy argon2id of fast digests (tested by
// TestFastDigestsSpendTheDummyWork) to keep the test short.
func withoutDummyWork(t *testing.T) {
	orig := dummyWork
	dummyWork = func(string) {}
	t.Cleanup(func() { dummyWork = orig })
}

func TestImportedEveryAlgorithm(t *testing.T) {
	withoutDummyWork(t)
	for _, c := range importCases(t) {
		t.Run(c.name, func(t *testing.T) {
			stored, err := FromAuth0Custom(json.RawMessage(c.custom))
			if err != nil {
				t.Fatalf("FromAuth0Custom: %v", err)
			}
			if !strings.HasPrefix(stored, "$auth0$") {
				t.Fatalf("stored form %q", stored)
			}
			if err := Verify(stored, c.pw); err != nil {
				t.Fatalf("right password: %v", err)
			}
			for _, wrong := range []string{"", c.pw + "x", strings.ToUpper(c.pw), c.pw[:len(c.pw)-1]} {
				if err := Verify(stored, wrong); !errors.Is(err, ErrMismatch) {
					t.Fatalf("wrong password %q: %v", wrong, err)
				}
			}
			if !NeedsRehash(stored) || !IsSupported(stored) {
				t.Fatal("an imported hash must be supported and need a rehash")
			}
			// Lossless export: the object comes back as it came, and
			// importing it again verifies the same password.
			ph, custom := Export(stored)
			if ph != "" || custom == nil {
				t.Fatalf("Export = %q, %s", ph, custom)
			}
			var a, b any
			_ = json.Unmarshal([]byte(c.custom), &a)
			_ = json.Unmarshal(custom, &b)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("export changed the object:\n in  %s\n out %s", c.custom, custom)
			}
			again, err := FromAuth0Custom(custom)
			if err != nil || again != stored || Verify(again, c.pw) != nil {
				t.Fatalf("re-import of the export: %v", err)
			}
		})
	}
}

// TestAuth0DocumentedExamples verifies examples from Auth0's bulk import
// documentation whose password is known.
func TestAuth0DocumentedExamples(t *testing.T) {
	for _, c := range []struct{ pw, custom string }{
		// "generated from the string hello using a cost parameter of 10"
		{"hello", `{"algorithm":"bcrypt","hash":{"value":"$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"}}`},
		// The hmac and scrypt examples of the custom password hash section.
		{"test", `{"algorithm":"hmac","hash":{"value":"cg7f42jH39/2EaAU4wNd4s2lKIk=","encoding":"base64","digest":"sha1","key":{"value":"736868","encoding":"hex"}}}`},
		{"password", `{"algorithm":"scrypt","hash":{"value":"097f6197e1b41538f723e32aa7a68e8d76227d8e432ce5faa4882a913032db29","encoding":"hex"},"salt":{"value":"abc123","encoding":"utf8"},"keylen":32,"cost":4096}`},
		// A Gigya migration example (pbkdf2-sha1, 20-byte key).
		{"Test@123", `{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha1$i=10000,l=20$wJuJqLoUFsdXa8k3sFhRlA$XMGVWTbeKf4Xd+CGiuEZde8x7QA","encoding":"utf8"}}`},
	} {
		stored, err := FromAuth0Custom(json.RawMessage(c.custom))
		if err != nil {
			t.Fatalf("%s: %v", c.custom, err)
		}
		if err := Verify(stored, c.pw); err != nil {
			t.Errorf("%s with %q: %v", c.custom, c.pw, err)
		}
		if err := Verify(stored, c.pw+"!"); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s wrong password: %v", c.custom, err)
		}
	}
	// The remaining documented examples do not say their password; they
	// must at least import.
	for _, custom := range []string{
		`{"algorithm":"md4","hash":{"value":"AbuUujgF0pPPkJPSFRTpmA==","encoding":"base64"}}`,
		`{"algorithm":"sha256","hash":{"value":"d24e794fce503c3ddb1cd1ba1dd5d9b250cf9917336a0316fefd87fecf79200f","encoding":"hex"},"salt":{"value":"abc123","position":"prefix"}}`,
		`{"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=65536,t=2,p=1$J6Q/82PCyaNpYKRELJyTZg$m04qUAB8rexWDR4+/0f+SFB+4XMFxt7YAvAq2UycYos"}}`,
		`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-md4$i=100000,l=64$+N375B8q0Fw$fp2R9KAM4hK/votGHC5Fu+jhqbxUD8+Nic/EMSGvNC3UP/k7wSHI0uXluHRSkZfl/BOheYqNOemayG90ZaSSQw","encoding":"utf8"}}`,
		`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha512$i=100000,l=64$KNyFsA2rWoE$I2CQGI9H0JxdDf3kERRI97kPCGxh0KWBIV3MxyaS191gDGfzVBGyS4BibhgqWQ0/ails8mHuU9ckASxHOOq58w"}}`,
		`{"algorithm":"ldap","hash":{"value":"{SSHA384}/cgEjdoZh85DhurDeOQEMO1rMlAur93SVPbYe5XSD4lF7nNuvrBju5hUeg9A6agRemgSXGl5YuE=","encoding":"utf8"}}`,
	} {
		stored, err := FromAuth0Custom(json.RawMessage(custom))
		if err != nil {
			t.Errorf("%s: %v", custom, err)
			continue
		}
		if err := Verify(stored, "not the password"); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: %v", custom, err)
		}
	}
}

func TestImportErrors(t *testing.T) {
	big := func(n int) string { return strings.Repeat("a", n) }
	for _, c := range []struct{ custom, code, path string }{
		{`"md5"`, CodeInvalidType, "custom_password_hash"},
		{`{"algorithm":"md5"}`, CodeRequired, "custom_password_hash"},
		{`{"hash":{"value":"x"}}`, CodeRequired, "custom_password_hash"},
		{`{"algorithm":"sha3","hash":{"value":"00","encoding":"hex"}}`, CodeEnumMismatch, "custom_password_hash.algorithm"},
		{`{"algorithm":"md5","hash":{"value":"` + hex.EncodeToString(make([]byte, 16)) + `","encoding":"hex"},"iterations":3}`, CodeAdditionalProperties, "custom_password_hash"},
		{`{"algorithm":"md5","hash":{"value":"` + hex.EncodeToString(make([]byte, 16)) + `","encoding":"hex","rounds":1}}`, CodeAdditionalProperties, "custom_password_hash.hash"},
		{`{"algorithm":"md5","hash":{"value":"` + hex.EncodeToString(make([]byte, 16)) + `","encoding":"hex"},"salt":{"value":"s","pos":"prefix"}}`, CodeAdditionalProperties, "custom_password_hash.salt"},
		{`{"algorithm":"md5","hash":"5f4dcc3b5aa765d61d8327deb882cf99"}`, CodeInvalidType, "custom_password_hash.hash"},
		{`{"algorithm":5,"hash":{"value":"x"}}`, CodeInvalidType, "custom_password_hash.algorithm"},
		{`{"algorithm":"md5","hash":{"value":"5f4dcc3b5aa765d61d8327deb882cf99"}}`, CodeRequired, "custom_password_hash.hash"},
		{`{"algorithm":"md5","hash":{"value":"5f4dcc3b5aa765d61d8327deb882cf99","encoding":"utf8"}}`, CodeEnumMismatch, "custom_password_hash.hash.encoding"},
		{`{"algorithm":"md5","hash":{"value":"5f4dcc3b5aa765d61d8327deb882cf","encoding":"hex"}}`, CodeInvalidFormat, "custom_password_hash.hash.value"},
		{`{"algorithm":"md5","hash":{"value":"zz4dcc3b5aa765d61d8327deb882cf99","encoding":"hex"}}`, CodeInvalidFormat, "custom_password_hash.hash.value"},
		{`{"algorithm":"md5","hash":{"value":"5f4dcc3b5aa765d61d8327deb882cf99","encoding":"hex"},"salt":{"value":"s","position":"middle"}}`, CodeEnumMismatch, "custom_password_hash.salt.position"},
		{`{"algorithm":"md5","hash":{"value":"5f4dcc3b5aa765d61d8327deb882cf99","encoding":"hex"},"salt":{"value":"s","encoding":"base32"}}`, CodeEnumMismatch, "custom_password_hash.salt.encoding"},
		{`{"algorithm":"md5","hash":{"value":"5f4dcc3b5aa765d61d8327deb882cf99","encoding":"hex"},"password":{"encoding":"utf32"}}`, CodeEnumMismatch, "custom_password_hash.password.encoding"},
		{`{"algorithm":"md5","hash":{"value":"` + big(5000) + `","encoding":"hex"}}`, CodeMaximum, "custom_password_hash.hash.value"},
		{`{"algorithm":"hmac","hash":{"value":"00","encoding":"hex","key":{"value":"k"}}}`, CodeRequired, "custom_password_hash.hash"},
		{`{"algorithm":"hmac","hash":{"value":"00","encoding":"hex","digest":"sha1"}}`, CodeRequired, "custom_password_hash.hash"},
		{`{"algorithm":"hmac","hash":{"value":"00","encoding":"hex","digest":"whirlpool","key":{"value":"k"}}}`, CodeEnumMismatch, "custom_password_hash.hash.digest"},
		{`{"algorithm":"hmac","hash":{"value":"00","encoding":"hex","digest":"sha1","key":{"value":"k","encoding":"latin1"}}}`, CodeEnumMismatch, "custom_password_hash.hash.key.encoding"},
		{`{"algorithm":"ldap","hash":{"value":"{CRYPT}aa1234567890"}}`, CodeInvalidFormat, "custom_password_hash.hash.value"},
		{`{"algorithm":"ldap","hash":{"value":"5en6G6MezRroT3XKqkdPOmY/BfQ="}}`, CodePattern, "custom_password_hash.hash.value"},
		{`{"algorithm":"ldap","hash":{"value":"{SSHA}5en6G6MezRroT3XKqkdPOmY/BfQ="}}`, CodeInvalidFormat, "custom_password_hash.hash.value"},
		{`{"algorithm":"ldap","hash":{"value":"{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="},"salt":{"value":"s"}}`, CodeAdditionalProperties, "custom_password_hash"},
		{`{"algorithm":"bcrypt","hash":{"value":"$2x$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"}}`, CodePattern, "custom_password_hash.hash.value"},
		{`{"algorithm":"bcrypt","hash":{"value":"$2b$15$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"}}`, CodeMaximum, "custom_password_hash.hash.value"},
		{`{"algorithm":"bcrypt","hash":{"value":"$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K","encoding":"hex"}}`, CodeEnumMismatch, "custom_password_hash.hash.encoding"},
		{`{"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=1048576,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"}}`, CodeMaximum, "custom_password_hash.hash.value"},
		{`{"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=4096,t=64,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"}}`, CodeMaximum, "custom_password_hash.hash.value"},
		{`{"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=262144,t=3,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"}}`, CodeMaximum, "custom_password_hash.hash.value"},
		{`{"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=4096,t=2,p=64$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"}}`, CodeMaximum, "custom_password_hash.hash.value"},
		{`{"algorithm":"argon2","hash":{"value":"$argon2id$v=16$m=4096,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"}}`, CodeInvalidFormat, "custom_password_hash.hash.value"},
		{`{"algorithm":"argon2","hash":{"value":"$argon2x$v=19$m=4096,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"}}`, CodePattern, "custom_password_hash.hash.value"},
		{`{"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=4096,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"},"salt":{"value":"s"}}`, CodeAdditionalProperties, "custom_password_hash"},
		{`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha256$i=100000000,l=32$c2FsdA$` + b64raw(make([]byte, 32)) + `"}}`, CodeMaximum, "custom_password_hash.hash.value"},
		{`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-md5$i=1500000,l=64$c2FsdA$` + b64raw(make([]byte, 64)) + `"}}`, CodeMaximum, "custom_password_hash.hash.value"},
		{`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha256$i=1000,l=32$c2FsdA$` + b64raw(make([]byte, 31)) + `"}}`, CodeInvalidFormat, "custom_password_hash.hash.value"},
		{`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-whirlpool$i=1000,l=32$c2FsdA$` + b64raw(make([]byte, 32)) + `"}}`, CodeInvalidFormat, "custom_password_hash.hash.value"},
		{`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha256$i=1000,r=2$c2FsdA$` + b64raw(make([]byte, 64)) + `"}}`, CodeInvalidFormat, "custom_password_hash.hash.value"},
		{`{"algorithm":"pbkdf2","hash":{"value":"pbkdf2_sha256$1000$salt$hash"}}`, CodePattern, "custom_password_hash.hash.value"},
		{`{"algorithm":"scrypt","hash":{"value":"00","encoding":"hex"}}`, CodeRequired, "custom_password_hash"},
		{`{"algorithm":"scrypt","hash":{"value":"00","encoding":"hex"},"keylen":1,"cost":262144,"blockSize":8}`, CodeMaximum, "custom_password_hash"},
		{`{"algorithm":"scrypt","hash":{"value":"00","encoding":"hex"},"keylen":1,"cost":16384,"parallelization":1000000}`, CodeMaximum, "custom_password_hash"},
		{`{"algorithm":"scrypt","hash":{"value":"00","encoding":"hex"},"keylen":1,"cost":1000}`, CodeInvalidFormat, "custom_password_hash.cost"},
		{`{"algorithm":"scrypt","hash":{"value":"00","encoding":"hex"},"keylen":0}`, CodeMinimum, "custom_password_hash.keylen"},
		{`{"algorithm":"scrypt","hash":{"value":"00","encoding":"hex"},"keylen":257}`, CodeMaximum, "custom_password_hash.keylen"},
		{`{"algorithm":"scrypt","hash":{"value":"00","encoding":"hex"},"keylen":1,"blockSize":0}`, CodeMinimum, "custom_password_hash.blockSize"},
		{`{"algorithm":"scrypt","hash":{"value":"00","encoding":"hex"},"keylen":1,"parallelization":-1}`, CodeMinimum, "custom_password_hash.parallelization"},
		{`{"algorithm":"scrypt","hash":{"value":"00","encoding":"hex"},"keylen":1.5}`, CodeInvalidType, "custom_password_hash.keylen"},
		{`{"algorithm":"scrypt","hash":{"value":"0000","encoding":"hex"},"keylen":1}`, CodeInvalidFormat, "custom_password_hash.hash.value"},
	} {
		_, err := FromAuth0Custom(json.RawMessage(c.custom))
		var ie *ImportError
		if !errors.As(err, &ie) || ie.Code != c.code || ie.Path != c.path {
			t.Errorf("%s:\n got %v (%#v)\n want %s at %s", c.custom, err, ie, c.code, c.path)
			continue
		}
		if strings.Contains(ie.Message, "5f4dcc3b") || strings.Contains(ie.Message, "nFguVi9") {
			t.Errorf("the message repeats the hash: %q", ie.Message)
		}
	}
}

func TestFromAuth0Bcrypt(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	for _, v := range []string{string(h), "$2a$" + string(h[4:]), "$2y$" + string(h[4:])} {
		got, err := FromAuth0Bcrypt(v)
		if err != nil || got != v || Verify(got, "pw") != nil {
			t.Fatalf("%s: %q, %v", v, got, err)
		}
		if ph, custom := Export(got); ph != v || custom != nil {
			t.Fatalf("Export(bcrypt) = %q, %s", ph, custom)
		}
	}
	for v, code := range map[string]string{
		"":                      CodePattern,
		"5f4dcc3b5aa765d61d832": CodePattern,
		"$2b$10$short":          CodeInvalidFormat,
		"$2b$15$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K": CodeMaximum,
	} {
		_, err := FromAuth0Bcrypt(v)
		var ie *ImportError
		if !errors.As(err, &ie) || ie.Code != code || ie.Path != "password_hash" {
			t.Errorf("%q: %v, want %s", v, err, code)
		}
	}
}

func TestExportNative(t *testing.T) {
	h := Hash("native")
	ph, custom := Export(h)
	if ph != "" || custom == nil {
		t.Fatalf("Export(argon2id) = %q, %s", ph, custom)
	}
	var c struct {
		Algorithm string `json:"algorithm"`
		Hash      struct{ Value, Encoding string }
	}
	if err := json.Unmarshal(custom, &c); err != nil || c.Algorithm != "argon2" || c.Hash.Value != h {
		t.Fatalf("custom %s", custom)
	}
	stored, err := FromAuth0Custom(custom)
	if err != nil || Verify(stored, "native") != nil || Verify(stored, "other") == nil {
		t.Fatalf("round trip of a native hash: %v", err)
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=9999999,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", "$auth0${}"} {
		if ph, custom := Export(bad); ph != "" || custom != nil {
			t.Errorf("Export(%q) = %q, %s", bad, ph, custom)
		}
	}
}

// TestStoredImportedHashesKeepTheCeilings: a row edited behind Authgraph's
// back (or stored before a ceiling was lowered) is refused at Verify, not
// computed.
func TestStoredImportedHashesKeepTheCeilings(t *testing.T) {
	for _, stored := range []string{
		`$auth0${"algorithm":"scrypt","hash":{"value":"00","encoding":"hex"},"keylen":1,"cost":4194304}`,
		`$auth0${"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha1$i=999999999,l=20$c2FsdA$` + b64raw(make([]byte, 20)) + `"}}`,
		`$auth0${"algorithm":"argon2","hash":{"value":"$argon2d$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"}}`,
		`$auth0${"algorithm":"bcrypt","hash":{"value":"$2a$31$abcdefghijklmnopqrstuu5pRzT8eK7bA5y0Kq3xGQJ5rC2s6b2x6"}}`,
		`$auth0${"algorithm":"md5"`,
		`$auth0$`,
	} {
		if err := Verify(stored, "x"); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Verify(%.60s…) = %v, want ErrUnsupported", stored, err)
		}
		if IsSupported(stored) {
			t.Errorf("IsSupported(%.60s…)", stored)
		}
	}
}

// TestFastDigestsSpendTheDummyWork: a wrong password against a fast
// imported digest costs one argon2id verification, as an unknown user does,
// so timing does not tell imported users apart.
func TestFastDigestsSpendTheDummyWork(t *testing.T) {
	n := 0
	orig := dummyWork
	dummyWork = func(pw string) { n++; orig(pw) }
	defer func() { dummyWork = orig }()
	for _, c := range importCases(t) {
		stored, err := FromAuth0Custom(json.RawMessage(c.custom))
		if err != nil {
			t.Fatal(err)
		}
		var alg struct{ Algorithm string }
		_ = json.Unmarshal([]byte(c.custom), &alg)
		n = 0
		_ = Verify(stored, "wrong")
		want := 0
		switch alg.Algorithm {
		case "md4", "md5", "sha1", "sha256", "sha512", "hmac", "ldap":
			want = 1
		}
		if n != want {
			t.Errorf("%s: %d dummy verifications, want %d", c.name, n, want)
		}
	}
}

// TestArgon2Generic checks the argon2 implementation used for argon2d
// against x/crypto for argon2i and argon2id on assorted parameters.
func TestArgon2Generic(t *testing.T) {
	for _, p := range []struct {
		t, m uint32
		p    uint8
		l    uint32
	}{
		{1, 8, 1, 32}, {2, 64, 1, 16}, {3, 256, 2, 32}, {1, 1000, 4, 64}, {2, 2048, 3, 100}, {1, 33, 1, 4},
	} {
		pw, salt := make([]byte, 12), make([]byte, 16)
		_, _ = rand.Read(pw)
		_, _ = rand.Read(salt)
		if got, want := argon2Generic(a2i, pw, salt, nil, nil, p.t, p.m, uint32(p.p), p.l), argon2.Key(pw, salt, p.t, p.m, p.p, p.l); !bytes.Equal(got, want) {
			t.Errorf("argon2i %+v differs from x/crypto", p)
		}
		if got, want := argon2Generic(a2id, pw, salt, nil, nil, p.t, p.m, uint32(p.p), p.l), argon2.IDKey(pw, salt, p.t, p.m, p.p, p.l); !bytes.Equal(got, want) {
			t.Errorf("argon2id %+v differs from x/crypto", p)
		}
	}
}

// TestArgon2RFC9106 checks the test vectors of RFC 9106 section 5
// (password 32×0x01, salt 16×0x02, secret 8×0x03, associated data
// 12×0x04, m=32, t=3, p=4, 32-byte tag).
func TestArgon2RFC9106(t *testing.T) {
	pw, salt, secret, ad := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16), bytes.Repeat([]byte{3}, 8), bytes.Repeat([]byte{4}, 12)
	for _, v := range []struct {
		mode int
		tag  string
	}{
		{a2d, "512b391b6f1162975371d30919734294f868e3be3984f3c1a13a4db9fabe4acb"},
		{a2i, "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8"},
		{a2id, "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"},
	} {
		if got := hex.EncodeToString(argon2Generic(v.mode, pw, salt, secret, ad, 3, 32, 4, 32)); got != v.tag {
			t.Errorf("mode %d: %s, want %s", v.mode, got, v.tag)
		}
	}
}

// TestArgon2dReferenceLibrary verifies argon2d (and argon2i) PHC strings
// made by the reference C implementation (libargon2's
// argon2{d,i}_hash_encoded).
func TestArgon2dReferenceLibrary(t *testing.T) {
	for _, c := range []struct{ pw, phc string }{
		{"Corr3ct-Horse", "$argon2d$v=19$m=1024,t=2,p=2$c2FsdHNhbHRzYWx0c2FsdA$xLrp1iNNXscuburLsf9elVsJ3PcR6MUEn+2xSpyBgUY"},
		{"Tr0ub4dor&3-ünï", "$argon2d$v=19$m=4096,t=3,p=1$MDEyMzQ1Njc4OWFiY2RlZg$QnNP15vM3SpzT85XHbD6cJjm4U3TdNkwuSVL92xUS+4"},
		{"Corr3ct-Horse", "$argon2i$v=19$m=1024,t=2,p=2$c2FsdHNhbHRzYWx0c2FsdA$r411uAorz6l9Ph2oFKFDCvMGuFoF+//C6ZSPzkzaK5s"},
	} {
		stored, err := FromAuth0Custom(json.RawMessage(fmt.Sprintf(`{"algorithm":"argon2","hash":{"value":%q}}`, c.phc)))
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(stored, c.pw); err != nil {
			t.Errorf("%s: %v", c.phc, err)
		}
		if err := Verify(stored, c.pw+"x"); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s wrong password: %v", c.phc, err)
		}
	}
}

// BenchmarkVerifyImported verifies the right password against imported
// hashes at common parameters (Auth0's defaults and examples, OWASP's
// minimums). The fast digests include the dummy argon2id they spend.
func BenchmarkVerifyImported(b *testing.B) {
	pw, salt := "Tr0ub4dor&3", []byte("0123456789abcdef")
	bc, _ := bcrypt.GenerateFromPassword([]byte(pw), 10)
	sc, _ := scrypt.Key([]byte(pw), salt, 16384, 8, 1, 64)
	for _, c := range []struct{ name, custom string }{
		{"md5", fmt.Sprintf(`{"algorithm":"md5","hash":{"value":%q,"encoding":"hex"}}`, hex.EncodeToString(digest(md5.New, []byte(pw))))},
		{"sha256 salted", fmt.Sprintf(`{"algorithm":"sha256","hash":{"value":%q,"encoding":"hex"},"salt":{"value":%q}}`, hex.EncodeToString(digest(sha256.New, salt, []byte(pw))), salt)},
		{"hmac-sha256", fmt.Sprintf(`{"algorithm":"hmac","hash":{"value":%q,"encoding":"hex","digest":"sha256","key":{"value":"k"}}}`, hex.EncodeToString(mac(sha256.New, []byte("k"), []byte(pw))))},
		{"ldap {SSHA}", fmt.Sprintf(`{"algorithm":"ldap","hash":{"value":%q}}`, "{SSHA}"+b64std(append(digest(sha1.New, []byte(pw), salt), salt...)))},
		{"bcrypt cost 10", fmt.Sprintf(`{"algorithm":"bcrypt","hash":{"value":%q}}`, bc)},
		{"pbkdf2-sha1 i=10000 l=20", fmt.Sprintf(`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha1$i=10000,l=20$%s$%s"}}`, b64raw(salt), b64raw(xpbkdf2.Key([]byte(pw), salt, 10000, 20, sha1.New)))},
		{"pbkdf2-sha256 i=600000 l=32", fmt.Sprintf(`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha256$i=600000,l=32$%s$%s"}}`, b64raw(salt), b64raw(xpbkdf2.Key([]byte(pw), salt, 600000, 32, sha256.New)))},
		{"pbkdf2-sha512 i=100000 l=64", fmt.Sprintf(`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha512$i=100000,l=64$%s$%s"}}`, b64raw(salt), b64raw(xpbkdf2.Key([]byte(pw), salt, 100000, 64, sha512.New)))},
		{"scrypt N=16384 r=8 p=1", fmt.Sprintf(`{"algorithm":"scrypt","hash":{"value":%q,"encoding":"base64"},"salt":{"value":%q},"keylen":64}`, b64std(sc), salt)},
		{"argon2id m=65536 t=2 p=1", fmt.Sprintf(`{"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=65536,t=2,p=1$%s$%s"}}`, b64raw(salt), b64raw(argon2.IDKey([]byte(pw), salt, 2, 65536, 1, 32)))},
		{"argon2i m=65536 t=2 p=1", fmt.Sprintf(`{"algorithm":"argon2","hash":{"value":"$argon2i$v=19$m=65536,t=2,p=1$%s$%s"}}`, b64raw(salt), b64raw(argon2.Key([]byte(pw), salt, 2, 65536, 1, 32)))},
		{"argon2d m=65536 t=2 p=1", fmt.Sprintf(`{"algorithm":"argon2","hash":{"value":"$argon2d$v=19$m=65536,t=2,p=1$%s$%s"}}`, b64raw(salt), b64raw(argon2dKey([]byte(pw), salt, nil, nil, 2, 65536, 1, 32)))},
	} {
		stored, err := FromAuth0Custom(json.RawMessage(c.custom))
		if err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := Verify(stored, pw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	native := Hash(pw)
	b.Run("native argon2id (reference)", func(b *testing.B) {
		for b.Loop() {
			if err := Verify(native, pw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyAtCeilings verifies hashes at the import ceilings: the
// most a hostile import file can make one login cost.
func BenchmarkVerifyAtCeilings(b *testing.B) {
	pw, salt := "ceiling", []byte("0123456789abcdef")
	bc, _ := bcrypt.GenerateFromPassword([]byte(pw), maxBcryptCost)
	sc, _ := scrypt.Key([]byte(pw), salt, 1<<17, 8, 1, 32)
	for _, c := range []struct{ name, custom string }{
		{"bcrypt cost 14", fmt.Sprintf(`{"algorithm":"bcrypt","hash":{"value":%q}}`, bc)},
		{"pbkdf2-sha1 i=2000000 l=20", fmt.Sprintf(`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha1$i=2000000,l=20$%s$%s"}}`, b64raw(salt), b64raw(xpbkdf2.Key([]byte(pw), salt, 2000000, 20, sha1.New)))},
		{"pbkdf2-sha256 i=2000000 l=64", fmt.Sprintf(`{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha256$i=2000000,l=64$%s$%s"}}`, b64raw(salt), b64raw(xpbkdf2.Key([]byte(pw), salt, 2000000, 64, sha256.New)))},
		{"scrypt N=131072 r=8 p=1", fmt.Sprintf(`{"algorithm":"scrypt","hash":{"value":%q,"encoding":"base64"},"salt":{"value":%q},"keylen":32,"cost":131072}`, b64std(sc), salt)},
		{"argon2id m=262144 t=2 p=1", fmt.Sprintf(`{"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=262144,t=2,p=1$%s$%s"}}`, b64raw(salt), b64raw(argon2.IDKey([]byte(pw), salt, 2, 262144, 1, 32)))},
		{"argon2d m=262144 t=2 p=1", fmt.Sprintf(`{"algorithm":"argon2","hash":{"value":"$argon2d$v=19$m=262144,t=2,p=1$%s$%s"}}`, b64raw(salt), b64raw(argon2dKey([]byte(pw), salt, nil, nil, 2, 262144, 1, 32)))},
	} {
		stored, err := FromAuth0Custom(json.RawMessage(c.custom))
		if err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := Verify(stored, pw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzFromAuth0Custom: any custom_password_hash either imports or is
// refused with an *ImportError on a custom_password_hash property; an
// imported one verifies any password to nil or ErrMismatch (never
// ErrUnsupported: what import accepts, login accepts) and exports back to
// an object that imports to the same stored string.
func FuzzFromAuth0Custom(f *testing.F) {
	withoutDummy := func() func() {
		orig := dummyWork
		dummyWork = func(string) {}
		return func() { dummyWork = orig }
	}
	defer withoutDummy()()
	for _, c := range importCases(f) {
		f.Add(c.custom, c.pw)
	}
	f.Add(`{"algorithm":"scrypt","hash":{"value":"097f6197e1b41538f723e32aa7a68e8d76227d8e432ce5faa4882a913032db29","encoding":"hex"},"salt":{"value":"abc123","encoding":"utf8"},"keylen":32,"cost":4096}`, "password")
	f.Add(`{"algorithm":"ldap","hash":{"value":"{SSHA384}/cgEjdoZh85DhurDeOQEMO1rMlAur93SVPbYe5XSD4lF7nNuvrBju5hUeg9A6agRemgSXGl5YuE="}}`, "x")
	f.Add(`{"algorithm":"md5","hash":{"value":"","encoding":"base64"},"salt":null}`, "")
	f.Fuzz(func(t *testing.T, custom, pw string) {
		stored, err := FromAuth0Custom(json.RawMessage(custom))
		if err != nil {
			var ie *ImportError
			if !errors.As(err, &ie) || ie.Code == "" || !strings.HasPrefix(ie.Path, "custom_password_hash") {
				t.Fatalf("refusal %#v", err)
			}
			return
		}
		if err := Verify(stored, pw); err != nil && !errors.Is(err, ErrMismatch) {
			t.Fatalf("Verify of an accepted hash: %v", err)
		}
		ph, exported := Export(stored)
		if ph != "" || exported == nil {
			t.Fatalf("Export = %q, %s", ph, exported)
		}
		if again, err := FromAuth0Custom(exported); err != nil || again != stored {
			t.Fatalf("re-import of %s: %v", exported, err)
		}
	})
}

// A malformed LDAP value must not come back in the error, which is stored
// with the job's row errors and returned by the API.
func TestLDAPErrorDoesNotEchoTheValue(t *testing.T) {
	secret := "c2VjcmV0LWhhc2gtYnl0ZXMtdGhhdC1tdXN0LW5vdC1sZWFr"
	_, err := FromAuth0Custom(json.RawMessage(`{"algorithm":"ldap","hash":{"value":"{` + secret + `}x"}}`))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v echoes the value", err)
	}
}
