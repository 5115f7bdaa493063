// Package emailaddr puts an email address into the one form Authgraph
// stores and compares, and refuses addresses built to look like another
// one: invisible or formatting characters (U+200B after
// alice@example.com), and labels mixing writing systems (a Cyrillic "а" in
// "exаmple.com"). Every place an address enters Authgraph (signup, the
// management API, upstream and custom-database profiles, imports) and every
// lookup by address (login, forgot-password, usersByEmail) goes through
// Normalize, so that a stored address and a typed one compare equal.
package emailaddr

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Reasons an address is refused; Normalize wraps one of them.
var (
	// ErrSyntax: not local@domain.
	ErrSyntax = errors.New("is not a valid email address")
	// ErrInvisible: a control, formatting (zero-width, bidi), separator,
	// private-use, unassigned or default-ignorable character.
	ErrInvisible = errors.New("contains an invisible or control character")
	// ErrMixedScripts: one part mixes writing systems, the mark of a
	// look-alike (Latin "example" with a Cyrillic "а").
	ErrMixedScripts = errors.New("mixes writing systems in one part")
	// ErrDomain: the domain is not a valid (internationalized) domain name.
	ErrDomain = errors.New("has an invalid domain")
)

// domainProfile is UTS #46 processing as browsers do it (nontransitional:
// "ß" stays "ß"), with the STD3 rules, the Bidi and ContextJ rules, and
// DNS lengths enforced. Its mapping folds case and width, so a fullwidth
// "ｅｘａｍｐｌｅ.com" becomes the address it imitates, not a new one.
var domainProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.VerifyDNSLength(true),
)

// Normalize returns the canonical form of an address: surrounding white
// space removed, Unicode NFC, the domain lowercased and in its ASCII
// (punycode) form. It refuses the address (an error wrapping ErrSyntax,
// ErrInvisible, ErrMixedScripts or ErrDomain) when any part contains an
// invisible or control character, when a domain label or the local part
// mixes writing systems, or when the domain is not a valid IDN.
//
// The local part keeps its case: database connections lowercase the whole
// address (as Auth0 stores them), upstream profiles keep what the IdP sent.
//
// The local part may be non-ASCII (RFC 6531 allows it, and refusing it
// would lock out real users), but it obeys the same rule as a domain label:
// one writing system, plus the common characters (digits, punctuation)
// every script uses. That is UTS #39's "highly restrictive" level, which
// also admits Latin mixed with Han and Japanese kana, Han with Bopomofo, or
// Han with Hangul. It refuses "аlice" (Cyrillic а, Latin lice) without
// refusing "алиса" or "josé". A whole-script look-alike ("аррӏе" all
// Cyrillic) is not caught: no rule on one address can tell it from a real
// Cyrillic name.
func Normalize(address string) (string, error) {
	s := strings.TrimSpace(address)
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: it is not valid UTF-8", ErrInvisible)
	}
	s = norm.NFC.String(s)
	for _, r := range s {
		if refused(r) {
			return "", fmt.Errorf("%w (U+%04X)", ErrInvisible, r)
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", ErrSyntax
	}
	local, domain := s[:at], s[at+1:]
	if !singleScript(local) {
		return "", fmt.Errorf("%w: the part before @", ErrMixedScripts)
	}
	ascii, err := Domain(domain)
	if err != nil {
		return "", err
	}
	return local + "@" + ascii, nil
}

// Domain returns the lowercase ASCII (punycode) form of an email domain,
// refusing what Normalize refuses in a domain. It serves searches by
// domain, which must match stored addresses.
func Domain(domain string) (string, error) {
	if domain == "" || strings.HasSuffix(domain, ".") {
		// "example.com." names the same host but is another string.
		return "", ErrDomain
	}
	for _, r := range domain {
		if refused(r) {
			return "", fmt.Errorf("%w (U+%04X)", ErrInvisible, r)
		}
	}
	ascii, err := domainProfile.ToASCII(domain)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrDomain, domain)
	}
	// Check scripts on the Unicode form: an ASCII "xn--…" label may encode
	// a mixed one.
	uni, err := domainProfile.ToUnicode(ascii)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrDomain, domain)
	}
	for _, label := range strings.Split(uni, ".") {
		if !singleScript(label) {
			return "", fmt.Errorf("%w: the domain label %q", ErrMixedScripts, label)
		}
	}
	return strings.ToLower(ascii), nil
}

// refused reports characters that have no place in an address: they are
// invisible, change how neighbours render, or are not characters at all.
func refused(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return true
	case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zs, unicode.Zl, unicode.Zp, unicode.Co, unicode.Cs):
		return true // controls, format (ZWSP, ZWJ, bidi, BOM…), all spaces
	case unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector, unicode.Bidi_Control, unicode.Join_Control):
		return true // Hangul fillers, combining grapheme joiner, variation selectors
	case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S):
		return true // unassigned
	}
	return false
}

// scripts are the writing systems a part may use, Common and Inherited
// (digits, punctuation, combining marks) excluded: they go with any.
var scripts = func() []*unicode.RangeTable {
	var out []*unicode.RangeTable
	for name, t := range unicode.Scripts {
		if name != "Common" && name != "Inherited" {
			out = append(out, t)
		}
	}
	return out
}()

// allowedMixes are UTS #39's highly restrictive combinations: the scripts
// of Japanese, Chinese and Korean writing, each with Latin.
var allowedMixes = [][]*unicode.RangeTable{
	{unicode.Latin, unicode.Han, unicode.Hiragana, unicode.Katakana},
	{unicode.Latin, unicode.Han, unicode.Bopomofo},
	{unicode.Latin, unicode.Han, unicode.Hangul},
}

// singleScript reports whether s uses one writing system (or one of the
// allowed combinations).
func singleScript(s string) bool {
	var used []*unicode.RangeTable
	for _, r := range s {
		if r < utf8.RuneSelf {
			if ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') {
				used = addScript(used, unicode.Latin)
			}
			continue
		}
		for _, t := range scripts {
			if unicode.Is(t, r) {
				used = addScript(used, t)
				break
			}
		}
	}
	if len(used) <= 1 {
		return true
	}
	for _, mix := range allowedMixes {
		if subset(used, mix) {
			return true
		}
	}
	return false
}

func addScript(used []*unicode.RangeTable, t *unicode.RangeTable) []*unicode.RangeTable {
	for _, u := range used {
		if u == t {
			return used
		}
	}
	return append(used, t)
}

func subset(a, b []*unicode.RangeTable) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
