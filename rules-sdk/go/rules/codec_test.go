package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The hand-written codec must behave exactly as encoding/json: same values,
// same errors.
func checkDecode(t *testing.T, in string) {
	t.Helper()
	var want, got Event
	wantErr := json.Unmarshal([]byte(in), &want)
	gotErr := decodeEvent([]byte(in), &got)
	if fmt.Sprint(wantErr) != fmt.Sprint(gotErr) {
		t.Fatalf("%s\nerror %v, encoding/json %v", in, gotErr, wantErr)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s\ngot  %#v\nwant %#v", in, got, want)
	}
}

func TestDecodeEventLikeEncodingJSON(t *testing.T) {
	raw, err := os.ReadFile("../../templates/events/login.json")
	if err != nil {
		t.Fatal(err)
	}
	sample := string(raw)
	checkDecode(t, sample)
	cases := []string{
		``, `null`, `[]`, `{}`, `{} x`, `{"user":null}`, `{"user":{"user_id":null,"identities":null,"app_metadata":null}}`,
		`{"user":{"identities":[]},"transaction":{"requested_scopes":[]}}`,
		`{"user":{"identities":[null,{"profile_data":{"a":[1,2,{"b":null}]}}]}}`,
		`{"User":{"user_id":"x"}}`, `{"user":{"USER_ID":"x"}}`, `{"user":{"user_id":"a","user_id":"b"}}`,
		`{"user":{"app_metadata":{"a":1}},"user":{"app_metadata":{"b":2}}}`,
		`{"user":{"app_metadata":{"a":1,"a":{"x":1}}}}`,
		`{"user":{"email_verified":"yes"}}`, `{"user":{"logins_count":1.5}}`, `{"user":{"logins_count":1e2}}`,
		`{"user":{"logins_count":-0}}`, `{"stats":{"logins_count":99999999999999999999}}`,
		`{"user":{"app_metadata":{"n":1e400}}}`, `{"user":{"app_metadata":{"n":-0.0e-5,"m":01}}}`,
		`{"user":{"app_metadata":{"n":+1}}}`, `{"user":{"app_metadata":{"n":.5}}}`, `{"user":{"app_metadata":{"n":1.}}}`,
		`{"user":{"name":"\u00e9\ud83d\ude00\ud800x\udc00\\\/\b\f\n\r\t\"<>&"}}`, `{"user":{"name":"\u12"}}`,
		`{"user":{"name":"\x"}}`, "{\"user\":{\"name\":\"a\x01\"}}", "{\"user\":{\"name\":\"\xff\"}}",
		"{\"user\":{\"name\":\"\\n\xff\"}}", `{"user":{"name":"Zoë"}}`,
		`{"user":{"created_at":"2024-03-01T09:30:00+02:00","updated_at":null,"last_login":"bad"}}`,
		`{"user":{"created_at":"2024-03-01T09:30:00\u005a"}}`, `{"now":12}`, `{"now":"2025-11-25T20:00:00.123456789Z"}`,
		`{"secrets":{"A":"b","C":null}}`, `{"secrets":null}`, `{"secrets":{"A":1}}`, `{"client":{"metadata":{"a":"b"}}}`,
		`{"transaction":{"requested_scopes":["a",null,"b"]}}`, `{"transaction":{"requested_scopes":[1]}}`,
		`{"unknown":{"deep":[1,true,false,null,"s",{"x":[]}]},"rule":{"id":"r","name":"n","extra":1}}`,
		`{"unknown":[1,]}`, `{"unknown":tru}`, `{"a":1,}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"user":{"blocked":nul}}`,
		`{"user":{"identities":[{"is_social":true,"is_social":false}]}}`, `{"user":{"identities":{}}}`,
		strings.Repeat(`{"a":`, 600) + `1` + strings.Repeat(`}`, 600),
		`{"user":{"app_metadata":` + strings.Repeat(`[`, 600) + strings.Repeat(`]`, 600) + `}}`,
		" \t\n{\"stats\" : { \"logins_count\" : 3 } }\r\n",
		`{"authentication":{"methods":[{"name":"pwd","timestamp":"2025-11-25T19:59:58Z"},null,{"name":"mfa"}]}}`,
		`{"authentication":null}`, `{"authentication":{"methods":null}}`, `{"authentication":{"methods":[]}}`,
		`{"authentication":{"methods":[{"name":1}]}}`, `{"authentication":{"methods":[{"timestamp":"soon"}]}}`,
		`{"authentication":{"methods":[{"NAME":"pwd","extra":[1]}]}}`, `{"authentication":{"methods":{}}}`,
		`{"authentication":{"methods":[{"name":"a"}],"methods":[{"name":"b"}]}}`,
		`{"authentication":{"methods":[{"name":"a","name":"b","timestamp":null}]}}`,
	}
	for _, c := range cases {
		checkDecode(t, c)
	}
	// Truncations and single-byte corruptions of the sample.
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(sample); i += 7 {
		checkDecode(t, sample[:i])
	}
	for range 2000 {
		b := []byte(sample)
		const alphabet = `{}[]",:\ 0a-.e"tfn`
		b[r.IntN(len(b))] = alphabet[r.IntN(len(alphabet))]
		checkDecode(t, string(b))
	}
}

