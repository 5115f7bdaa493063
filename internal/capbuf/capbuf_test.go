package capbuf

import "testing"

func TestBufferKeepsTheFirstBytes(t *testing.T) {
	b := &Buffer{Max: 5}
	for _, s := range []string{" ab", "cdef", "gh"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := b.String(); got != "abcd" { // " abcd" trimmed
		t.Errorf("String() = %q, want %q", got, "abcd")
	}
	b.Reset()
	if _, _ = b.Write([]byte("xy")); b.String() != "xy" {
		t.Errorf("after Reset: %q", b.String())
	}
}
