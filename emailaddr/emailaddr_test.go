package emailaddr_test

import (
	"errors"
	"testing"

	"github.com/authgraph/authgraph/emailaddr"
)

func TestNormalize(t *testing.T) {
	ok := []struct{ in, want string }{
		{"alice@example.com", "alice@example.com"},
		{"  Alice@Example.COM ", "Alice@example.com"},
		{"jose\u0301@example.com", "josé@example.com"}, // NFC
		{"josé@bücher.de", "josé@xn--bcher-kva.de"},
		{"alice@xn--bcher-kva.de", "alice@xn--bcher-kva.de"},
		{"alice@ｅｘａｍｐｌｅ.com", "alice@example.com"}, // width folded into the address it imitates
		{"алиса@пример.рф", "алиса@xn--e1afmkfd.xn--p1ai"},
		{"user+tag.1@sub.example.co.uk", "user+tag.1@sub.example.co.uk"},
		{"山田@例え.jp", "山田@xn--r8jz45g.jp"},
		{"tanaka@日本語ドメイン.jp", "tanaka@xn--eckwd4c7c5976acvb2w6i.jp"}, // Han + Katakana
	}
	for _, c := range ok {
		got, err := emailaddr.Normalize(c.in)
		if err != nil || got != c.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	bad := []struct {
		in   string
		want error
	}{
		{"alice@example.com\u200b", emailaddr.ErrInvisible},     // zero-width space
		{"ali\u200dce@example.com", emailaddr.ErrInvisible},     // zero-width joiner
		{"alice@exam\u00adple.com", emailaddr.ErrInvisible},     // soft hyphen
		{"\u202eelpmaxe@alice.com", emailaddr.ErrInvisible},     // right-to-left override
		{"alice\ufeff@example.com", emailaddr.ErrInvisible},     // BOM
		{"alice\u3164@example.com", emailaddr.ErrInvisible},     // Hangul filler
		{"alice\ufe0f@example.com", emailaddr.ErrInvisible},     // variation selector
		{"alice\u00a0@example.com", emailaddr.ErrInvisible},     // no-break space
		{"ali ce@example.com", emailaddr.ErrInvisible},          // space
		{"alice\x00@example.com", emailaddr.ErrInvisible},       // NUL
		{"alice\ue000@example.com", emailaddr.ErrInvisible},     // private use
		{"alice\xff@example.com", emailaddr.ErrInvisible},       // not UTF-8
		{"alice@ex\u0430mple.com", emailaddr.ErrMixedScripts},   // Cyrillic а in a Latin label
		{"alice@xn--exmple-4nf.com", emailaddr.ErrMixedScripts}, // the same, sent as punycode
		{"\u0430lice@example.com", emailaddr.ErrMixedScripts},   // Cyrillic а in a Latin local part
		{"alice@\u03bfpenai.com", emailaddr.ErrMixedScripts},    // Greek ο
		{"alice@example.com.", emailaddr.ErrDomain},             // trailing dot
		{"alice@exa_mple.com", emailaddr.ErrDomain},             // STD3
		{"alice@-example.com", emailaddr.ErrDomain},             // leading hyphen
		{"alice@ex..com", emailaddr.ErrDomain},                  // empty label
		{"alice", emailaddr.ErrSyntax},                          //
		{"alice@", emailaddr.ErrSyntax},                         //
		{"@example.com", emailaddr.ErrSyntax},                   //
		{"alice\uff20example.com", emailaddr.ErrSyntax},         // fullwidth @
	}
	for _, c := range bad {
		got, err := emailaddr.Normalize(c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("Normalize(%q) = %q, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestNormalizeIsIdempotent(t *testing.T) {
	for _, in := range []string{"Alice@Example.com", "josé@bücher.de", "алиса@пример.рф", "a@ｅｘａｍｐｌｅ.com"} {
		once, err := emailaddr.Normalize(in)
		if err != nil {
			t.Fatal(err)
		}
		if twice, err := emailaddr.Normalize(once); err != nil || twice != once {
			t.Errorf("Normalize(Normalize(%q)) = %q, %v; want %q", in, twice, err, once)
		}
	}
}

// FuzzNormalize: Normalize never panics, and what it returns is a fixed
// point (normalizing a stored address again changes nothing).
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"alice@example.com", "josé@bücher.de", "alice@example.com\u200b", "alice@ex\u0430mple.com",
		"a@xn--bcher-kva.de", "@", "a@b", "алиса@пример.рф", "a@ｅｘａｍｐｌｅ.com", "\"a\"@[127.0.0.1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := emailaddr.Normalize(s)
		if err != nil {
			return
		}
		again, err := emailaddr.Normalize(n)
		if err != nil || again != n {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", s, n, n, again, err)
		}
	})
}
