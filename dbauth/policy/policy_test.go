package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestLevelsExactBoundaries(t *testing.T) {
	cases := []struct {
		level, pw string
		ok        bool
	}{
		{None, "", false},
		{None, "a", true},
		{Low, "abcde", false},
		{Low, "abcdef", true},
		{Low, "ééééé", false}, // characters, not bytes
		{Low, "éééééé", true},
		// fair: 8+, lower AND upper AND digit
		{Fair, "Abcdef1", false},
		{Fair, "Abcdefg1", true},
		{Fair, "abcdefg1", false},
		{Fair, "ABCDEFG1", false},
		{Fair, "Abcdefgh", false},
		{Fair, "Abcdef!!", false},
		// good: 8+, 3 of 4
		{Good, "Abcde1!", false},
		{Good, "Abcdef1x", true},
		{Good, "abcdef1!", true},
		{Good, "ABCDEF1!", true},
		{Good, "Abcdefg!", true},
		{Good, "abcdefg1", false},
		{Good, "abcdefg!", false},
		{Good, "abc def1", true}, // space is special in password-sheriff
		{Good, "Abc-defg", true},
		// excellent: 10+, 3 of 4, ≤2 identical in a row
		{Excellent, "Abcdefgh1", false},
		{Excellent, "Abcdefghi1", true},
		{Excellent, "Aabcdefgh1", true},
		{Excellent, "Abbbcdefg1", false},
		{Excellent, "Aaabcdefg1", true}, // case-sensitive, as the regex,
		{Excellent, "Abcdefg111", false},
		{Excellent, "abcdefghi1", false},
		{Excellent, "abcdefghi1!", true},
		// default is good
		{"", "Abcdef1x", true},
		{"", "abcdefgh", false},
	}
	for _, c := range cases {
		err := CheckLevel(c.level, c.pw)
		if (err == nil) != c.ok {
			t.Errorf("CheckLevel(%q, %q) = %v, want ok=%v", c.level, c.pw, err, c.ok)
		}
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != CodeStrength || pe.Message != MsgStrength {
				t.Errorf("CheckLevel(%q, %q): want a PasswordStrengthError, got %#v", c.level, c.pw, err)
			}
		}
	}
}

func TestTooLongIsRefusedAtEveryLevel(t *testing.T) {
	pw := strings.Repeat("Ab1!", 18) // 72 bytes
	if err := CheckLevel(Excellent, pw); err != nil {
		t.Fatalf("72 bytes refused: %v", err)
	}
	if err := CheckLevel(None, pw+"x"); err == nil {
		t.Fatal("73 bytes accepted")
	}
}

func TestMessagesFollowPasswordSheriff(t *testing.T) {
	err := CheckLevel(Excellent, "aaa")
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatal(err)
	}
	got := make([]string, 0, len(pe.Rules))
	for _, r := range pe.Rules {
		got = append(got, r.String())
	}
	want := []string{
		"At least 10 characters in length",
		"At least 3 of the following 4 types of characters: lower case letters (a-z), upper case letters (A-Z), numbers (i.e. 0-9), special characters (e.g. !@#$%^&*)",
		`No more than 2 identical characters in a row (e.g., "aaa" not allowed)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if fair := Describe(Fair); fair[1].String() != "Should contain: lower case letters (a-z), upper case letters (A-Z), numbers (i.e. 0-9)" {
		t.Fatalf("fair: %q", fair[1].String())
	}
}

func TestDictionary(t *testing.T) {
	if n := DictionarySize(); n != 10000 {
		t.Fatalf("shipped dictionary has %d entries, want 10000", n)
	}
	for _, pw := range []string{"password", "PASSWORD", "Qwerty", "123456", "letmein", "dragon"} {
		if !InDictionary(pw, nil) {
			t.Errorf("%q not found", pw)
		}
	}
	if InDictionary("correct-horse-battery-staple-91", nil) {
		t.Error("unusual password found")
	}
	if !InDictionary("AuthGraphRocks", []string{"authgraphrocks"}) || !InDictionary("authgraphrocks", []string{"AuthGraphRocks"}) {
		t.Error("custom entries must match case-insensitively")
	}
	o := Options{Level: None, Dictionary: true}
	var pe *Error
	if err := o.Check("Password", Personal{}); !errors.As(err, &pe) || pe.Code != CodeDictionary || pe.Message != "Password is too common" {
		t.Fatalf("dictionary check: %v", err)
	}
	o.Dictionary = false
	if err := o.Check("Password", Personal{}); err != nil {
		t.Fatalf("dictionary off: %v", err)
	}
}

func TestPersonalInfo(t *testing.T) {
	p := Personal{
		Email: "jane.doe@example.com", Username: "jdoe42", Name: "Jane Marie Doe", Nickname: "janie",
		UserMetadata: map[string]any{"first": "Josephine", "last": "Smithers", "name": "Jo Smithers"},
	}
	for _, pw := range []string{
		"Jane.Doe-2024!", "xJDOE42x", "Janie#1", "iamJOSEPHINE1", "smithers99", "marie1234", "jane.doe", "JaneMarieDoe",
	} {
		if !BasedOnPersonalInfo(pw, p) {
			t.Errorf("%q not detected", pw)
		}
	}
	for _, pw := range []string{"Tr0ub4dor&3", "correct horse battery", "Jo12345678"} { // "jo" is too short to count
		if BasedOnPersonalInfo(pw, p) {
			t.Errorf("%q wrongly detected", pw)
		}
	}
	o := Options{Level: Low, NoPersonalInfo: true}
	var pe *Error
	if err := o.Check("janedoe2024", p); !errors.As(err, &pe) || pe.Code != CodeNoPersonal {
		t.Fatalf("personal info: %v", err)
	}
}

func TestFromConnection(t *testing.T) {
	o := FromConnection(map[string]any{
		"passwordPolicy":            "excellent",
		"password_history":          map[string]any{"enable": true, "size": float64(40)},
		"password_dictionary":       map[string]any{"enable": true, "dictionary": []any{"acme2024"}},
		"password_no_personal_info": map[string]any{"enable": true},
	})
	if o.Level != Excellent || o.History != MaxHistory || !o.Dictionary || len(o.Custom) != 1 || !o.NoPersonalInfo {
		t.Fatalf("%+v", o)
	}
	if o := FromConnection(map[string]any{"password_history": map[string]any{"enable": false, "size": 5}}); o.History != 0 {
		t.Fatalf("disabled history: %+v", o)
	}
	if o := FromConnection(map[string]any{"password_history": map[string]any{"enable": true}}); o.History != DefaultHistorySize {
		t.Fatalf("history without size: %+v", o)
	}
}

func TestKeptHistory(t *testing.T) {
	for _, tc := range []struct {
		history int
		current string
		prev    []string
		want    []string
	}{
		{0, "h3", []string{"h2"}, nil},
		{1, "h3", []string{"h2"}, nil},
		{3, "h3", []string{"h2", "h1", "h0"}, []string{"h3", "h2"}},
		{5, "h1", []string{"h0"}, []string{"h1", "h0"}},
		{3, "", []string{"h0"}, []string{"h0"}},
	} {
		got := Options{History: tc.history}.KeptHistory(tc.current, tc.prev)
		if !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("History %d, %q, %q: got %q, want %q", tc.history, tc.current, tc.prev, got, tc.want)
		}
	}
}
