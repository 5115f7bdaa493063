package graph_test

import (
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

func TestResourceServers(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		// The management API is built in, follows the issuer and cannot change.
		var list struct {
			ResourceServers struct {
				Edges []struct {
					Node struct {
						ID, Identifier string
						System         bool
						Scopes         []struct{ Value string }
					}
				}
			}
		}
		s.MustGraphQL(t, admin, `{ resourceServers { edges { node { id identifier system scopes { value } } } } }`, nil, &list)
		if len(list.ResourceServers.Edges) != 1 {
			t.Fatalf("want only the built-in API, got %+v", list)
		}
		mgmt := list.ResourceServers.Edges[0].Node
		if mgmt.Identifier != authz.ManagementAudience(s.Issuer) || !mgmt.System || len(mgmt.Scopes) < len(authz.ManagementScopes()) {
			t.Fatalf("built-in API: %+v", mgmt)
		}
		r := s.GraphQL(t, admin, `mutation($id: ID!) { deleteResourceServer(id: $id) }`, map[string]any{"id": mgmt.ID})
		expectError(t, r, "FORBIDDEN", "")

		var created struct {
			CreateResourceServer struct {
				ID, Identifier     string
				TokenLifetime      int
				AllowOfflineAccess bool
			}
		}
		s.MustGraphQL(t, admin, `mutation($in: CreateResourceServerInput!) { createResourceServer(input: $in) { id identifier tokenLifetime allowOfflineAccess } }`,
			map[string]any{"in": map[string]any{"identifier": "https://api.example.com/", "name": "Orders",
				"scopes": []any{map[string]any{"value": "read:orders", "description": "Read orders"}}}}, &created)
		if created.CreateResourceServer.TokenLifetime != 86400 || created.CreateResourceServer.AllowOfflineAccess {
			t.Fatalf("defaults: %+v", created)
		}
		for name, in := range map[string]map[string]any{
			"duplicate":         {"identifier": "https://api.example.com/", "name": "x"},
			"management clash":  {"identifier": authz.ManagementAudience(s.Issuer), "name": "x"},
			"relative":          {"identifier": "orders", "name": "x"},
			"bad scope":         {"identifier": "urn:x", "name": "x", "scopes": []any{map[string]any{"value": "has space"}}},
			"lifetime too long": {"identifier": "urn:y", "name": "x", "tokenLifetime": 10_000_000},
		} {
			r := s.GraphQL(t, admin, `mutation($in: CreateResourceServerInput!) { createResourceServer(input: $in) { id } }`, map[string]any{"in": in})
			if len(r.Errors) == 0 {
				t.Errorf("%s: accepted", name)
			}
		}
		var upd struct{ UpdateResourceServer struct{ TokenLifetime int } }
		s.MustGraphQL(t, admin, `mutation($id: ID!) { updateResourceServer(id: $id, input: {tokenLifetime: 3600, allowOfflineAccess: true}) { tokenLifetime } }`,
			map[string]any{"id": "https://api.example.com/"}, &upd)
		if upd.UpdateResourceServer.TokenLifetime != 3600 {
			t.Fatalf("update: %+v", upd)
		}
		// Scopes are required, checked before any lookup.
		r = s.GraphQL(t, scopedToken(t, s, "read:resource_servers"), `mutation($id: ID!) { deleteResourceServer(id: $id) }`,
			map[string]any{"id": created.CreateResourceServer.ID})
		expectError(t, r, "FORBIDDEN", "")
		r = s.GraphQL(t, scopedToken(t, s, "read:users"), `{ resourceServers { totalCount } }`, nil)
		expectError(t, r, "FORBIDDEN", "")
		var del struct{ DeleteResourceServer string }
		s.MustGraphQL(t, admin, `mutation($id: ID!) { deleteResourceServer(id: $id) }`, map[string]any{"id": created.CreateResourceServer.ID}, &del)
	})
}

func TestRotateSigningKeysKeepsOldTokensValid(t *testing.T) {
	s := apitest.Start(t, apitest.Backends()[0].DSN(t))
	old := s.AdminToken(t)
	var out struct{ RotateSigningKeys struct{ Kid string } }
	s.MustGraphQL(t, old, `mutation { rotateSigningKeys { kid algorithm createdAt } }`, nil, &out)
	if out.RotateSigningKeys.Kid == "" {
		t.Fatal("no kid")
	}
	// Tokens signed with the retired key still verify…
	var me struct{ Users struct{ TotalCount int } }
	s.MustGraphQL(t, old, `{ users { totalCount } }`, nil, &me)
	// …and new ones are signed with the new key.
	fresh := mintToken(t, s, validClaims(s))
	s.MustGraphQL(t, fresh, `{ users { totalCount } }`, nil, &me)
	r := s.GraphQL(t, scopedToken(t, s, "read:users"), `mutation { rotateSigningKeys { kid } }`, nil)
	expectError(t, r, "FORBIDDEN", "")
}

