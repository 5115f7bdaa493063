package rules

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// A minimal JSON Schema (2020-12) checker for the subset the rules-sdk
// schemas use: type, properties, required, additionalProperties, items,
// $ref to $defs, minimum, minLength, maxLength, pattern, propertyNames and
// format date-time. Unknown keywords fail loudly so the subset cannot drift.
type schema struct {
	root map[string]any
}

var knownKeywords = []string{"$schema", "$id", "$ref", "$defs", "title", "description", "type", "properties",
	"required", "additionalProperties", "items", "minimum", "minLength", "maxLength", "pattern", "propertyNames", "format"}

func loadSchema(tb testing.TB, name string) *schema {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "rules-sdk", "schema", name))
	if err != nil {
		tb.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		tb.Fatal(err)
	}
	return &schema{root: root}
}

func (s *schema) validate(doc any) []string {
	var errs []string
	s.check(s.root, doc, "$", &errs)
	return errs
}

func (s *schema) resolve(node map[string]any) map[string]any {
	if ref, ok := node["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		return s.root["$defs"].(map[string]any)[name].(map[string]any)
	}
	return node
}

func (s *schema) check(node map[string]any, doc any, path string, errs *[]string) {
	fail := func(format string, args ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, args...)) }
	for k := range node {
		if !slices.Contains(knownKeywords, k) {
			fail("schema keyword %q not supported by the test checker", k)
		}
	}
	node = s.resolve(node)
	if t, ok := node["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		if !slices.Contains(types, jsonType(doc)) && !(jsonType(doc) == "integer" && slices.Contains(types, "number")) {
			fail("type %s, want %v", jsonType(doc), types)
			return
		}
	}
	switch v := doc.(type) {
	case map[string]any:
		props, _ := node["properties"].(map[string]any)
		for _, r := range asStrings(node["required"]) {
			if _, ok := v[r]; !ok {
				fail("missing required %q", r)
			}
		}
		for k, val := range v {
			if pn, ok := node["propertyNames"].(map[string]any); ok {
				s.check(pn, k, path+"{"+k+"}", errs)
			}
			if p, ok := props[k]; ok {
				s.check(p.(map[string]any), val, path+"."+k, errs)
				continue
			}
			switch ap := node["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("unexpected member %q", k)
				}
			case map[string]any:
				s.check(ap, val, path+"."+k, errs)
			}
		}
	case []any:
		if items, ok := node["items"].(map[string]any); ok {
			for i, x := range v {
				s.check(items, x, fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	case string:
		if n, ok := node["minLength"].(float64); ok && len([]rune(v)) < int(n) {
			fail("shorter than %v", n)
		}
		if n, ok := node["maxLength"].(float64); ok && len([]rune(v)) > int(n) {
			fail("longer than %v", n)
		}
		if p, ok := node["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(v) {
			fail("%q does not match %s", v, p)
		}
		if node["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				fail("not RFC 3339: %q", v)
			}
		}
	case float64:
		if n, ok := node["minimum"].(float64); ok && v < n {
			fail("below minimum %v", n)
		}
	}
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func asStrings(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		out = append(out, x.(string))
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func decodeAny(tb testing.TB, b []byte) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("%v: %s", err, b)
	}
	return v
}

// schemaPaths lists every property path the schema declares (through $refs),
// so the test can check the Go types emit all of them.
func (s *schema) paths(node map[string]any, prefix string, out map[string]bool) {
	node = s.resolve(node)
	props, _ := node["properties"].(map[string]any)
	for k, p := range props {
		out[prefix+k] = true
		s.paths(p.(map[string]any), prefix+k+".", out)
	}
	if items, ok := node["items"].(map[string]any); ok {
		s.paths(items, prefix+"[].", out)
	}
}

func docPaths(doc any, prefix string, out map[string]bool) {
	switch v := doc.(type) {
	case map[string]any:
		for k, x := range v {
			out[prefix+k] = true
			docPaths(x, prefix+k+".", out)
		}
	case []any:
		for _, x := range v {
			docPaths(x, prefix+"[].", out)
		}
	}
}

