package apiv2_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"testing"

	"github.com/auth0/go-auth0"
	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/internal/apitest"
)

// auth0Time is the timestamp format Auth0 serves.
var auth0Time = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func uExample(t *testing.T, name string) any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "auth0", name))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// uShape compares the JSON shape of got (what Authgraph served) with an
// Auth0 example: every key served exists in the example with a value of
// the same JSON type (objects and arrays compared in depth, timestamps in
// Auth0's format), unless listed in extra; every key of the example is
// served unless listed in absent.
func uShape(t *testing.T, path string, example, got any, extra, absent []string) {
	t.Helper()
	switch ex := example.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, Auth0 sends an object", path, got)
			return
		}
		if len(ex) == 0 {
			return // an open object (details, metadata): any keys
		}
		for k, v := range g {
			ev, known := ex[k]
			switch {
			case known:
				uShape(t, path+"."+k, ev, v, extra, absent)
			case !slices.Contains(extra, k):
				t.Errorf("%s.%s: served, not in Auth0's example", path, k)
			}
		}
		for k := range ex {
			if _, ok := g[k]; !ok && !slices.Contains(absent, k) {
				t.Errorf("%s.%s: in Auth0's example, not served", path, k)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			t.Errorf("%s: got %T, Auth0 sends an array", path, got)
			return
		}
		if len(ex) == 0 || len(g) == 0 {
			return
		}
		// Each served element against the example's most similar element
		// (the one with the most keys in common).
		for i, item := range g {
			best := ex[0]
			if m, ok := item.(map[string]any); ok {
				for _, e := range ex {
					if em, ok := e.(map[string]any); ok && len(uCommon(m, em)) > len(uCommon(m, best.(map[string]any))) {
						best = e
					}
				}
			}
			uShape(t, fmt.Sprintf("%s[%d]", path, i), best, item, extra, absent)
		}
	case string:
		s, ok := got.(string)
		if !ok {
			t.Errorf("%s: got %T (%v), Auth0 sends a string", path, got, got)
			return
		}
		if auth0Time.MatchString(ex) && !auth0Time.MatchString(s) {
			t.Errorf("%s: %q is not a timestamp in Auth0's format", path, s)
		}
	default:
		if reflect.TypeOf(example) != reflect.TypeOf(got) {
			t.Errorf("%s: got %T (%v), Auth0 sends %T", path, got, got, example)
		}
	}
}

func uCommon(a, b map[string]any) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

func uJSON(t *testing.T, st int, body []byte, want int) any {
	t.Helper()
	if st != want {
		t.Fatalf("status %d, want %d: %s", st, want, body)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	return v
}

func TestUsersContract(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		admin := s.AdminToken(t)
		u := uCreate(t, m, &management.User{Email: auth0.String("john.doe@example.com"), Password: auth0.String("John-Doe-Pass-2024"),
			Name: auth0.String("John Doe"), GivenName: auth0.String("John"), FamilyName: auth0.String("Doe"),
			PhoneNumber: auth0.String("+14155550123"), Picture: auth0.String("https://example.com/john.png")})
		path := "/api/v2/users/" + url.PathEscape(u.GetID())
		// A user who never logged in has no last_login/last_ip; the
		// connection has no usernames; multifactor is not served;
		// last_password_reset is Auth0's too (not in the example).
		never := []string{"last_login", "last_ip", "username", "multifactor"}
		extra := []string{"last_password_reset"}

		st, body := uRaw(t, s, admin, http.MethodGet, path, nil)
		uShape(t, "user", uExample(t, "user.json"), uJSON(t, st, body, http.StatusOK), extra, never)

		st, body = uRaw(t, s, admin, http.MethodGet, "/api/v2/users?include_totals=true&per_page=10", nil)
		uShape(t, "list", uExample(t, "users_list.json"), uJSON(t, st, body, http.StatusOK), extra,
			never)

		// The identities array of a link.
		second := uCreate(t, m, &management.User{Email: auth0.String("second@example.com"), Username: nil})
		st, body = uRaw(t, s, admin, http.MethodPost, path+"/identities", map[string]any{"provider": "auth0", "user_id": second.GetID()})
		uShape(t, "identities", uExample(t, "identities.json"), uJSON(t, st, body, http.StatusCreated), []string{"nickname"},
			[]string{"username", "given_name", "family_name", "phone_number", "phone_verified", "name"})

		// A user's log event.
		st, body = uRaw(t, s, admin, http.MethodGet, path+"/logs", nil)
		logs := uJSON(t, st, body, http.StatusOK).([]any)
		if len(logs) == 0 {
			t.Fatal("no log events")
		}
		uShape(t, "log", uExample(t, "log.json"), logs[0], []string{"_id"},
			[]string{"connection", "connection_id", "hostname", "user_name", "audience", "scope", "strategy", "strategy_type",
				"isMobile", "user_agent", "security_context", "location_info", "ip", "client_name"})

		// Errors: Auth0's bodies, byte for byte where the text is Auth0's.
		st, body = uRaw(t, s, admin, http.MethodGet, "/api/v2/users/auth0%7Cnobody", nil)
		if got := uJSON(t, st, body, http.StatusNotFound); !reflect.DeepEqual(got, uExample(t, "error_404_user.json")) {
			t.Errorf("404 body: %s", body)
		}
		st, body = uRaw(t, s, admin, http.MethodPost, "/api/v2/users", map[string]any{"connection": uConn, "email": "JOHN.DOE@example.com"})
		// Auth0's body, but for errorCode: Authgraph names the reason
		// user_exists where Auth0 says auth0_idp_error.
		want409 := uExample(t, "error_409_user.json").(map[string]any)
		want409["errorCode"] = "user_exists"
		if got := uJSON(t, st, body, http.StatusConflict); !reflect.DeepEqual(got, want409) {
			t.Errorf("409 body: %s", body)
		}
		st, body = uRaw(t, s, s.Token(t, "create:users"), http.MethodGet, path, nil)
		uShape(t, "403", uExample(t, "error_403_scope.json"), uJSON(t, st, body, http.StatusForbidden), nil, nil)

		// The OpenAPI document describes these endpoints.
		st, body = uRaw(t, s, "", http.MethodGet, "/api/v2/openapi.json", nil)
		var doc struct {
			Paths map[string]map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(body, &doc); st != http.StatusOK || err != nil {
			t.Fatalf("openapi: %d %v", st, err)
		}
		for p, methods := range map[string][]string{
			"/users": {"get", "post"}, "/users/{id}": {"get", "patch", "delete"}, "/users-by-email": {"get"},
			"/users/{id}/logs": {"get"}, "/users/{id}/identities": {"post"}, "/users/{id}/identities/{provider}/{user_id}": {"delete"},
		} {
			for _, meth := range methods {
				if doc.Paths[p][meth] == nil {
					t.Errorf("openapi: no %s %s", meth, p)
				}
			}
		}
		_ = ctx
	})
}
