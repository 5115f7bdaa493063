package rules

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The SDK's types must carry the whole sample event unchanged: the host's
// schema test covers the sample, so this keeps the SDK in step with it.
func TestEventRoundTrip(t *testing.T) {
	raw, err := os.ReadFile("../../templates/events/login.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var e Event
	if err := dec.Decode(&e); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal(raw, &a)
	_ = json.Unmarshal(out, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("round trip changed the event:\n%s", out)
	}
}

func TestProcess(t *testing.T) {
	Handle(func(e *Event, api *API) error {
		api.SetIDTokenClaim("https://example.com/user", e.User.UserID)
		api.SetAppMetadata("gone", nil)
		if e.Stats.LoginsCount > 1 {
			api.Deny("no")
		}
		return nil
	})
	out := string(process([]byte(`{"user":{"user_id":"u1"},"stats":{"logins_count":1}}`)))
	if out != `{"id_token_claims":{"https://example.com/user":"u1"},"app_metadata":{"gone":null}}` {
		t.Fatal(out)
	}
	if out := string(process([]byte(`{"stats":{"logins_count":2}}`))); !strings.Contains(out, `"deny":{"reason":"no"}`) {
		t.Fatal(out)
	}
	if out := string(process([]byte(`not json`))); !strings.Contains(out, `"error":{"message":"decode event:`) {
		t.Fatal(out)
	}
	Handle(func(e *Event, api *API) error { panic("boom") })
	if out := string(process([]byte(`{}`))); out != `{"error":{"message":"panic: boom"}}` {
		t.Fatal(out)
	}
}

func TestRoleCommands(t *testing.T) {
	var a API
	a.AddRole("editor")
	a.AddRole("editor")
	a.RemoveRole("viewer")
	a.AddRole("viewer")
	a.RemoveRole("admin")
	got := a.Result().Roles
	if got == nil || !reflect.DeepEqual(got.Add, []string{"editor", "viewer"}) || !reflect.DeepEqual(got.Remove, []string{"admin"}) {
		t.Fatalf("roles command %+v", got)
	}
	var b API
	b.AddRole("x")
	b.RemoveRole("x")
	if r := b.Result().Roles; r.Add != nil || !reflect.DeepEqual(r.Remove, []string{"x"}) {
		t.Fatalf("the last call must win: %+v", r)
	}
}

func TestRequireMFA(t *testing.T) {
	Handle(func(e *Event, api *API) error {
		if !e.Authentication.HasMethod("mfa") {
			api.RequireMFA()
		}
		return nil
	})
	ev := `{"authentication":{"methods":[{"name":"pwd","timestamp":"2025-11-25T19:59:58Z"}]}}`
	if out := string(process([]byte(ev))); out != `{"require_mfa":true}` {
		t.Fatal(out)
	}
	ev = `{"authentication":{"methods":[{"name":"pwd","timestamp":"2025-11-25T19:59:58Z"},{"name":"mfa","timestamp":"2025-11-25T19:59:58Z"}]}}`
	if out := string(process([]byte(ev))); out != `{}` {
		t.Fatal(out)
	}
}
