// Package policy checks new passwords of database connections against the
// connection's password options (docs/DATABASE_CONNECTIONS.md): the strength levels of Auth0's
// password-sheriff (none, low, fair, good, excellent), a dictionary of common
// passwords plus the connection's own entries, and the personal-information
// rule. Password history needs the stored hashes and lives in dbauth.
//
// The strength rules are a port of auth0/password-sheriff:
//
//	none       length ≥ 1
//	low        length ≥ 6
//	fair       length ≥ 8, and contains lower case, upper case and a digit
//	good       length ≥ 8, and at least 3 of {lower, upper, digit, special}
//	excellent  length ≥ 10, at least 3 of the 4, and no more than 2 identical
//	           characters in a row
//
// As in password-sheriff, "special" is any ASCII punctuation character or
// space (its message shows `!@#$%^&*` as examples), letters and digits are
// ASCII, and length counts characters. The messages follow password-sheriff's
// wording so that Auth0 users recognise them.
package policy

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// Levels, from weakest to strongest.
const (
	None      = "none"
	Low       = "low"
	Fair      = "fair"
	Good      = "good"
	Excellent = "excellent"
)

// Levels lists the level names.
var Levels = []string{None, Low, Fair, Good, Excellent}

// MaxBytes is the longest password accepted: bcrypt's input limit, which the
// legacy Auth0 policy truncates at. Authgraph refuses longer passwords
// instead of silently ignoring their tail.
const MaxBytes = 72

// MaxHistory is the most previous passwords a connection may remember.
const MaxHistory = 24

// Auth0's error codes and messages for the policy failures.
const (
	CodeStrength     = "PasswordStrengthError"
	CodeHistory      = "PasswordHistoryError"
	CodeDictionary   = "PasswordDictionaryError"
	CodeNoPersonal   = "PasswordNoUserInfoError"
	MsgStrength      = "Password is too weak"
	MsgHistory       = "Password has previously been used"
	MsgDictionary    = "Password is too common"
	MsgNoPersonal    = "Password is based on user information"
	msgTooLong       = "At most 72 bytes in length"
	charsLower       = "lower case letters (a-z)"
	charsUpper       = "upper case letters (A-Z)"
	charsDigits      = "numbers (i.e. 0-9)"
	charsSpecial     = "special characters (e.g. !@#$%^&*)"
	identicalExample = "aaa"
)

// Error is a refused password. Code is one of the Code* constants, Message
// the matching Msg*; Rules (strength failures only) lists every rule of the
// level, each with whether it was met, as password-sheriff's missing() does.
type Error struct {
	Code    string
	Message string
	Rules   []Rule
}

// Rule is one requirement of a strength level.
type Rule struct {
	Message  string
	Verified bool
	// Items are the sub-requirements (character classes), when any.
	Items []Rule
}

func (e *Error) Error() string {
	if len(e.Rules) == 0 {
		return e.Message
	}
	var missing []string
	for _, r := range e.Rules {
		if !r.Verified {
			missing = append(missing, r.String())
		}
	}
	return e.Message + ": " + strings.Join(missing, "; ")
}

// String renders a rule with its items.
func (r Rule) String() string {
	if len(r.Items) == 0 {
		return r.Message
	}
	items := make([]string, len(r.Items))
	for i, it := range r.Items {
		items[i] = it.Message
	}
	return r.Message + " " + strings.Join(items, ", ")
}

// Options are a connection's password options.
type Options struct {
	// Level is passwordPolicy; empty means the default (good).
	Level string
	// History is how many previous passwords a new one must differ from
	// (0 when password_history is off; capped at MaxHistory).
	History int
	// Dictionary turns on the common-password check; Custom adds entries.
	Dictionary bool
	Custom     []string
	// NoPersonalInfo refuses passwords based on the user's profile.
	NoPersonalInfo bool
}

