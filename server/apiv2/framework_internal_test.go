package apiv2

// Unit tests of the framework's pieces: paging, projection, strict
// decoding, the rate limiter (with a controlled clock), and the route
// table against the OpenAPI document.

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func req(method, target, body string) *Request {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	}
	return &Request{Request: r}
}

// asHTTP asserts err maps to status and errorCode, and returns the message.
func asHTTP(t *testing.T, err error, status int, code string) string {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %d %s", status, code)
	}
	he := toHTTPError(err)
	if he.Status != status || he.ErrorCode != code {
		t.Fatalf("%v: %d %s, want %d %s", err, he.Status, he.ErrorCode, status, code)
	}
	return he.Message
}

func TestPaging(t *testing.T) {
	p, err := req("GET", "/rules", "").Paging()
	if err != nil || p != (Page{Page: 0, PerPage: 50}) {
		t.Fatalf("defaults: %+v %v", p, err)
	}
	p, err = req("GET", "/rules?page=3&per_page=100&include_totals=true", "").Paging()
	if err != nil || p != (Page{Page: 3, PerPage: 100, IncludeTotals: true}) || p.Offset() != 300 {
		t.Fatalf("explicit: %+v %v", p, err)
	}
	for _, q := range []string{"page=-1", "page=x", "page=1.5", "per_page=0", "per_page=101", "per_page=-3", "per_page=ten",
		"include_totals=maybe", "include_totals=2"} {
		_, err := req("GET", "/rules?"+q, "").Paging()
		msg := asHTTP(t, err, http.StatusBadRequest, "invalid_query_string")
		name, _, _ := strings.Cut(q, "=")
		if !strings.HasPrefix(msg, "Query validation error: ") || !strings.Contains(msg, name) {
			t.Errorf("%s: message %q", q, msg)
		}
	}
}

func TestList(t *testing.T) {
	// Without include_totals: a bare array, never null.
	b, _ := json.Marshal(List[int](Page{PerPage: 50}, "rules", nil, 0))
	if string(b) != "[]" {
		t.Errorf("empty bare list: %s", b)
	}
	b, _ = json.Marshal(List(Page{PerPage: 50}, "rules", []int{1, 2}, 7))
	if string(b) != "[1,2]" {
		t.Errorf("bare list: %s", b)
	}
	// With it: Auth0's envelope, start = page × per_page.
	b, _ = json.Marshal(List(Page{Page: 2, PerPage: 3, IncludeTotals: true}, "rules", []int{7}, 7))
	if string(b) != `{"length":1,"limit":3,"rules":[7],"start":6,"total":7}` {
		t.Errorf("envelope: %s", b)
	}
	b, _ = json.Marshal(List[string](Page{PerPage: 50, IncludeTotals: true}, "users", nil, 0))
	if string(b) != `{"length":0,"limit":50,"start":0,"total":0,"users":[]}` {
		t.Errorf("empty envelope: %s", b)
	}
}

func TestProject(t *testing.T) {
	type obj struct {
		A int    `json:"a"`
		B string `json:"b"`
		C bool   `json:"c"`
	}
	v := obj{1, "x", true}
	for _, c := range []struct {
		v       any
		fields  []string
		include bool
		want    string
	}{
		{v, nil, true, `{"a":1,"b":"x","c":true}`},
		{v, []string{"a", "c", "nope"}, true, `{"a":1,"c":true}`},
		{v, []string{"a", "nope"}, false, `{"b":"x","c":true}`},
		{[]obj{v, {2, "y", false}}, []string{"b"}, true, `[{"b":"x"},{"b":"y"}]`},
		{[]obj{}, []string{"b"}, true, `[]`},
	} {
		got, err := Project(c.v, c.fields, c.include)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(got)
		if string(b) != c.want {
			t.Errorf("Project(%v, %v, %v) = %s, want %s", c.v, c.fields, c.include, b, c.want)
		}
	}
	fields, include, err := req("GET", "/x?fields=+a+,,b&include_fields=false", "").Fields()
	if err != nil || include || !slices.Equal(fields, []string{"a", "b"}) {
		t.Errorf("Fields: %v %v %v", fields, include, err)
	}
	fields, include, err = req("GET", "/x", "").Fields()
	if err != nil || !include || fields != nil {
		t.Errorf("no fields: %v %v %v", fields, include, err)
	}
}

