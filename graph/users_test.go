package graph_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/passwords"
)

const updateUserMutation = `mutation($id: ID!, $in: UpdateUserInput!) { updateUser(id: $id, input: $in) { ` + userFields + ` } }`

// baseUser is the state every merge case starts from.
func baseUser(email string) map[string]any {
	return map[string]any{
		"email": email, "emailVerified": true, "name": "Base Name", "givenName": "Base", "familyName": "User",
		"nickname": "base", "picture": "https://example.com/p.png", "phoneNumber": "+15550001",
		"userMetadata": map[string]any{"theme": "dark", "prefs": map[string]any{"a": 1, "b": 2}, "lang": "en"},
		"appMetadata":  map[string]any{"plan": "gold", "roles": []any{"admin"}},
	}
}

// TestUpdateUserMergeTable: docs/PROFILE.md PATCH semantics, one case per rule.
func TestUpdateUserMergeTable(t *testing.T) {
	type want func(t *testing.T, before, after gqlUser)
	metaIs := func(field string, exp string) want {
		return func(t *testing.T, _, after gqlUser) {
			t.Helper()
			got := after.UserMetadata
			if field == "app" {
				got = after.AppMetadata
			}
			if js(got) != exp {
				t.Errorf("%sMetadata = %s, want %s", field, js(got), exp)
			}
		}
	}
	unchangedExcept := func(fields ...string) want {
		return func(t *testing.T, before, after gqlUser) {
			t.Helper()
			b, a := toMap(before), toMap(after)
			for k := range b {
				if k == "updatedAt" || contains(fields, k) {
					continue
				}
				if js(b[k]) != js(a[k]) {
					t.Errorf("%s changed: %s → %s", k, js(b[k]), js(a[k]))
				}
			}
		}
	}
	const baseUserMeta = `{"lang":"en","prefs":{"a":1,"b":2},"theme":"dark"}`
	const baseAppMeta = `{"plan":"gold","roles":["admin"]}`

	cases := []struct {
		name   string
		input  map[string]any
		checks []want
	}{
		{"absent leaves everything alone", map[string]any{}, []want{unchangedExcept()}},
		{"root field replaced", map[string]any{"name": "New Name", "givenName": "New"}, []want{
			unchangedExcept("name", "givenName"),
			func(t *testing.T, _, a gqlUser) {
				if deref(a.Name) != "New Name" || deref(a.GivenName) != "New" {
					t.Errorf("name %s givenName %s", deref(a.Name), deref(a.GivenName))
				}
			}}},
		{"null unsets root fields", map[string]any{"name": nil, "givenName": nil, "familyName": nil, "nickname": nil, "picture": nil, "phoneNumber": nil}, []want{
			unchangedExcept("name", "givenName", "familyName", "nickname", "picture", "phoneNumber"),
			func(t *testing.T, _, a gqlUser) {
				for k, v := range map[string]*string{"name": a.Name, "givenName": a.GivenName, "familyName": a.FamilyName,
					"nickname": a.Nickname, "picture": a.Picture, "phoneNumber": a.PhoneNumber} {
					if v != nil {
						t.Errorf("%s = %q, want null", k, *v)
					}
				}
			}}},
		{"metadata key added, others kept", map[string]any{"userMetadata": map[string]any{"new": "x"}}, []want{
			unchangedExcept("userMetadata"),
			metaIs("user", `{"lang":"en","new":"x","prefs":{"a":1,"b":2},"theme":"dark"}`)}},
		{"top-level key replaces its whole subtree", map[string]any{"userMetadata": map[string]any{"prefs": map[string]any{"c": 3}}}, []want{
			unchangedExcept("userMetadata"),
			metaIs("user", `{"lang":"en","prefs":{"c":3},"theme":"dark"}`)}},
		{"scalar replaced by object and back", map[string]any{"userMetadata": map[string]any{"theme": map[string]any{"name": "dark"}, "prefs": "none"}}, []want{
			metaIs("user", `{"lang":"en","prefs":"none","theme":{"name":"dark"}}`)}},
		{"null deletes a key", map[string]any{"userMetadata": map[string]any{"theme": nil, "missing": nil}}, []want{
			unchangedExcept("userMetadata"),
			metaIs("user", `{"lang":"en","prefs":{"a":1,"b":2}}`)}},
		{"null and set in one patch", map[string]any{"userMetadata": map[string]any{"theme": nil, "lang": "fr"}}, []want{
			metaIs("user", `{"lang":"fr","prefs":{"a":1,"b":2}}`)}},
		{"{} clears the object, the other is kept", map[string]any{"userMetadata": map[string]any{}}, []want{
			unchangedExcept("userMetadata"),
			metaIs("user", `{}`), metaIs("app", baseAppMeta)}},
		{"appMetadata merged one level", map[string]any{"appMetadata": map[string]any{"plan": "silver", "roles": []any{"viewer"}}}, []want{
			unchangedExcept("appMetadata"),
			metaIs("app", `{"plan":"silver","roles":["viewer"]}`), metaIs("user", baseUserMeta)}},
		{"appMetadata {} clears", map[string]any{"appMetadata": map[string]any{}}, []want{
			metaIs("app", `{}`), metaIs("user", baseUserMeta)}},
		{"null metadata object leaves it alone", map[string]any{"userMetadata": nil, "appMetadata": nil}, []want{
			unchangedExcept()}},
		{"email change resets emailVerified", map[string]any{"email": "Changed@Example.com"}, []want{
			unchangedExcept("email", "emailVerified"),
			func(t *testing.T, _, a gqlUser) {
				if deref(a.Email) != "changed@example.com" || a.EmailVerified {
					t.Errorf("email %s verified %v, want changed@example.com unverified", deref(a.Email), a.EmailVerified)
				}
			}}},
		{"email change keeps emailVerified when given", map[string]any{"email": "given@example.com", "emailVerified": true}, []want{
			func(t *testing.T, _, a gqlUser) {
				if deref(a.Email) != "given@example.com" || !a.EmailVerified {
					t.Errorf("email %s verified %v", deref(a.Email), a.EmailVerified)
				}
			}}},
		{"same email in another case is no change", map[string]any{"email": "SAME@example.com"}, []want{
			unchangedExcept()}},
		{"emailVerified alone", map[string]any{"emailVerified": false}, []want{
			unchangedExcept("emailVerified"),
			func(t *testing.T, _, a gqlUser) {
				if a.EmailVerified {
					t.Error("still verified")
				}
			}}},
		{"blocked and phoneVerified set", map[string]any{"blocked": true, "phoneVerified": true}, []want{
			unchangedExcept("blocked", "phoneVerified"),
			func(t *testing.T, _, a gqlUser) {
				if !a.Blocked || !a.PhoneVerified {
					t.Errorf("blocked %v phoneVerified %v", a.Blocked, a.PhoneVerified)
				}
			}}},
		{"password change sets lastPasswordReset", map[string]any{"password": "n3w-Passw0rd!"}, []want{
			unchangedExcept("lastPasswordReset"),
			func(t *testing.T, b, a gqlUser) {
				if b.LastPasswordReset != nil || a.LastPasswordReset == nil {
					t.Errorf("lastPasswordReset %s → %s", deref(b.LastPasswordReset), deref(a.LastPasswordReset))
				}
			}}},
	}

	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				email := fmt.Sprintf("merge%d@example.com", i)
				if strings.Contains(tc.name, "same email") {
					email = "same@example.com"
				}
				created := createUser(t, s, baseUser(email))
				before := getUser(t, s, created.ID)
				if js(before.UserMetadata) != baseUserMeta || js(before.AppMetadata) != baseAppMeta {
					t.Fatalf("base metadata %s %s", js(before.UserMetadata), js(before.AppMetadata))
				}
				logsBefore := sapiCount(t, s)
				var out struct{ UpdateUser gqlUser }
				s.MustGraphQL(t, admin, updateUserMutation, map[string]any{"id": before.ID, "in": tc.input}, &out)
				after := getUser(t, s, before.ID)
				// The mutation answers with what is stored.
				if js(out.UpdateUser.UserMetadata) != js(after.UserMetadata) || js(out.UpdateUser.AppMetadata) != js(after.AppMetadata) ||
					deref(out.UpdateUser.Email) != deref(after.Email) || deref(out.UpdateUser.Name) != deref(after.Name) {
					t.Errorf("updateUser answered %s, stored %s", js(out.UpdateUser), js(after))
				}
				for _, check := range tc.checks {
					check(t, before, after)
				}
				if n := sapiCount(t, s) - logsBefore; n != 1 {
					t.Errorf("%d sapi events, want 1", n)
				}
			})
		}

		t.Run("password is re-hashed", func(t *testing.T) {
			u := createUser(t, s, map[string]any{"email": "rehash@example.com", "password": "first-Passw0rd"})
			hash := func() string {
				idn, err := s.Deps.DB.Ent.Identity.Query().Where(identity.HasUserWith(user.ID(pulid.ID(u.ID)))).Only(systemCtx(t))
				if err != nil || idn.PasswordHash == nil {
					t.Fatalf("identity: %v", err)
				}
				return *idn.PasswordHash
			}
			h1 := hash()
			if passwords.Verify(h1, "first-Passw0rd") != nil || !strings.HasPrefix(h1, "$argon2id$") {
				t.Fatalf("stored hash %q does not verify the first password", h1)
			}
			var out struct{ UpdateUser gqlUser }
			s.MustGraphQL(t, admin, updateUserMutation, map[string]any{"id": u.ID, "in": map[string]any{"password": "second-Passw0rd"}}, &out)
			h2 := hash()
			if h2 == h1 || passwords.Verify(h2, "second-Passw0rd") != nil || passwords.Verify(h2, "first-Passw0rd") == nil {
				t.Fatalf("password not re-hashed: %q → %q", h1, h2)
			}
			if out.UpdateUser.LastPasswordReset == nil {
				t.Fatal("lastPasswordReset not set")
			}
			// No response ever carries the hash.
			r := s.GraphQL(t, admin, `query($id: ID!) { user(id: $id) { `+userFields+` identities { profileData } } }`, map[string]any{"id": u.ID})
			if strings.Contains(string(r.Data), "argon2") || strings.Contains(string(r.Data), h2) {
				t.Fatalf("hash leaked: %s", r.Data)
			}
		})
	})
}

func toMap(v any) map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(js(v)), &m)
	return m
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
