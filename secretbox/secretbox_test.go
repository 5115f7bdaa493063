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

func TestPreviousKeys(t *testing.T) {
	a, b := NewKey(), NewKey()
	boxA, _ := New(a)
	sealedA := boxA.Seal([]byte("s3cret"), "rule-secrets:rul_1")

	// "B,A": B seals, both open.
	boxBA, err := New(b, a)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := boxBA.Open(sealedA, "rule-secrets:rul_1"); err != nil || string(got) != "s3cret" {
		t.Fatalf("Open(A's value) with B,A = %q, %v", got, err)
	}
	sealedB := boxBA.Seal([]byte("new"), "x")
	if _, err := boxA.Open(sealedB, "x"); !errors.Is(err, ErrOpen) {
		t.Fatal("B,A sealed with A")
	}
	if _, err := boxBA.Open(sealedA, "rule-secrets:rul_2"); !errors.Is(err, ErrOpen) {
		t.Fatal("another place opened with a previous key")
	}

	// Reseal: A's value moves to B, B's value is left alone.
	out, changed, err := boxBA.Reseal(sealedA, "rule-secrets:rul_1")
	if err != nil || !changed {
		t.Fatalf("Reseal(A's value) = changed %v, %v", changed, err)
	}
	boxB, _ := New(b)
	if got, err := boxB.Open(out, "rule-secrets:rul_1"); err != nil || string(got) != "s3cret" {
		t.Fatalf("B alone opens the resealed value: %q, %v", got, err)
	}
	if same, changed, err := boxBA.Reseal(out, "rule-secrets:rul_1"); err != nil || changed || !bytes.Equal(same, out) {
		t.Fatalf("Reseal(B's value) = changed %v, %v", changed, err)
	}
	if _, _, err := boxB.Reseal(sealedA, "rule-secrets:rul_1"); !errors.Is(err, ErrOpen) {
		t.Fatalf("Reseal without A = %v, want ErrOpen", err)
	}
}

func TestParseKeys(t *testing.T) {
	a, b := base64.StdEncoding.EncodeToString(NewKey()), base64.StdEncoding.EncodeToString(NewKey())
	keys, err := ParseKeys(b + ", " + a)
	if err != nil || len(keys) != 2 {
		t.Fatalf("ParseKeys(B, A) = %d keys, %v", len(keys), err)
	}
	if want, _ := ParseKey(b); !bytes.Equal(keys[0], want) {
		t.Fatal("the first key is not first")
	}
	for _, bad := range []string{"", b + ",", b + "," + b, b + ",notbase64!", "c2hvcnQ="} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
}