func TestDecode(t *testing.T) {
	type inner struct {
		N int `json:"n"`
	}
	type body struct {
		Name    string            `json:"name"`
		Order   *int              `json:"order"`
		Enabled bool              `json:"enabled"`
		Meta    map[string]string `json:"meta"`
		Inner   inner             `json:"inner"`
		List    []string          `json:"list"`
		Label   *string           `json:"label"`
		Flag    *bool             `json:"flag"`
	}
	var ok body
	if err := req("POST", "/x", ` {"name":"a","order":2,"inner":{"n":1}} `+"\n").Decode(&ok); err != nil || ok.Name != "a" || *ok.Order != 2 {
		t.Fatalf("valid body: %+v %v", ok, err)
	}
	for _, c := range []struct{ body, want string }{
		{`{"name":"a","nope":1}`, "Additional properties not allowed: nope"},
		{`{"inner":{"n":1,"deep":2}}`, "Additional properties not allowed: deep"},
		{`{"order":"1"}`, "Expected type number but found type string on property order."},
		{`{"name":1}`, "Expected type string but found type number on property name."},
		{`{"enabled":"yes"}`, "Expected type boolean but found type string on property enabled."},
		{`{"meta":[]}`, "Expected type object but found type array on property meta."},
		{`{"list":{}}`, "Expected type array but found type object on property list."},
		{`{"inner":{"n":true}}`, "on property inner.n."},
		{`{"name":"a"} {"name":"b"}`, "Invalid request payload JSON format"},
		{`{"name":"a"}x`, "Invalid request payload JSON format"},
		{`{"name":`, "Invalid request payload JSON format"},
		{`{"name" "a"}`, "Invalid request payload JSON format"},
		{`{"label":1}`, "Expected type string but found type number on property label."},
		{`{"flag":"x"}`, "Expected type boolean but found type string on property flag."},
		{`[]`, "Payload validation error: Expected type object but found type array."},
		{``, "Invalid request payload JSON format"},
	} {
		var v body
		r := req("POST", "/x", c.body)
		if c.body == "" {
			r.Body = http.NoBody
		}
		msg := asHTTP(t, r.Decode(&v), http.StatusBadRequest, "invalid_body")
		if !strings.HasPrefix(msg, "Payload validation error: ") || !strings.Contains(msg, c.want) {
			t.Errorf("%s: message %q, want %q", c.body, msg, c.want)
		}
	}
	// Over the cap: 413 in Auth0's shape.
	var v body
	big := `{"name":"` + strings.Repeat("a", maxBody) + `"}`
	err := req("POST", "/x", big).Decode(&v)
	asHTTP(t, err, http.StatusRequestEntityTooLarge, "payload_too_large")
	var mbe *http.MaxBytesError
	if !errors.As(err, &mbe) {
		t.Errorf("not a MaxBytesError: %v", err)
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(RateLimit{PerSecond: 2, Burst: 3})
	l.now = func() time.Time { return now }
	take := func(key string) (bool, http.Header) {
		w := httptest.NewRecorder()
		ok := l.allow(w, key)
		return ok, w.Header()
	}
	for i := range 3 {
		ok, h := take("a")
		if !ok || h.Get("X-RateLimit-Limit") != "3" || h.Get("X-RateLimit-Remaining") != []string{"2", "1", "0"}[i] || h.Get("Retry-After") != "" {
			t.Fatalf("request %d: %v %v", i, ok, h)
		}
	}
	ok, h := take("a")
	// Empty bucket, 2 tokens a second: one token in 0.5 s (Retry-After
	// rounds up to 1), full in 1.5 s (reset rounds up to the second).
	if ok || h.Get("Retry-After") != "1" || h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Reset") != "1700000002" {
		t.Fatalf("empty bucket: %v %v", ok, h)
	}
	// Another key has its own bucket.
	if ok, _ := take("b"); !ok {
		t.Fatal("key b refused")
	}
	// Half a second refills one token.
	now = now.Add(500 * time.Millisecond)
	if ok, h := take("a"); !ok || h.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("after 0.5 s: %v %v", ok, h)
	}
	if ok, _ := take("a"); ok {
		t.Fatal("second request after 0.5 s allowed")
	}
	// A long pause refills up to the burst, not beyond.
	now = now.Add(time.Hour)
	for i := range 3 {
		if ok, _ := take("a"); !ok {
			t.Fatalf("after an hour, request %d refused", i)
		}
	}
	if ok, _ := take("a"); ok {
		t.Fatal("burst exceeded after an idle hour")
	}
	// A slow rate: Retry-After is the whole wait.
	slow := newLimiter(RateLimit{PerSecond: 0.25, Burst: 1})
	slow.now = func() time.Time { return now }
	w := httptest.NewRecorder()
	slow.allow(w, "a")
	w = httptest.NewRecorder()
	if slow.allow(w, "a") || w.Header().Get("Retry-After") != "4" {
		t.Fatalf("slow limiter: %v", w.Header())
	}
	// Defaults, and off.
	if d := newLimiter(RateLimit{}); d.rate != DefaultRatePerSecond || d.burst != 2*DefaultRatePerSecond {
		t.Errorf("defaults: %v %v", d.rate, d.burst)
	}
	off := newLimiter(RateLimit{PerSecond: -1})
	w = httptest.NewRecorder()
	for range 10 {
		if !off.allow(w, "a") {
			t.Fatal("limiting is off")
		}
	}
	if w.Header().Get("X-RateLimit-Limit") != "" {
		t.Errorf("headers without a limit: %v", w.Header())
	}
}

