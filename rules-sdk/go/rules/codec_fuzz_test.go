package rules

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// codecSeeds are the host's sample event and the documents
// TestDecodeEventLikeEncodingJSON checks.
func codecSeeds(f *testing.F) []string {
	raw, err := os.ReadFile("../../templates/events/login.json")
	if err != nil {
		f.Fatal(err)
	}
	return []string{
		string(raw), ``, `null`, `[]`, `{}`, `{} x`, `{"user":null}`,
		`{"user":{"user_id":null,"identities":null,"app_metadata":null}}`,
		`{"user":{"identities":[null,{"profile_data":{"a":[1,2,{"b":null}]}}]}}`,
		`{"User":{"user_id":"x"}}`, `{"user":{"user_id":"a","user_id":"b"}}`,
		`{"user":{"app_metadata":{"a":1,"a":{"x":1}}}}`, `{"user":{"logins_count":1e2}}`,
		`{"user":{"app_metadata":{"n":-0.0e-5,"m":1e400}}}`,
		`{"user":{"name":"\u00e9\ud83d\ude00\ud800x\udc00\\\/\b\f\n\r\t\"<>&"}}`, "{\"user\":{\"name\":\"\\n\xff\"}}",
		`{"user":{"created_at":"2024-03-01T09:30:00+02:00","updated_at":null,"last_login":"bad"}}`,
		`{"secrets":{"A":"b","C":null}}`, `{"client":{"metadata":{"a":"b"}}}`,
		`{"transaction":{"requested_scopes":["a",null,"b"]}}`, `{"rule":{"id":"r","name":"n","extra":[1,true,{}]}}`,
		`{"user":{"identities":[{"is_social":true,"is_social":false}]}}`, "{\"user\":{\"name\":\"\u212a\"},\"\u017fecrets\":{}}",
		strings.Repeat(`{"a":`, 600) + `1` + strings.Repeat(`}`, 600),
	}
}

// FuzzDecodeEvent: for any input the hand-written decoder agrees with
// encoding/json on accept/reject, on the error and on the decoded Event; and
// an accepted event's values, encoded by appendResult, are the bytes
// encoding/json writes and decode (by encoding/json) to the same values.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range codecSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, string(data))
		var e Event
		if decodeEvent(data, &e) != nil {
			return
		}
		r := Result{
			IDTokenClaims: e.User.AppMetadata, AccessTokenClaims: e.User.UserMetadata,
			UserMetadata: map[string]any{}, Deny: &Deny{Reason: e.User.Name},
			LinkTo: &LinkTo{UserID: e.User.UserID}, Error: &Error{Message: e.Client.Name},
		}
		if len(e.User.Identities) > 0 {
			r.AppMetadata = e.User.Identities[0].ProfileData
		}
		for k, v := range e.Secrets {
			r.UserMetadata[k] = v
		}
		if e.Transaction.RequestedScopes != nil {
			r.UserMetadata["scopes"] = e.Transaction.RequestedScopes
			r.UserMetadata["metadata"] = e.Client.Metadata
			r.UserMetadata["count"] = e.User.LoginsCount
		}
		checkEncodeRoundTrip(t, &r)
		var back Result
		if err := json.Unmarshal(appendProcessResult(&r), &back); err != nil {
			t.Fatal(err)
		}
		if len(e.User.AppMetadata) > 0 && !reflect.DeepEqual(back.IDTokenClaims, e.User.AppMetadata) ||
			back.Deny.Reason != e.User.Name || back.LinkTo.UserID != e.User.UserID {
			t.Fatalf("round trip: got %#v, want %#v", back.IDTokenClaims, e.User.AppMetadata)
		}
	})
}

// FuzzAppendResult: for any claim value (any JSON document) and any strings,
// appendResult writes exactly encoding/json's bytes (or gives up and the
// caller's encoding/json fallback writes them), and the output decodes by
// encoding/json to the values encoded.
func FuzzAppendResult(f *testing.F) {
	for _, s := range []struct{ claim, key, reason string }{
		{`["admin","staff"]`, "https://example.com/roles", "no <way>"},
		{`{"z":1,"a":{"y":[true,null]},"<&>":"x"}`, "k", "esc \"\\ \x01\b\f\n\r\t <>& \u2028\u2029 é 😀 \xff"},
		{`1e21`, "n", ""}, {`1e-7`, "n", ""}, {`123456789e-30`, "n", ""}, {`-0`, "n", ""}, {`1.7976931348623157e308`, "n", ""},
		{`"\ud800"`, "\xff", "\ud7ff"}, {`null`, "", ""}, {`[]`, "a", ""}, {`{}`, "a", ""},
	} {
		f.Add([]byte(s.claim), s.key, s.reason)
	}
	f.Fuzz(func(t *testing.T, claim []byte, key, reason string) {
		var v any
		if json.Unmarshal(claim, &v) != nil {
			return
		}
		obj, _ := v.(map[string]any)
		r := Result{
			IDTokenClaims: map[string]any{key: v}, AccessTokenClaims: map[string]any{"s": reason, "b": []string{key, reason}},
			AppMetadata: obj, UserMetadata: map[string]any{"m": map[string]string{key: reason}},
			Deny: &Deny{Reason: reason}, LinkTo: &LinkTo{UserID: key}, Error: &Error{Message: reason},
		}
		if f, ok := v.(float64); ok {
			r.AccessTokenClaims["i"] = int64(f)
			r.AccessTokenClaims["u"] = uint32(f)
		}
		checkEncodeRoundTrip(t, &r)
		if utf8.ValidString(key) && utf8.ValidString(reason) {
			var back Result
			if err := json.Unmarshal(appendProcessResult(&r), &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.IDTokenClaims[key], v) || back.Deny.Reason != reason || back.LinkTo.UserID != key {
				t.Fatalf("round trip of %s: got %#v, reason %q", claim, back.IDTokenClaims[key], back.Deny.Reason)
			}
		}
	})
}

// checkEncodeRoundTrip: appendResult's bytes are encoding/json's, and they
// decode to what encoding/json's own round trip gives.
func checkEncodeRoundTrip(t *testing.T, r *Result) {
	t.Helper()
	got := appendProcessResult(r)
	want, err := json.Marshal(r)
	if err != nil {
		want, _ = json.Marshal(Result{Error: &Error{Message: "encode result: " + err.Error()}})
	}
	if string(got) != string(want) {
		t.Fatalf("appendResult:\ngot  %s\nwant %s", got, want)
	}
	var back, wantBack Result
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("appendResult wrote invalid JSON %s: %v", got, err)
	}
	_ = json.Unmarshal(want, &wantBack)
	if !reflect.DeepEqual(back, wantBack) {
		t.Fatalf("decoded %#v, want %#v", back, wantBack)
	}
}
