package server

import (
	"testing"
	"time"
)

func TestParseKeyRotation(t *testing.T) {
	for raw, want := range map[string]time.Duration{
		"": 0, "off": 0, "90d": 90 * 24 * time.Hour, "2d": 48 * time.Hour, "2160h": 2160 * time.Hour,
	} {
		if got, err := parseKeyRotation(raw); err != nil || got != want {
			t.Errorf("parseKeyRotation(%q) = %v, %v; want %v", raw, got, err, want)
		}
	}
	for _, bad := range []string{"1d", "47h", "-5d", "soon", "d", "0", "90days", "1e9d"} {
		if _, err := parseKeyRotation(bad); err == nil {
			t.Errorf("parseKeyRotation(%q) accepted", bad)
		}
	}
}
