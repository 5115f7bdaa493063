package graph_test

import (
	"strings"
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
)

const createUserMutation = `mutation($in: CreateUserInput!) { createUser(input: $in) { id } }`

// nested returns {"l1": {"l2": … {"l<levels>": "leaf"}}}: levels nested
// objects counting the outermost.
func nested(levels int) map[string]any {
	var v any = "leaf"
	for i := levels; i >= 1; i-- {
		v = map[string]any{"l" + string(rune('a'+i)): v}
	}
	return v.(map[string]any)
}

// snapshot is everything a failed write must leave as it was.
type snapshot struct {
	users, sapi int
	watched     []gqlUser
}

func takeSnapshot(t *testing.T, s *apitest.Server, watched ...string) snapshot {
	t.Helper()
	sn := snapshot{users: count(t, s, "users"), sapi: sapiCount(t, s)}
	for _, id := range watched {
		sn.watched = append(sn.watched, getUser(t, s, id))
	}
	return sn
}

func (sn snapshot) assertUnchanged(t *testing.T, s *apitest.Server) {
	t.Helper()
	if n := count(t, s, "users"); n != sn.users {
		t.Errorf("user count %d → %d", sn.users, n)
	}
	if n := sapiCount(t, s); n != sn.sapi {
		t.Errorf("failed write logged %d sapi events", n-sn.sapi)
	}
	for _, u := range sn.watched {
		if got := getUser(t, s, u.ID); !sameJSON(got, u) {
			t.Errorf("user %s changed:\n got %s\nwant %s", u.ID, js(got), js(u))
		}
	}
}