func TestAppendResultLikeEncodingJSON(t *testing.T) {
	type custom struct{ A int }
	cyc := map[string]any{}
	cyc["self"] = cyc
	values := []any{
		nil, "plain", "esc \"\\ \x01\b\f\n\r\t <>& \u2028\u2029 é 😀 \xff", true, false,
		0.0, -0.0, 1.0, 1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789e-30, math.MaxFloat64, 42,
		int64(-7), uint(8), int32(3), uint32(4), uint64(1 << 63), []any{1.0, "a", nil, []any{}},
		[]string{"a", "b"}, []string(nil), []any(nil), map[string]any(nil), map[string]string{"b": "1", "a": "2"},
		map[string]any{"z": 1.0, "a": map[string]any{"y": []any{true}}, "<&>": "x"},
		math.NaN(), math.Inf(1), float32(1.5), custom{1}, time.Unix(0, 0).UTC(), json.Number("12"), cyc,
	}
	for _, v := range values {
		for _, r := range []Result{
			{IDTokenClaims: map[string]any{"https://example.com/v": v}},
			{Deny: &Deny{Reason: "no <way>"}, AppMetadata: map[string]any{"k": v, "gone": nil}, Error: &Error{Message: "e\n"}},
			{AccessTokenClaims: map[string]any{"b": v, "a": 1.0}, UserMetadata: map[string]any{}, LinkTo: &LinkTo{UserID: "u"}},
			{IDTokenClaims: map[string]any{"v": v}, Roles: &Roles{Add: []string{"a<b", "\u00e9"}, Remove: []string{"c"}}},
			{Roles: &Roles{Remove: []string{"c"}}}, {Roles: &Roles{Add: []string{}}},
			{RequireMFA: true}, {Deny: &Deny{Reason: "r"}, RequireMFA: true, Error: &Error{Message: "m"}},
			{IDTokenClaims: map[string]any{"v": v}, RequireMFA: true},
			{},
		} {
			want, wantErr := json.Marshal(&r)
			got := appendProcessResult(&r)
			if wantErr != nil {
				want, _ = json.Marshal(Result{Error: &Error{Message: "encode result: " + wantErr.Error()}})
			}
			if string(got) != string(want) {
				t.Fatalf("value %#v:\ngot  %s\nwant %s", v, got, want)
			}
		}
	}
}

// appendProcessResult is appendProcess's encoding step.
func appendProcessResult(r *Result) []byte {
	if out, ok := appendResult([]byte("prefix"), r); ok {
		return out[len("prefix"):]
	}
	out, err := json.Marshal(r)
	if err != nil {
		out, _ = json.Marshal(Result{Error: &Error{Message: "encode result: " + err.Error()}})
	}
	return out
}

func BenchmarkProcess(b *testing.B) {
	raw, err := os.ReadFile("../../templates/events/login.json")
	if err != nil {
		b.Fatal(err)
	}
	Handle(func(e *Event, api *API) error {
		roles, _ := e.User.AppMetadata["roles"].([]any)
		api.SetIDTokenClaim("https://example.com/roles", roles)
		return nil
	})
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		out = appendProcess(out[:0], raw)
	}
}