func TestNoScopeEscalationThroughClients(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		tok := scopedToken(t, s, "create:clients", "update:clients", "read:users")
		r := s.GraphQL(t, tok, `mutation { createClient(input: {name: "x", type: "m2m", managementScopes: ["delete:users"]}) { clientSecret } }`, nil)
		expectError(t, r, "FORBIDDEN", "")
		var ok struct {
			CreateClient struct{ Client struct{ ID string } }
		}
		s.MustGraphQL(t, tok, `mutation { createClient(input: {name: "x", type: "m2m", managementScopes: ["read:users"]}) { client { id } } }`, nil, &ok)
		r = s.GraphQL(t, tok, `mutation($id: ID!) { updateClient(id: $id, input: {managementScopes: ["create:clients", "read:logs"]}) { id } }`,
			map[string]any{"id": ok.CreateClient.Client.ID})
		expectError(t, r, "FORBIDDEN", "")
	})
}

// userToken mints what the OP issues a signed-in user for the management
// API: sub is the user_id, scopes are the self-service ones.
func userToken(t testing.TB, s *apitest.Server, userID string, scopes string) string {
	c := validClaims(s)
	c["sub"], c["scope"], c["client_id"], c["azp"], c["iat"] = userID, scopes, "spa-client", "spa-client", time.Now().Unix()
	delete(c, "gty")
	return mintToken(t, s, c)
}

func TestMeAndUpdateMe(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		jane := createUser(t, s, map[string]any{"connection": defaultConn, "email": "jane@example.com",
			"appMetadata": map[string]any{"plan": "gold"}, "userMetadata": map[string]any{"theme": "dark", "lang": "en"}})
		other := createUser(t, s, map[string]any{"connection": defaultConn, "email": "other@example.com"})
		tok := userToken(t, s, jane.UserID, "read:current_user update:current_user_metadata")

		var me struct {
			Me struct {
				UserID      string
				AppMetadata map[string]any
				Identities  []struct {
					Connection struct{ Name, Strategy string }
				}
			}
		}
		s.MustGraphQL(t, tok, `{ me { userId appMetadata identities { connection { name strategy } } } }`, nil, &me)
		if me.Me.UserID != jane.UserID || me.Me.AppMetadata["plan"] != "gold" || len(me.Me.Identities) != 1 || me.Me.Identities[0].Connection.Name != defaultConn {
			t.Fatalf("me = %+v", me)
		}
		// Connection configuration stays hidden from self-service tokens.
		r := s.GraphQL(t, tok, `{ me { identities { connection { options } } } }`, nil)
		expectError(t, r, "FORBIDDEN", "")

		var upd struct {
			UpdateMe struct {
				Name         string
				UserMetadata map[string]any
				AppMetadata  map[string]any
			}
		}
		s.MustGraphQL(t, tok, `mutation { updateMe(input: {name: "Jane D", userMetadata: {theme: null, tz: "UTC"}}) { name userMetadata appMetadata } }`, nil, &upd)
		if upd.UpdateMe.Name != "Jane D" || !sameJSON(upd.UpdateMe.UserMetadata, map[string]any{"lang": "en", "tz": "UTC"}) ||
			upd.UpdateMe.AppMetadata["plan"] != "gold" {
			t.Fatalf("updateMe = %+v", upd)
		}
		// app_metadata is not part of UpdateMeInput at all.
		r = s.GraphQL(t, tok, `mutation { updateMe(input: {appMetadata: {plan: "free"}}) { userId } }`, nil)
		if len(r.Errors) == 0 || getUser(t, s, jane.ID).AppMetadata["plan"] != "gold" {
			t.Fatal("app_metadata writable through updateMe")
		}
		// Never another user, never the management operations.
		r = s.GraphQL(t, tok, `query($id: ID!) { user(id: $id) { userId } }`, map[string]any{"id": other.ID})
		expectError(t, r, "NOT_FOUND", "")
		var users struct{ Users struct{ TotalCount int } }
		s.MustGraphQL(t, tok, `{ users { totalCount } }`, nil, &users)
		if users.Users.TotalCount != 1 {
			t.Fatalf("a user token sees %d users", users.Users.TotalCount)
		}
		r = s.GraphQL(t, tok, `mutation($id: ID!) { updateUser(id: $id, input: {name: "x"}) { id } }`, map[string]any{"id": other.ID})
		expectError(t, r, "FORBIDDEN", "")
		r = s.GraphQL(t, tok, `mutation($id: ID!) { updateUser(id: $id, input: {appMetadata: {plan: "free"}}) { id } }`, map[string]any{"id": jane.ID})
		expectError(t, r, "FORBIDDEN", "")
		r = s.GraphQL(t, tok, `{ connections { totalCount } }`, nil)
		if len(r.Errors) == 0 {
			// Only the user's own connection is visible; configuration is not.
			var c struct{ Connections struct{ TotalCount int } }
			r.Decode(t, &c)
			if c.Connections.TotalCount != 1 {
				t.Fatalf("user sees %d connections", c.Connections.TotalCount)
			}
		}
		// Read-only token cannot update; machine tokens have no "me".
		ro := userToken(t, s, jane.UserID, "read:current_user")
		r = s.GraphQL(t, ro, `mutation { updateMe(input: {name: "x"}) { userId } }`, nil)
		expectError(t, r, "FORBIDDEN", "")
		r = s.GraphQL(t, s.AdminToken(t), `{ me { userId } }`, nil)
		expectError(t, r, "FORBIDDEN", "")
	})
}