// TestBadInput: every rejected write answers a typed error naming the field
// and changes nothing: no user created or altered, no sapi event.
func TestBadInput(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		s.MustGraphQL(t, admin, `mutation { createConnection(input: {name: "with-usernames", strategy: "database", options: {requires_username: true}}) { id } }`, nil, &map[string]any{})
		s.MustGraphQL(t, admin, `mutation { createConnection(input: {name: "social", strategy: "oidc", options: {issuer: "https://idp.example.com/", client_id: "social"}}) { id } }`, nil, &map[string]any{})
		fixture := createUser(t, s, map[string]any{"email": "fixture@example.com", "name": "Fixture", "emailVerified": true,
			"userMetadata": map[string]any{"k": "v"}, "appMetadata": map[string]any{"plan": "gold"}})
		createUser(t, s, map[string]any{"email": "other@example.com"})
		createUser(t, s, map[string]any{"email": "dup-id@example.com", "userId": "auth0|dup-id"})
		u1 := createUser(t, s, map[string]any{"connection": "with-usernames", "email": "u1@example.com", "username": "taken"})
		u2 := createUser(t, s, map[string]any{"connection": "with-usernames", "email": "u2@example.com", "username": "free"})
		watched := []string{fixture.ID, u1.ID, u2.ID}

		create := func(in map[string]any) func() apitest.Response {
			return func() apitest.Response {
				if _, ok := in["connection"]; !ok {
					in["connection"] = defaultConn
				}
				if _, ok := in["email"]; !ok {
					in["email"] = "new-user@example.com"
				}
				return s.GraphQL(t, admin, createUserMutation, map[string]any{"in": in})
			}
		}
		noEmail := func(in map[string]any) func() apitest.Response {
			return func() apitest.Response {
				in["connection"] = defaultConn
				return s.GraphQL(t, admin, createUserMutation, map[string]any{"in": in})
			}
		}
		update := func(id string, in map[string]any) func() apitest.Response {
			return func() apitest.Response {
				return s.GraphQL(t, admin, updateUserMutation, map[string]any{"id": id, "in": in})
			}
		}
		big := map[string]any{"big": strings.Repeat("x", 10*1024)}

		cases := []struct {
			name        string
			do          func() apitest.Response
			code, field string
		}{
			// createUser: bad values.
			{"create: invalid email", create(map[string]any{"email": "not-an-email"}), "BAD_USER_INPUT", "email"},
			{"create: email with display name", create(map[string]any{"email": "Jane <jane@example.com>"}), "BAD_USER_INPUT", "email"},
			{"create: email without domain dot", create(map[string]any{"email": "jane@example"}), "BAD_USER_INPUT", "email"},
			{"create: email local part over 64", create(map[string]any{"email": strings.Repeat("a", 65) + "@example.com"}), "BAD_USER_INPUT", "email"},
			{"create: missing email", noEmail(map[string]any{}), "BAD_USER_INPUT", "email"},
			{"create: userMetadata key with dot", create(map[string]any{"userMetadata": map[string]any{"a.b": 1}}), "BAD_USER_INPUT", "userMetadata"},
			{"create: userMetadata key with $", create(map[string]any{"userMetadata": map[string]any{"$set": 1}}), "BAD_USER_INPUT", "userMetadata"},
			{"create: nested key with dot", create(map[string]any{"userMetadata": map[string]any{"a": map[string]any{"b.c": 1}}}), "BAD_USER_INPUT", "userMetadata"},
			{"create: key with $ inside a list", create(map[string]any{"userMetadata": map[string]any{"a": []any{map[string]any{"$x": 1}}}}), "BAD_USER_INPUT", "userMetadata"},
			{"create: appMetadata nested key with $", create(map[string]any{"appMetadata": map[string]any{"a": map[string]any{"b$": 1}}}), "BAD_USER_INPUT", "appMetadata"},
			{"create: appMetadata blocked", create(map[string]any{"appMetadata": map[string]any{"blocked": true}}), "BAD_USER_INPUT", "appMetadata"},
			{"create: appMetadata user_id", create(map[string]any{"appMetadata": map[string]any{"user_id": "auth0|x"}}), "BAD_USER_INPUT", "appMetadata"},
			{"create: appMetadata email", create(map[string]any{"appMetadata": map[string]any{"email": "x@example.com"}}), "BAD_USER_INPUT", "appMetadata"},
			{"create: appMetadata identities", create(map[string]any{"appMetadata": map[string]any{"identities": []any{}}}), "BAD_USER_INPUT", "appMetadata"},
			{"create: userMetadata over 10 KB", create(map[string]any{"userMetadata": big}), "BAD_USER_INPUT", "userMetadata"},
			{"create: appMetadata over 10 KB", create(map[string]any{"appMetadata": big}), "BAD_USER_INPUT", "appMetadata"},
			{"create: userMetadata 11 levels deep", create(map[string]any{"userMetadata": nested(11)}), "BAD_USER_INPUT", "userMetadata"},
			{"create: appMetadata 11 levels deep", create(map[string]any{"appMetadata": nested(11)}), "BAD_USER_INPUT", "appMetadata"},
			{"create: phone not E.164", create(map[string]any{"phoneNumber": "555-1234"}), "BAD_USER_INPUT", "phoneNumber"},
			{"create: picture not http", create(map[string]any{"picture": "javascript:alert(1)"}), "BAD_USER_INPUT", "picture"},
			{"create: empty name", create(map[string]any{"name": ""}), "BAD_USER_INPUT", "name"},
			{"create: password over 72 bytes", create(map[string]any{"password": strings.Repeat("p", 73)}), "BAD_USER_INPUT", "password"},
			{"create: username where none is used", create(map[string]any{"username": "someone"}), "BAD_USER_INPUT", "username"},
			{"create: username missing where required", create(map[string]any{"connection": "with-usernames"}), "BAD_USER_INPUT", "username"},
			{"create: username that is an email", create(map[string]any{"connection": "with-usernames", "username": "a@b.co"}), "BAD_USER_INPUT", "username"},
			{"create: in a non-database connection", create(map[string]any{"connection": "social"}), "BAD_USER_INPUT", "connection"},
			{"create: userId with spaces", create(map[string]any{"userId": "auth0|a b"}), "BAD_USER_INPUT", "userId"},
			// createUser: conflicts and unknowns.
			{"create: duplicate email", create(map[string]any{"email": "other@example.com"}), "CONFLICT", "email"},
			{"create: duplicate email in another case", create(map[string]any{"email": "OTHER@Example.com"}), "CONFLICT", "email"},
			{"create: duplicate username", create(map[string]any{"connection": "with-usernames", "username": "TAKEN"}), "CONFLICT", "username"},
			{"create: duplicate userId", create(map[string]any{"userId": "auth0|dup-id"}), "CONFLICT", "userId"},
			{"create: duplicate bare userId", create(map[string]any{"userId": "dup-id"}), "CONFLICT", "userId"},
			{"create: unknown connection", create(map[string]any{"connection": "nope"}), "NOT_FOUND", ""},

			// updateUser.
			{"update: invalid email", update(fixture.ID, map[string]any{"email": "nope"}), "BAD_USER_INPUT", "email"},
			{"update: null email of a database user", update(fixture.ID, map[string]any{"email": nil}), "BAD_USER_INPUT", "email"},
			{"update: null emailVerified", update(fixture.ID, map[string]any{"emailVerified": nil}), "BAD_USER_INPUT", "emailVerified"},
			{"update: null blocked", update(fixture.ID, map[string]any{"blocked": nil}), "BAD_USER_INPUT", "blocked"},
			{"update: null password", update(fixture.ID, map[string]any{"password": nil}), "BAD_USER_INPUT", "password"},
			{"update: empty password", update(fixture.ID, map[string]any{"password": ""}), "BAD_USER_INPUT", "password"},
			{"update: userMetadata key with dot", update(fixture.ID, map[string]any{"userMetadata": map[string]any{"a.b": 1}}), "BAD_USER_INPUT", "userMetadata"},
			{"update: nested key with $", update(fixture.ID, map[string]any{"appMetadata": map[string]any{"x": map[string]any{"y": map[string]any{"$z": 1}}}}), "BAD_USER_INPUT", "appMetadata"},
			{"update: appMetadata blocked", update(fixture.ID, map[string]any{"appMetadata": map[string]any{"blocked": true}}), "BAD_USER_INPUT", "appMetadata"},
			{"update: appMetadata email", update(fixture.ID, map[string]any{"appMetadata": map[string]any{"email": "x"}}), "BAD_USER_INPUT", "appMetadata"},
			{"update: merged metadata over 10 KB", update(fixture.ID, map[string]any{"userMetadata": map[string]any{"big": strings.Repeat("x", 10*1024-12)}}), "BAD_USER_INPUT", "userMetadata"},
			{"update: 11 levels deep", update(fixture.ID, map[string]any{"userMetadata": nested(11)}), "BAD_USER_INPUT", "userMetadata"},
			{"update: username where none is used", update(fixture.ID, map[string]any{"username": "x"}), "BAD_USER_INPUT", "username"},
			{"update: valid fields with one invalid", update(fixture.ID, map[string]any{"name": "Changed", "email": "changed@example.com",
				"userMetadata": map[string]any{"new": 1}, "appMetadata": map[string]any{"user_id": "x"}}), "BAD_USER_INPUT", "appMetadata"},
			{"update: valid fields then bad phone", update(fixture.ID, map[string]any{"name": "Changed", "phoneNumber": "12"}), "BAD_USER_INPUT", "phoneNumber"},
			{"update: duplicate email", update(fixture.ID, map[string]any{"email": "Other@example.com", "name": "Changed"}), "CONFLICT", "email"},
			{"update: duplicate username", update(u2.ID, map[string]any{"username": "Taken", "name": "Changed"}), "CONFLICT", "username"},
			{"update: unknown node id", update("usr_01JZZZZZZZZZZZZZZZZZZZZZZZ", map[string]any{"name": "x"}), "NOT_FOUND", ""},
			{"update: unknown user_id", update("auth0|nope", map[string]any{"name": "x"}), "NOT_FOUND", ""},

			// deleteUser and reads.
			{"delete: unknown id", func() apitest.Response {
				return s.GraphQL(t, admin, `mutation { deleteUser(id: "usr_01JZZZZZZZZZZZZZZZZZZZZZZZ") }`, nil)
			}, "NOT_FOUND", ""},
			{"delete: unknown user_id", func() apitest.Response {
				return s.GraphQL(t, admin, `mutation { deleteUser(id: "auth0|nope") }`, nil)
			}, "NOT_FOUND", ""},
			{"read: unknown user", func() apitest.Response {
				return s.GraphQL(t, admin, `{ user(id: "auth0|nope") { id } }`, nil)
			}, "NOT_FOUND", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				sn := takeSnapshot(t, s, watched...)
				r := tc.do()
				expectError(t, r, tc.code, tc.field)
				if !dataIsEmpty(r.Data) {
					t.Errorf("failed write returned data %s", r.Data)
				}
				sn.assertUnchanged(t, s)
			})
		}

		t.Run("a rejected email change does not claim the address", func(t *testing.T) {
			// The identity's email_lower must have been rolled back with the
			// rest: the address stays free for someone else.
			createUser(t, s, map[string]any{"email": "changed@example.com"})
		})
		t.Run("same email in another database connection is allowed", func(t *testing.T) {
			createUser(t, s, map[string]any{"connection": "with-usernames", "email": "other@example.com", "username": "other"})
		})
	})
}

// TestMetadataLimitsBoundaries: values just within the limits are accepted,
// so the rejections above are about the limit, not the shape.
func TestMetadataLimitsBoundaries(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		within := map[string]any{"big": strings.Repeat("x", 10*1024-len(`{"big":""}`))}
		u := createUser(t, s, map[string]any{"email": "limits@example.com", "userMetadata": within, "appMetadata": nested(10)})
		if js(u.AppMetadata) != js(nested(10)) || len(js(u.UserMetadata)) != 10*1024 {
			t.Fatalf("stored %d bytes / %s", len(js(u.UserMetadata)), js(u.AppMetadata))
		}
		var out struct{ UpdateUser gqlUser }
		s.MustGraphQL(t, s.AdminToken(t), updateUserMutation, map[string]any{"id": u.ID, "in": map[string]any{
			"userMetadata": map[string]any{"big": nil, "deep": nested(9)}}}, &out)
		if js(out.UpdateUser.UserMetadata) != js(map[string]any{"deep": nested(9)}) {
			t.Fatalf("userMetadata %s", js(out.UpdateUser.UserMetadata))
		}
	})
}
