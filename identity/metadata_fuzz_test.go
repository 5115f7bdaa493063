package identity

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// refMerge is Auth0's metadata PATCH written out plainly: an empty patch
// clears everything; otherwise each top-level key of the patch replaces the
// stored key's whole value, and a null deletes it.
func refMerge(stored, patch map[string]any) map[string]any {
	out := map[string]any{}
	if len(patch) == 0 {
		return out
	}
	for k, v := range stored {
		out[k] = v
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// refValid is the limits of a stored metadata object written out plainly:
// at most MaxMetadataBytes of JSON, objects and arrays nested at most
// MaxMetadataDepth deep (the object itself is level 1), no empty key and no
// '.' or '$' in any key at any depth, and for app_metadata none of the
// reserved top-level keys.
func refValid(m map[string]any, app bool) bool {
	b, err := json.Marshal(m)
	if err != nil || len(b) > MaxMetadataBytes {
		return false
	}
	if app {
		for _, k := range []string{"__tenant", "_id", "blocked", "clientID", "created_at", "email_verified", "email",
			"globalClientID", "global_client_id", "identities", "lastIP", "lastLogin", "loginsCount", "metadata",
			"multifactor_last_modified", "multifactor", "updated_at", "user_id"} {
			if _, ok := m[k]; ok {
				return false
			}
		}
	}
	var depth func(v any) (int, bool)
	depth = func(v any) (int, bool) {
		deepest := 0
		switch t := v.(type) {
		case map[string]any:
			for k, c := range t {
				if k == "" || strings.Contains(k, ".") || strings.Contains(k, "$") {
					return 0, false
				}
				d, ok := depth(c)
				if !ok {
					return 0, false
				}
				deepest = max(deepest, d)
			}
		case []any:
			for _, c := range t {
				d, ok := depth(c)
				if !ok {
					return 0, false
				}
				deepest = max(deepest, d)
			}
		default:
			return 0, true
		}
		return deepest + 1, true
	}
	d, ok := depth(m)
	return ok && d <= MaxMetadataDepth
}

// FuzzMetadataMerge: for any stored object and patch (JSON objects),
// MergeMetadata never panics, leaves both inputs unchanged, returns a new
// map equal to refMerge's, and ValidateMetadata accepts the result exactly
// when refValid does, refusing with a ValidationError on the given field.
func FuzzMetadataMerge(f *testing.F) {
	nested := func(levels int) string {
		return strings.Repeat(`{"l":`, levels-1) + `{"l":"x"}` + strings.Repeat(`}`, levels-1)
	}
	for _, s := range []struct {
		stored, patch string
		app           bool
	}{
		{`{"a":1,"b":{"c":2}}`, `{"b":{"d":3}}`, false},                 // one level: b is replaced whole
		{`{"a":1,"b":2}`, `{"a":null}`, false},                          // null deletes
		{`{"a":1,"b":2}`, `{}`, true},                                   // {} clears
		{`{}`, `{"roles":["admin"],"plan":"gold"}`, true},               // the templates' app_metadata
		{`{"lang":"en"}`, `{"lang":null,"theme":{"dark":true}}`, false}, // user_metadata
		{`{"a":1}`, `{"email":"x"}`, true},                              // reserved in app_metadata
		{`{"a":1}`, `{"email":"x"}`, false},                             // allowed in user_metadata
		{`{}`, `{"a.b":1}`, false}, {`{}`, `{"a":{"$b":1}}`, false}, {`{}`, `{"":1}`, false},
		{`{}`, `{"a":[[{"":1}]]}`, false},
		{`{}`, `{"a":` + nested(9) + `}`, false}, {`{}`, `{"a":` + nested(10) + `}`, false},
		{`{}`, `{"a":[[[[[[[[[1]]]]]]]]]}`, false}, {`{}`, `{"a":[[[[[[[[[[1]]]]]]]]]]}`, false},
		{`{"big":"` + strings.Repeat("x", MaxMetadataBytes-12) + `"}`, `{"more":"y"}`, false},
		{`{"big":"` + strings.Repeat("x", MaxMetadataBytes-12) + `"}`, `{"big":null}`, false},
		{`{"a":null}`, `{"b":1}`, false},
		{`{"<>&":"\u2028"}`, `{"x":1e308}`, false},
	} {
		f.Add([]byte(s.stored), []byte(s.patch), s.app)
	}
	f.Fuzz(func(t *testing.T, storedJSON, patchJSON []byte, app bool) {
		var stored, patch, storedCopy, patchCopy map[string]any
		if json.Unmarshal(storedJSON, &stored) != nil || json.Unmarshal(patchJSON, &patch) != nil {
			return
		}
		_ = json.Unmarshal(storedJSON, &storedCopy)
		_ = json.Unmarshal(patchJSON, &patchCopy)
		got := MergeMetadata(stored, patch)
		if !reflect.DeepEqual(stored, storedCopy) || !reflect.DeepEqual(patch, patchCopy) {
			t.Fatalf("MergeMetadata changed its inputs")
		}
		want := refMerge(stored, patch)
		if got == nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("MergeMetadata(%s, %s) = %v, want %v", storedJSON, patchJSON, got, want)
		}
		// The result is a new map: writing to it leaves the stored map alone.
		got["\x00probe"] = true
		if _, leaked := stored["\x00probe"]; leaked {
			t.Fatalf("MergeMetadata returned the stored map itself")
		}
		delete(got, "\x00probe")

		field := "userMetadata"
		if app {
			field = "appMetadata"
		}
		err := ValidateMetadata(field, got, app)
		if ok := refValid(got, app); ok != (err == nil) {
			t.Fatalf("ValidateMetadata(%s) = %v, the reference says valid=%v", mustJSONString(got), err, ok)
		}
		var ve *ValidationError
		if err != nil && (!errors.As(err, &ve) || ve.Field != field) {
			t.Fatalf("ValidateMetadata error %T %v, want a ValidationError on %s", err, err, field)
		}
	})
}

func mustJSONString(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
