package logs

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestTruncate: client text is cut at a character boundary and made valid
// UTF-8, which Postgres requires of text.
func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{strings.Repeat("a", 5) + "é", 6, "aaaaa"},
		{"aé", 3, "aé"},
		{"a\xffb", 10, "a\uFFFDb"},
		{"\xff\xfe", 3, "\uFFFD"},
	} {
		got := Truncate(c.in, c.n)
		if got != c.want || !utf8.ValidString(got) || len(got) > c.n {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