func TestClientTokenLifetimes(t *testing.T) {
	s := apitest.Start(t, apitest.Backends()[0].DSN(t))
	admin := s.AdminToken(t)
	var out struct {
		CreateClient struct {
			Client struct {
				ID                                                              string
				IDTokenLifetime, RefreshTokenIdleLifetime, RefreshTokenLifetime int
			}
		}
	}
	s.MustGraphQL(t, admin, `mutation { createClient(input: {name: "web", type: "regular_web", redirectUris: ["https://app.example.com/cb"],
		idTokenLifetime: 600, refreshTokenIdleLifetime: 3600, refreshTokenLifetime: 86400}) {
		client { id idTokenLifetime refreshTokenIdleLifetime refreshTokenLifetime } } }`, nil, &out)
	c := out.CreateClient.Client
	if c.IDTokenLifetime != 600 || c.RefreshTokenIdleLifetime != 3600 || c.RefreshTokenLifetime != 86400 {
		t.Fatalf("lifetimes: %+v", c)
	}
	for _, in := range []string{`{idTokenLifetime: -1}`, `{refreshTokenIdleLifetime: 999999999}`, `{refreshTokenIdleLifetime: 7200, refreshTokenLifetime: 3600}`} {
		r := s.GraphQL(t, admin, `mutation($id: ID!) { updateClient(id: $id, input: `+in+`) { id } }`, map[string]any{"id": c.ID})
		expectError(t, r, "BAD_USER_INPUT", "")
	}
}

func TestClientMetadata(t *testing.T) {
	s := apitest.Start(t, apitest.Backends()[0].DSN(t))
	admin := s.AdminToken(t)
	var out struct {
		CreateClient struct {
			Client struct {
				ID             string
				ClientMetadata map[string]any
			}
		}
	}
	s.MustGraphQL(t, admin, `mutation { createClient(input: {name: "web", type: "spa", redirectUris: ["https://app.example.com/cb"],
		clientMetadata: {tier: "gold"}}) { client { id clientMetadata } } }`, nil, &out)
	if out.CreateClient.Client.ClientMetadata["tier"] != "gold" {
		t.Fatalf("clientMetadata: %+v", out)
	}
	for _, md := range []string{`{n: 1}`, `{a:"1",b:"1",c:"1",d:"1",e:"1",f:"1",g:"1",h:"1",i:"1",j:"1",k:"1"}`} {
		r := s.GraphQL(t, admin, `mutation($id: ID!) { updateClient(id: $id, input: {clientMetadata: `+md+`}) { id } }`,
			map[string]any{"id": out.CreateClient.Client.ID})
		expectError(t, r, "BAD_USER_INPUT", "")
	}
}

// signingAlg picks the algorithm of an API's access tokens; an unknown one
// is BAD_USER_INPUT and creates nothing.
func TestResourceServerSigningAlg(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	admin := s.AdminToken(t)
	var created struct {
		CreateResourceServer struct{ ID, SigningAlg string }
	}
	s.MustGraphQL(t, admin, `mutation { createResourceServer(input: {identifier: "urn:ed", name: "Ed", signingAlg: "EdDSA"}) { id signingAlg } }`, nil, &created)
	if created.CreateResourceServer.SigningAlg != "EdDSA" {
		t.Fatalf("signingAlg = %q", created.CreateResourceServer.SigningAlg)
	}
	r := s.GraphQL(t, admin, `mutation { createResourceServer(input: {identifier: "urn:hs", name: "HS", signingAlg: "HS256"}) { id } }`, nil)
	expectError(t, r, "BAD_USER_INPUT", "")
	var list struct {
		ResourceServers struct{ TotalCount int }
	}
	s.MustGraphQL(t, admin, `{ resourceServers { totalCount } }`, nil, &list)
	if list.ResourceServers.TotalCount != 2 { // the management API and urn:ed
		t.Errorf("%d resource servers after a refused create, want 2", list.ResourceServers.TotalCount)
	}
}
