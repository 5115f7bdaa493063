package bulkexport

import (
	"encoding/json"
	"testing"
)

// TestAppendJSONIsMarshal: the allocation-free paths write what
// json.Marshal writes (the export's bytes are unchanged by them).
func TestAppendJSONIsMarshal(t *testing.T) {
	for _, v := range []any{"", "plain user@example.com", `quo"te`, `back\slash`, "<b>&amp;</b>", "tab\there",
		"new\nline", "\x7f del", "é unicode", "\u2028 sep", "bad \xff utf8", true, false, 0, 42, -7,
		map[string]any{"b": 1, "a": "<x>"}, []any{"x", 1.5}} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSON([]byte("prefix"), v)
		if err != nil || string(got) != "prefix"+string(want) {
			t.Errorf("%#v: got %s, want prefix%s (%v)", v, got, want, err)
		}
	}
}