// DefaultLevel is the level of a connection without passwordPolicy: Auth0
// creates new database connections with "good".
const DefaultLevel = Good

// DefaultHistorySize is password_history.size when enabled without a size.
const DefaultHistorySize = 5

// FromConnection reads a database connection's options.
func FromConnection(options map[string]any) Options {
	var o Options
	o.Level, _ = options["passwordPolicy"].(string)
	if h, ok := options["password_history"].(map[string]any); ok {
		if on, _ := h["enable"].(bool); on {
			o.History = DefaultHistorySize
			if n, ok := number(h["size"]); ok {
				o.History = n
			}
			o.History = max(0, min(o.History, MaxHistory))
		}
	}
	if d, ok := options["password_dictionary"].(map[string]any); ok {
		o.Dictionary, _ = d["enable"].(bool)
		switch list := d["dictionary"].(type) {
		case []any:
			for _, v := range list {
				if s, ok := v.(string); ok {
					o.Custom = append(o.Custom, s)
				}
			}
		case []string:
			o.Custom = append(o.Custom, list...)
		}
	}
	if p, ok := options["password_no_personal_info"].(map[string]any); ok {
		o.NoPersonalInfo, _ = p["enable"].(bool)
	}
	return o
}

// Personal is the profile the personal-information rule compares against.
type Personal struct {
	Email, Username, Name, Nickname string
	UserMetadata                    map[string]any
}

// Check applies the level, the dictionary and the personal-information
// rule (in that order) and returns the first failure as an *Error.
func (o Options) Check(password string, p Personal) error {
	if err := CheckLevel(o.Level, password); err != nil {
		return err
	}
	if o.Dictionary && InDictionary(password, o.Custom) {
		return &Error{Code: CodeDictionary, Message: MsgDictionary}
	}
	if o.NoPersonalInfo && BasedOnPersonalInfo(password, p) {
		return &Error{Code: CodeNoPersonal, Message: MsgNoPersonal}
	}
	return nil
}

// Describe returns the rules of level, for showing them before the user
// types (all unverified).
func Describe(level string) []Rule {
	return rules(level, "")
}

// CheckLevel checks password against a strength level (empty: DefaultLevel).
// An unknown level is checked as DefaultLevel.
func CheckLevel(level, password string) error {
	rs := rules(level, password)
	ok := true
	for _, r := range rs {
		ok = ok && r.Verified
	}
	if len(password) > MaxBytes {
		rs = append(rs, Rule{Message: msgTooLong})
		ok = false
	}
	if ok {
		return nil
	}
	return &Error{Code: CodeStrength, Message: MsgStrength, Rules: rs}
}

func rules(level, pw string) []Rule {
	n := utf8.RuneCountInString(pw)
	length := func(minLen int) Rule {
		return Rule{Message: fmt.Sprintf("At least %d characters in length", minLen), Verified: n >= minLen}
	}
	classes := func(withSpecial bool) []Rule {
		out := []Rule{
			{Message: charsLower, Verified: hasLower(pw)},
			{Message: charsUpper, Verified: hasUpper(pw)},
			{Message: charsDigits, Verified: hasDigit(pw)},
		}
		if withSpecial {
			out = append(out, Rule{Message: charsSpecial, Verified: hasSpecial(pw)})
		}
		return out
	}
	atLeast3 := func() Rule {
		items := classes(true)
		met := 0
		for _, it := range items {
			if it.Verified {
				met++
			}
		}
		return Rule{Message: "At least 3 of the following 4 types of characters:", Verified: met >= 3, Items: items}
	}
	switch level {
	case None:
		return []Rule{length(1)}
	case Low:
		return []Rule{length(6)}
	case Fair:
		items := classes(false)
		all := items[0].Verified && items[1].Verified && items[2].Verified
		return []Rule{length(8), {Message: "Should contain:", Verified: all, Items: items}}
	case Excellent:
		return []Rule{length(10), atLeast3(), {
			Message:  fmt.Sprintf("No more than 2 identical characters in a row (e.g., %q not allowed)", identicalExample),
			Verified: !hasRun(pw, 3),
		}}
	default: // good, and the default
		return []Rule{length(8), atLeast3()}
	}
}

