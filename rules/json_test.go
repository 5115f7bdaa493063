package rules

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// TestGuestJSON round-trips awkward strings through each SDK's JSON code
// (event parsing, then result encoding): escapes, control characters,
// non-ASCII, surrogate pairs, strings across the parser's 8-byte words.
func TestGuestJSON(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir})
	roles := []any{
		`quote " backslash \ slash /`,
		"tab\tnewline\ncr\r bell\u0007 nul\u0000",
		"Zoë Ångström – 東京 😀 \U0001F600",
		strings.Repeat("abcdefg", 9) + "é" + strings.Repeat("x", 17),
		"", "a", "1234567", "12345678", "123456789",
		1.5, -2.0, 1e21, true, false, nil,
		map[string]any{"nested": []any{"x", map[string]any{"k": "v"}}},
	}
	for _, name := range []string{"as-roles", "go-roles"} {
		ev := loginEvent(t)
		ev.User.AppMetadata["roles"] = roles
		res, err := e.RunPipeline(context.Background(), []RuleVersion{ruleFor(t, name)}, ev)
		if err != nil {
			t.Fatal(name, err)
		}
		if got := res.IDTokenClaims["https://example.com/roles"]; !reflect.DeepEqual(got, roles) {
			t.Errorf("%s:\n got %#v\nwant %#v", name, got, roles)
		}
	}
}