func TestEventMatchesSchema(t *testing.T) {
	s := loadSchema(t, "event.schema.json")
	// The sample event round-trips through the host types unchanged...
	raw, err := os.ReadFile("../rules-sdk/templates/events/login.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var ev Event
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("sample event does not fit the Go types: %v", err)
	}
	doc := decodeAny(t, mustJSON(t, ev))
	if !reflect.DeepEqual(doc, decodeAny(t, raw)) {
		t.Fatalf("round trip changed the event:\n%s", mustJSON(t, ev))
	}
	// ...is valid...
	if errs := s.validate(doc); len(errs) > 0 {
		t.Fatalf("sample event: %v", errs)
	}
	// ...and covers every member the schema declares, so a Go field missing
	// from the schema (additionalProperties: false) or a schema member
	// missing from Go fails here.
	want, got := map[string]bool{}, map[string]bool{}
	s.paths(s.root, "", want)
	docPaths(doc, "", got)
	for p := range want {
		if !got[p] && !strings.HasPrefix(p, "secrets.") {
			t.Errorf("schema member %s is not produced by the Go types (or missing from the sample)", p)
		}
	}
	for p := range got {
		if !want[p] && !underFreeForm(p) {
			t.Errorf("Go member %s is not in the schema", p)
		}
	}

	// A minimal event, as the pipeline sends it, is valid too: no nulls.
	min := Event{Now: time.Now()}
	min.normalize()
	min.User.CreatedAt, min.User.UpdatedAt = time.Now(), time.Now()
	if errs := s.validate(decodeAny(t, mustJSON(t, min))); len(errs) > 0 {
		t.Fatalf("minimal event: %v", errs)
	}
	var nilMaps Event
	if errs := s.validate(decodeAny(t, mustJSON(t, nilMaps))); len(errs) == 0 {
		t.Fatal("the checker accepted null metadata: it checks nothing")
	}
}

// underFreeForm reports whether a path is inside a free-form object.
func underFreeForm(p string) bool {
	for _, f := range []string{"user.user_metadata.", "user.app_metadata.", "user.identities.[].profile_data.", "client.metadata.", "secrets."} {
		if strings.HasPrefix(p, f) {
			return true
		}
	}
	return false
}

func TestResultMatchesSchema(t *testing.T) {
	s := loadSchema(t, "result.schema.json")
	full := Result{
		Deny:              &Deny{Reason: "no"},
		IDTokenClaims:     map[string]any{"https://example.com/a": 1},
		AccessTokenClaims: map[string]any{"urn:example:b": []any{"x"}},
		AppMetadata:       map[string]any{"plan": "pro", "old": nil},
		UserMetadata:      map[string]any{"theme": "dark"},
		LinkTo:            &LinkTo{UserID: "github|1"},
		Roles:             &RolesChange{Add: []string{"editor"}, Remove: []string{"viewer"}},
		RequireMFA:        true,
		Error:             &ResultError{Message: "m"},
	}
	b := mustJSON(t, full)
	if errs := s.validate(decodeAny(t, b)); len(errs) > 0 {
		t.Fatalf("full result: %v", errs)
	}
	want, got := map[string]bool{}, map[string]bool{}
	s.paths(s.root, "", want)
	docPaths(decodeAny(t, b), "", got)
	for p := range want {
		if !got[p] {
			t.Errorf("schema member %s is not produced by the Go types", p)
		}
	}
	back, err := decodeResult(b)
	if err != nil || !reflect.DeepEqual(mustJSON(t, back), b) {
		t.Fatalf("decodeResult round trip: %v\n%s\n%s", err, mustJSON(t, back), b)
	}
	if errs := s.validate(decodeAny(t, []byte(`{}`))); len(errs) > 0 {
		t.Fatalf("empty result: %v", errs)
	}

	// Documents the schema refuses; the host must refuse them as well.
	for _, bad := range []string{
		`{"deny":{}}`,
		`{"app_metadata":{"a.b":1}}`,
		`{"user_metadata":{"$set":1}}`,
		`{"link_to":{"user_id":""}}`,
		`{"roles":{"add":[""]}}`,
		`{"id_token_claims":[]}`,
		`{"require_mfa":"yes"}`,
		`[]`,
	} {
		if errs := s.validate(decodeAny(t, []byte(bad))); len(errs) == 0 {
			t.Errorf("schema accepted %s", bad)
		}
		r, err := decodeResult([]byte(bad))
		if err == nil {
			err = errorsJoin(validateMetadataKeys("app_metadata", r.AppMetadata), validateMetadataKeys("user_metadata", r.UserMetadata))
		}
		if err == nil && (r.Deny == nil || r.Deny.Reason != "") {
			t.Errorf("host accepted %s", bad)
		}
	}
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