func hasLower(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' }) >= 0
}
func hasUpper(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r >= 'A' && r <= 'Z' }) >= 0
}
func hasDigit(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' }) >= 0
}

// hasSpecial matches password-sheriff's special characters: ASCII
// punctuation and space.
func hasSpecial(s string) bool {
	return strings.ContainsAny(s, " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
}

// hasRun reports whether s has n identical characters in a row.
func hasRun(s string, n int) bool {
	var prev rune = -1
	run := 0
	for _, r := range s {
		if r == prev {
			run++
		} else {
			prev, run = r, 1
		}
		if run >= n {
			return true
		}
	}
	return false
}

//go:embed common-passwords.txt
var commonFile string

var (
	commonOnce sync.Once
	common     map[string]struct{}
)

func commonSet() map[string]struct{} {
	commonOnce.Do(func() {
		common = make(map[string]struct{}, 10000)
		for _, line := range strings.Split(commonFile, "\n") {
			line = strings.TrimRight(line, "\r")
			if line == "" || strings.HasPrefix(line, "# ") || line == "#" {
				continue
			}
			common[strings.ToLower(line)] = struct{}{}
		}
	})
	return common
}

// DictionarySize is the number of shipped common passwords.
func DictionarySize() int { return len(commonSet()) }

// InDictionary reports whether password is, ignoring case, one of the
// shipped common passwords or of custom.
func InDictionary(password string, custom []string) bool {
	p := strings.ToLower(password)
	if _, ok := commonSet()[p]; ok {
		return true
	}
	for _, c := range custom {
		if strings.ToLower(c) == p {
			return true
		}
	}
	return false
}

// minPersonalLen is the shortest profile value the personal-information rule
// looks for inside a password: shorter ones ("Al", "jo") would refuse a large
// share of passwords without making any of them safer.
const minPersonalLen = 3

// BasedOnPersonalInfo reports whether password contains, ignoring case, the
// user's name (or any word of it), username, nickname, user_metadata.name,
// .first or .last, or the local part of their email.
func BasedOnPersonalInfo(password string, p Personal) bool {
	pw := strings.ToLower(password)
	var values []string
	add := func(v string) {
		v = strings.ToLower(strings.TrimSpace(v))
		if v == "" {
			return
		}
		values = append(values, v)
		values = append(values, strings.FieldsFunc(v, func(r rune) bool {
			return r == ' ' || r == '.' || r == '-' || r == '_' || r == '+'
		})...)
	}
	add(p.Name)
	add(p.Username)
	add(p.Nickname)
	if at := strings.LastIndexByte(p.Email, '@'); at > 0 {
		add(p.Email[:at])
	} else {
		add(p.Email)
	}
	for _, k := range []string{"name", "first", "last"} {
		if s, ok := p.UserMetadata[k].(string); ok {
			add(s)
		}
	}
	for _, v := range values {
		if utf8.RuneCountInString(v) >= minPersonalLen && strings.Contains(pw, v) {
			return true
		}
	}
	return false
}

func number(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	case interface{ Int64() (int64, error) }:
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

// KeptHistory is the password history to store when a password replaces
// current (the hash in use, "" for none) with previous the history so far:
// the current hash, then the previous ones, History-1 in all. nil means no
// history is kept (History ≤ 1): clear it.
func (o Options) KeptHistory(current string, previous []string) []string {
	if o.History <= 1 {
		return nil
	}
	var hist []string
	if current != "" {
		hist = append(hist, current)
	}
	hist = append(hist, previous...)
	if len(hist) > o.History-1 {
		hist = hist[:o.History-1]
	}
	return hist
}
