package secretbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	box, err := New(NewKey())
	if err != nil {
		t.Fatal(err)
	}
	sealed := box.Seal([]byte("s3cret"), "connection:con_1")
	if bytes.Contains(sealed, []byte("s3cret")) {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := box.Open(sealed, "connection:con_1")
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := box.Open(sealed, "connection:con_2"); !errors.Is(err, ErrOpen) {
		t.Fatalf("value opened under another place: %v", err)
	}
	other, _ := New(NewKey())
	if _, err := other.Open(sealed, "connection:con_1"); !errors.Is(err, ErrOpen) {
		t.Fatalf("value opened under another key: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := box.Open(sealed, "connection:con_1"); !errors.Is(err, ErrOpen) {
		t.Fatalf("tampered value opened: %v", err)
	}
	if a, b := box.Seal([]byte("x"), ""), box.Seal([]byte("x"), ""); bytes.Equal(a, b) {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
}

func TestParseKey(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(NewKey())
	if _, err := ParseKey(good); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}
