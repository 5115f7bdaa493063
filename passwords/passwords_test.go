package passwords

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestArgon2idRoundTrip(t *testing.T) {
	h := Hash("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected hash format %q", h)
	}
	if err := Verify(h, "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := Verify(h, "correct horsE"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong password: %v", err)
	}
	if NeedsRehash(h) {
		t.Fatal("fresh hash needs rehash")
	}
	if h == Hash("correct horse") {
		t.Fatal("salt not random")
	}
}

func TestBcryptImported(t *testing.T) {
	b, _ := bcrypt.GenerateFromPassword([]byte("legacy"), 10)
	if err := Verify(string(b), "legacy"); err != nil {
		t.Fatal(err)
	}
	if err := Verify(string(b), "nope"); !errors.Is(err, ErrMismatch) {
		t.Fatal(err)
	}
	if !NeedsRehash(string(b)) {
		t.Fatal("bcrypt should be upgraded to argon2id")
	}
	y := "$2y$" + string(b)[4:]
	if err := Verify(y, "legacy"); err != nil {
		t.Fatalf("$2y$ variant: %v", err)
	}
}

func TestHostileHashes(t *testing.T) {
	for _, h := range []string{
		"", "plain", "$argon2id$v=19$m=9999999,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=19456,t=999,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$2a$31$abcdefghijklmnopqrstuu5pRzT8eK7bA5y0Kq3xGQJ5rC2s6b2x6",
	} {
		if err := Verify(h, "x"); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Verify(%q) = %v, want ErrUnsupported", h, err)
		}
	}
	if err := VerifyDummy("x"); !errors.Is(err, ErrMismatch) {
		t.Fatal(err)
	}
}

func BenchmarkHash(b *testing.B) {
	for b.Loop() {
		Hash("benchmark password")
	}
}