func TestLimiterEvictsIdleBuckets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(RateLimit{PerSecond: 1, Burst: 2})
	l.now = func() time.Time { return now }
	w := httptest.NewRecorder()
	for i := range maxBuckets {
		l.allow(w, "k"+itoa(i))
	}
	l.allow(w, "busy")
	l.allow(w, "busy")
	now = now.Add(10 * time.Second) // every bucket but none is full again
	l.allow(w, "new")
	if len(l.b) > maxBuckets || l.b["new"] == nil {
		t.Fatalf("%d buckets", len(l.b))
	}
}

// TestRouteTableIsTheDocument: the OpenAPI document lists exactly the
// routes served, and every route is documented and scoped.
func TestRouteTableIsTheDocument(t *testing.T) {
	a := New(Config{Issuer: "https://auth.example.com/"})
	var served, documented []string
	for _, rt := range a.routes {
		served = append(served, rt.Method+" "+rt.Path)
		if rt.Summary == "" {
			t.Errorf("%s %s: no summary", rt.Method, rt.Path)
		}
		if rt.Path != "/openapi.json" && len(rt.Scopes) == 0 {
			t.Errorf("%s %s: no scope", rt.Method, rt.Path)
		}
		if (rt.Method == http.MethodPost || rt.Method == http.MethodPatch || rt.Method == http.MethodPut) && rt.Body == nil &&
			!strings.Contains(rt.Description, "no body") {
			t.Logf("%s %s: no body type", rt.Method, rt.Path)
		}
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		Servers []struct{ URL string }                `json:"servers"`
	}
	if err := json.Unmarshal(a.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || len(doc.Servers) != 1 || doc.Servers[0].URL != "https://auth.example.com/api/v2" {
		t.Errorf("document: %s %+v", doc.OpenAPI, doc.Servers)
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	if !slices.Equal(served, documented) {
		t.Errorf("served %v\ndocumented %v", served, documented)
	}
	// One document per API: another issuer's names its own server.
	b := New(Config{Issuer: "https://other.example.com/t/"})
	if !strings.Contains(string(b.OpenAPI()), `"https://other.example.com/t/api/v2"`) {
		t.Error("a second API serves the first one's document")
	}
}

// TestMountedUnderIssuerPath: with an issuer path the API answers at
// {issuer}api/v2/ and at /api/v2/ (where Auth0's SDKs call it), nowhere
// else.
func TestMountedUnderIssuerPath(t *testing.T) {
	a := New(Config{Issuer: "https://auth.example.com/tenant/"})
	if got := a.Prefixes(); !slices.Equal(got, []string{"/tenant/api/v2/", "/api/v2/"}) {
		t.Fatalf("prefixes %v", got)
	}
	if got := New(Config{Issuer: "https://auth.example.com/"}).Prefixes(); !slices.Equal(got, []string{"/api/v2/"}) {
		t.Fatalf("root prefixes %v", got)
	}
	for path, status := range map[string]int{
		"/tenant/api/v2/openapi.json": http.StatusOK,
		"/api/v2/openapi.json":        http.StatusOK,
		"/tenant/api/v2/rules":        http.StatusUnauthorized,
		"/api/v2/rules":               http.StatusUnauthorized,
		"/other/api/v2/openapi.json":  http.StatusNotFound,
		"/tenant/api/v2x/rules":       http.StatusNotFound,
	} {
		w := httptest.NewRecorder()
		a.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != status {
			t.Errorf("%s: %d, want %d: %s", path, w.Code, status, w.Body)
		}
		var e errorBody
		if status != http.StatusOK && (json.Unmarshal(w.Body.Bytes(), &e) != nil || e.StatusCode != status) {
			t.Errorf("%s: body %s", path, w.Body)
		}
	}
}

// TestUpdateUserBodyDocumentsWhatIsDecoded: PATCH /users/{id} decodes
// userPatch (to tell absent from null) but documents UpdateUserBody; the two
// must name the same properties, or the OpenAPI document drifts.
func TestUpdateUserBodyDocumentsWhatIsDecoded(t *testing.T) {
	names := func(v any) []string {
		var out []string
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			out = append(out, name)
		}
		sort.Strings(out)
		return out
	}
	if doc, decoded := names(UpdateUserBody{}), names(userPatch{}); !slices.Equal(doc, decoded) {
		t.Fatalf("documented %v, decoded %v", doc, decoded)
	}
}
