package graph_test

// Privilege escalation through the management API: a caller must never reach
// (directly, or through a client or an administrator's account it controls)
// a scope it does not hold. Every refusal is FORBIDDEN with the missing scope
// in extensions.scope, and changes nothing.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/apitest"
)

// expectEscalation asserts r was refused as an escalation: FORBIDDEN, no
// data, no audit event written since sapiBefore.
func expectEscalation(t *testing.T, s *apitest.Server, r apitest.Response, sapiBefore int) {
	t.Helper()
	e := expectError(t, r, "FORBIDDEN", "")
	if sc, _ := e.Extensions["scope"].(string); sc == "" {
		t.Errorf("extensions.scope is empty: %+v", e)
	}
	if !dataIsEmpty(r.Data) {
		t.Errorf("refused call returned data %s", r.Data)
	}
	if n := sapiCount(t, s); n != sapiBefore {
		t.Errorf("refused call wrote %d sapi events", n-sapiBefore)
	}
}

// The finding: a client holding only update:clients rotated the bootstrap
// admin client's secret, got the new one and with it a token holding every
// scope. It must be FORBIDDEN and the secret unchanged.
func TestRotateClientSecretOfAMorePowerfulClientIsForbidden(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		before := sapiCount(t, s)
		r := s.GraphQL(t, scopedToken(t, s, "update:clients"),
			`mutation($id: ID!) { rotateClientSecret(id: $id) { client { id } clientSecret } }`, map[string]any{"id": s.AdminID})
		expectEscalation(t, s, r, before)
		if status, tok := requestToken(t, s, s.AdminID, s.AdminSecret); tok == "" {
			t.Fatalf("the admin client's secret changed: token endpoint answered %d", status)
		}

		// The same for an ordinary client holding one scope the caller lacks,
		// by node id and by client_id.
		var svc struct {
			CreateClient struct {
				Client       struct{ ID, ClientID string }
				ClientSecret string
			}
		}
		s.MustGraphQL(t, s.AdminToken(t), `mutation { createClient(input: {name: "svc", type: "m2m", managementScopes: ["read:users", "delete:users"]}) {
			client { id clientId } clientSecret } }`, nil, &svc)
		weak := scopedToken(t, s, "update:clients", "read:users")
		for _, id := range []string{svc.CreateClient.Client.ID, svc.CreateClient.Client.ClientID} {
			before := sapiCount(t, s)
			r := s.GraphQL(t, weak, `mutation($id: ID!) { rotateClientSecret(id: $id) { clientSecret } }`, map[string]any{"id": id})
			expectEscalation(t, s, r, before)
			if got := r.Errors[0].Extensions["scope"]; got != "delete:users" {
				t.Errorf("extensions.scope = %v, want delete:users", got)
			}
		}
		if _, tok := requestToken(t, s, svc.CreateClient.Client.ClientID, svc.CreateClient.ClientSecret); tok == "" {
			t.Fatal("refused rotations changed the secret")
		}
		// A caller holding every scope of the client may rotate it.
		var out struct{ RotateClientSecret struct{ ClientSecret string } }
		s.MustGraphQL(t, scopedToken(t, s, "update:clients", "read:users", "delete:users"),
			`mutation($id: ID!) { rotateClientSecret(id: $id) { clientSecret } }`, map[string]any{"id": svc.CreateClient.Client.ID}, &out)
		if _, tok := requestToken(t, s, svc.CreateClient.Client.ClientID, out.RotateClientSecret.ClientSecret); tok == "" {
			t.Fatal("allowed rotation: the new secret is refused")
		}
		// Every scope but one is not enough for the bootstrap admin client.
		before = sapiCount(t, s)
		r = s.GraphQL(t, scopedToken(t, s, everyScopeBut("read:admins")...),
			`mutation($id: ID!) { rotateClientSecret(id: $id) { clientSecret } }`, map[string]any{"id": s.AdminID})
		expectEscalation(t, s, r, before)
	})
}

// updateClient and deleteClient on a client holding a scope the caller lacks
// are FORBIDDEN and change nothing; on a client within the caller's scopes
// they work.
func TestEditOrDeleteOfAMorePowerfulClientIsForbidden(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		var svc struct {
			CreateClient struct{ Client struct{ ID, ClientID string } }
		}
		s.MustGraphQL(t, s.AdminToken(t), `mutation { createClient(input: {name: "powerful", type: "regular_web",
			redirectUris: ["https://app.example.com/cb"], managementScopes: ["read:users", "update:admins"]}) { client { id clientId } } }`, nil, &svc)
		id := svc.CreateClient.Client.ID
		caller := scopedToken(t, s, "update:clients", "delete:clients", "read:users")
		for name, q := range map[string]string{
			"rename":            `mutation($id: ID!) { updateClient(id: $id, input: {name: "mine"}) { id } }`,
			"redirect URIs":     `mutation($id: ID!) { updateClient(id: $id, input: {redirectUris: ["https://evil.example/cb"]}) { id } }`,
			"narrow the scopes": `mutation($id: ID!) { updateClient(id: $id, input: {managementScopes: ["read:users"]}) { id } }`,
			"delete":            `mutation($id: ID!) { deleteClient(id: $id) }`,
		} {
			t.Run(name, func(t *testing.T) {
				before := sapiCount(t, s)
				expectEscalation(t, s, s.GraphQL(t, caller, q, map[string]any{"id": id}), before)
				app, err := s.Deps.DB.Ent.Application.Query().Where(application.ID(pulid.ID(id))).Only(systemCtx(t))
				if err != nil {
					t.Fatalf("the client is gone: %v", err)
				}
				if app.Name != "powerful" || !slices.Equal(app.RedirectUris, []string{"https://app.example.com/cb"}) ||
					!slices.Equal(app.ManagementScopes, []string{"read:users", "update:admins"}) {
					t.Fatalf("refused call changed the client: %+v", app)
				}
			})
		}
		// Within the caller's scopes: allowed.
		var weak struct {
			CreateClient struct{ Client struct{ ID string } }
		}
		s.MustGraphQL(t, s.AdminToken(t), `mutation { createClient(input: {name: "weak", type: "m2m", managementScopes: ["read:users"]}) { client { id } } }`, nil, &weak)
		s.MustGraphQL(t, caller, `mutation($id: ID!) { updateClient(id: $id, input: {name: "renamed"}) { id } }`, map[string]any{"id": weak.CreateClient.Client.ID}, nil)
		s.MustGraphQL(t, caller, `mutation($id: ID!) { deleteClient(id: $id) }`, map[string]any{"id": weak.CreateClient.Client.ID}, nil)
	})
}

// adminFixture is an administrator (a database user holding an admin grant)
// and a plain user, with the scopes of the grant.
type adminFixture struct {
	adminID, adminUserID, adminEmail string
	plainID                          string
	grant                            []string
}

const adminPassword = "Admin-Original-Pass-1"

func newAdminFixture(t *testing.T, s *apitest.Server) adminFixture {
	t.Helper()
	f := adminFixture{adminEmail: "root@example.com", grant: []string{"read:users", "update:users", "delete:users", "read:clients", "update:clients"}}
	a := createUser(t, s, map[string]any{"email": f.adminEmail, "password": adminPassword, "emailVerified": true})
	f.adminID, f.adminUserID = a.ID, a.UserID
	f.plainID = createUser(t, s, map[string]any{"email": "plain@example.com", "password": "Plain-Original-Pass-1"}).ID
	s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!, $s: [String!]!) { grantAdmin(userId: $id, scopes: $s) { id } }`,
		map[string]any{"id": f.adminID, "s": f.grant}, nil)
	return f
}

// adminUnchanged asserts the administrator's account is exactly as before.
func (f adminFixture) unchanged(t *testing.T, s *apitest.Server, before gqlUser, hash string) {
	t.Helper()
	after := getUser(t, s, f.adminID)
	if js(after) != js(before) {
		t.Fatalf("refused call changed the administrator:\n%s\n%s", js(before), js(after))
	}
	if got := passwordHash(t, s, f.adminID); got != hash {
		t.Fatal("refused call changed the administrator's password")
	}
	sc, err := admins.Scopes(systemCtx(t), s.Deps.DB.Ent, pulid.ID(f.adminID))
	if slices.Sort(sc); err != nil || !slices.Equal(sc, slices.Sorted(slices.Values(f.grant))) {
		t.Fatalf("the grant changed: %v %v", sc, err)
	}
}

func passwordHash(t *testing.T, s *apitest.Server, id string) string {
	t.Helper()
	u, err := s.Deps.DB.Ent.User.Query().Where(user.ID(pulid.ID(id))).WithIdentities().Only(systemCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, idn := range u.Edges.Identities {
		if idn.PasswordHash != nil {
			return *idn.PasswordHash
		}
	}
	return ""
}

// The finding: a caller holding update:users changed the password of a user
// holding an admin grant, then signed in to the dashboard with the grant's
// scopes (e2e TestUpdateUsersCannotSignInAsAnAdministrator shows the sign-in).
// Every way to take over or remove an administrator's account needs every
// scope of their grant.
func TestLesserCallerCannotTakeOverAnAdministrator(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		f := newAdminFixture(t, s)
		// A second account of the administrator, linked by a full admin, to
		// unlink; and the caller's own account, to link in.
		other := createUser(t, s, map[string]any{"email": "root-alt@example.com", "password": "Root-Alt-Pass-1"})
		s.MustGraphQL(t, s.AdminToken(t), `mutation($p: ID!, $s: ID!) { linkUser(primaryId: $p, secondaryId: $s) { id } }`,
			map[string]any{"p": f.adminID, "s": other.ID}, nil)
		var ids struct {
			User struct {
				Identities []struct {
					UserID     string
					Connection struct{ Name string }
				}
			}
		}
		s.MustGraphQL(t, s.AdminToken(t), `query($id: ID!) { user(id: $id) { identities { userId connection { name } } } }`, map[string]any{"id": f.adminID}, &ids)
		if len(ids.User.Identities) != 2 {
			t.Fatalf("identities: %+v", ids)
		}
		var secondIdentity string
		for _, idn := range ids.User.Identities {
			if "auth0|"+idn.UserID != f.adminUserID {
				secondIdentity = idn.UserID
			}
		}
		mallory := createUser(t, s, map[string]any{"email": "mallory@example.com", "password": "Mallory-Pass-1"})
		// A brute-force block on the administrator's email.
		blockedUntil := time.Now().Add(time.Hour)
		s.Deps.DB.Ent.LoginAttempt.Create().SetConnection(defaultConn).SetIdentifier(f.adminEmail).SetIP("203.0.113.9").
			SetFailures(10).SetLastFailureAt(time.Now()).SetBlockedUntil(blockedUntil).ExecX(systemCtx(t))

		cases := []struct {
			name, scope, query string
			vars               map[string]any
		}{
			{"password", "update:users", `mutation($id: ID!) { updateUser(id: $id, input: {password: "Attacker-Chosen-Pass-9"}) { id } }`, nil},
			{"email", "update:users", `mutation($id: ID!) { updateUser(id: $id, input: {email: "mallory+root@example.com"}) { id } }`, nil},
			{"email verified", "update:users", `mutation($id: ID!) { updateUser(id: $id, input: {emailVerified: false}) { id } }`, nil},
			{"block", "update:users", `mutation($id: ID!) { updateUser(id: $id, input: {blocked: true}) { id } }`, nil},
			{"app metadata", "update:users", `mutation($id: ID!) { updateUser(id: $id, input: {appMetadata: {roles: ["x"]}}) { id } }`, nil},
			{"by user_id", "update:users", `mutation($id: ID!) { updateUser(id: $id, input: {password: "Attacker-Chosen-Pass-9"}) { id } }`,
				map[string]any{"id": f.adminUserID}},
			{"link the caller's account into the administrator", "update:users",
				`mutation($p: ID!, $s: ID!) { linkUser(primaryId: $p, secondaryId: $s) { id } }`, map[string]any{"p": f.adminID, "s": mallory.ID}},
			{"link the administrator into the caller's account", "update:users",
				`mutation($p: ID!, $s: ID!) { linkUser(primaryId: $p, secondaryId: $s) { id } }`, map[string]any{"p": mallory.ID, "s": f.adminID}},
			{"unlink", "update:users", `mutation($id: ID!, $c: String!, $i: String!) { unlinkIdentity(userId: $id, connection: $c, identityUserId: $i) { id } }`,
				map[string]any{"id": f.adminID, "c": defaultConn, "i": secondIdentity}},
			{"unblock", "update:users", `mutation($i: String!) { unblockUserAttempts(identifier: $i) }`, map[string]any{"i": "ROOT@example.com"}},
			{"delete", "delete:users", `mutation($id: ID!) { deleteUser(id: $id) }`, nil},
			{"password change ticket", "create:user_tickets",
				`mutation($id: ID!) { createPasswordChangeTicket(input: {userId: $id}) { ticket } }`, nil},
			{"email verification ticket", "create:user_tickets",
				`mutation($id: ID!) { createEmailVerificationTicket(input: {userId: $id}) { ticket } }`, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				vars := tc.vars
				if vars == nil {
					vars = map[string]any{"id": f.adminID}
				}
				beforeUser, hash, before := getUser(t, s, f.adminID), passwordHash(t, s, f.adminID), sapiCount(t, s)
				// The operation's own scope plus every scope of the grant but one.
				caller := scopedToken(t, s, tc.scope, "read:users", "read:clients")
				expectEscalation(t, s, s.GraphQL(t, caller, tc.query, vars), before)
				f.unchanged(t, s, beforeUser, hash)
				if !userExists(t, s, mallory.ID) {
					t.Fatal("the caller's own account was linked away")
				}
				if n := s.Deps.DB.Ent.LoginAttempt.Query().Where(loginattempt.Identifier(f.adminEmail)).CountX(systemCtx(t)); n != 1 {
					t.Fatal("the administrator's brute-force block was lifted")
				}
			})
		}

		t.Run("a caller holding the grant's scopes may", func(t *testing.T) {
			full := scopedToken(t, s, append([]string{"create:user_tickets"}, f.grant...)...)
			s.MustGraphQL(t, full, `mutation($id: ID!) { createPasswordChangeTicket(input: {userId: $id}) { ticket } }`, map[string]any{"id": f.adminID}, nil)
			s.MustGraphQL(t, full, `mutation($id: ID!) { updateUser(id: $id, input: {password: "Admin-Changed-Pass-2"}) { id } }`, map[string]any{"id": f.adminID}, nil)
			s.MustGraphQL(t, full, `mutation($i: String!) { unblockUserAttempts(identifier: $i) }`, map[string]any{"i": f.adminEmail}, nil)
		})
		t.Run("a plain user needs only the operation's scope", func(t *testing.T) {
			s.MustGraphQL(t, scopedToken(t, s, "update:users"), `mutation($id: ID!) { updateUser(id: $id, input: {password: "Plain-Changed-Pass-2"}) { id } }`,
				map[string]any{"id": f.plainID}, nil)
			s.MustGraphQL(t, scopedToken(t, s, "create:user_tickets"), `mutation($id: ID!) { createPasswordChangeTicket(input: {userId: $id}) { ticket } }`,
				map[string]any{"id": f.plainID}, nil)
			s.MustGraphQL(t, scopedToken(t, s, "delete:users"), `mutation($id: ID!) { deleteUser(id: $id) }`, map[string]any{"id": f.plainID}, nil)
		})
	})
}

// grantAdmin may not replace, nor revokeAdmin remove, a grant holding a
// scope the caller lacks: a lesser administrator cannot demote a more
// powerful one.
func TestLesserAdministratorCannotReplaceOrRevokeAGrant(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		f := newAdminFixture(t, s)
		caller := scopedToken(t, s, "update:admins", "read:users")
		for name, q := range map[string]string{
			"replace": `mutation($id: ID!) { grantAdmin(userId: $id, scopes: ["read:users"]) { id } }`,
			"revoke":  `mutation($id: ID!) { revokeAdmin(userId: $id) }`,
		} {
			t.Run(name, func(t *testing.T) {
				beforeUser, hash, before := getUser(t, s, f.adminID), passwordHash(t, s, f.adminID), sapiCount(t, s)
				expectEscalation(t, s, s.GraphQL(t, caller, q, map[string]any{"id": f.adminID}), before)
				f.unchanged(t, s, beforeUser, hash)
			})
		}
		// Holding the grant's scopes, the caller may narrow and revoke it.
		full := scopedToken(t, s, append([]string{"update:admins"}, f.grant...)...)
		s.MustGraphQL(t, full, `mutation($id: ID!) { grantAdmin(userId: $id, scopes: ["read:users"]) { id } }`, map[string]any{"id": f.adminID}, nil)
		s.MustGraphQL(t, caller, `mutation($id: ID!) { revokeAdmin(userId: $id) }`, map[string]any{"id": f.adminID}, nil)
	})
}

// Machine tokens die with their client: after a secret rotation or the
// client's deletion, a token issued before is refused by /graphql (401) and
// reported inactive by introspection; after its scopes are narrowed, the
// token loses the dropped ones at once.
func TestMachineTokensDieWithTheirClientAndSecret(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		mk := func(name string, scopes ...string) (id, clientID, secret string) {
			var out struct {
				CreateClient struct {
					Client       struct{ ID, ClientID string }
					ClientSecret string
				}
			}
			s.MustGraphQL(t, admin, `mutation($n: String!, $s: [String!]) { createClient(input: {name: $n, type: "m2m", managementScopes: $s}) {
				client { id clientId } clientSecret } }`, map[string]any{"n": name, "s": scopes}, &out)
			return out.CreateClient.Client.ID, out.CreateClient.Client.ClientID, out.CreateClient.ClientSecret
		}
		token := func(clientID, secret string) string {
			t.Helper()
			status, tok := requestToken(t, s, clientID, secret)
			if tok == "" {
				t.Fatalf("token request: %d", status)
			}
			return tok
		}
		works := func(tok string) bool {
			t.Helper()
			r := s.GraphQL(t, tok, `{ users { totalCount } }`, nil)
			switch {
			case r.Status == http.StatusOK && len(r.Errors) == 0:
				return true
			case r.Status == http.StatusUnauthorized && len(r.Errors) == 1 && r.Errors[0].Code() == "UNAUTHENTICATED":
				return false
			}
			t.Fatalf("unexpected answer %d %+v", r.Status, r.Errors)
			return false
		}

		t.Run("rotation", func(t *testing.T) {
			id, clientID, secret := mk("rotated", "read:users")
			old := token(clientID, secret)
			if !works(old) || !introspectActive(t, s, clientID, secret, old) {
				t.Fatal("a fresh token does not work")
			}
			var out struct{ RotateClientSecret struct{ ClientSecret string } }
			s.MustGraphQL(t, admin, `mutation($id: ID!) { rotateClientSecret(id: $id) { clientSecret } }`, map[string]any{"id": id}, &out)
			if works(old) {
				t.Fatal("a token issued before the rotation still works")
			}
			// Asked by the token's own client, which may introspect its tokens.
			newSecret := out.RotateClientSecret.ClientSecret
			if introspectActive(t, s, clientID, newSecret, old) {
				t.Fatal("introspection reports a token issued before the rotation active")
			}
			fresh := token(clientID, newSecret)
			if !works(fresh) || !introspectActive(t, s, clientID, newSecret, fresh) {
				t.Fatal("a token issued with the new secret is refused")
			}
		})
		t.Run("deletion", func(t *testing.T) {
			id, clientID, secret := mk("deleted", "read:users")
			old := token(clientID, secret)
			if !works(old) {
				t.Fatal("a fresh token does not work")
			}
			s.MustGraphQL(t, admin, `mutation($id: ID!) { deleteClient(id: $id) }`, map[string]any{"id": id}, nil)
			if works(old) {
				t.Fatal("a deleted client's token still works")
			}
			if introspectActive(t, s, s.AdminID, s.AdminSecret, old) {
				t.Fatal("introspection reports a deleted client's token active")
			}
		})
		t.Run("narrowed scopes", func(t *testing.T) {
			id, clientID, secret := mk("narrowed", "read:users", "read:clients")
			old := token(clientID, secret)
			s.MustGraphQL(t, admin, `mutation($id: ID!) { updateClient(id: $id, input: {managementScopes: ["read:clients"]}) { id } }`, map[string]any{"id": id}, nil)
			r := s.GraphQL(t, old, `{ users { totalCount } }`, nil)
			expectError(t, r, "FORBIDDEN", "")
			s.MustGraphQL(t, old, `{ clients { totalCount } }`, nil, nil)
		})
	})
}

// introspectActive asks /oauth/introspect, authenticated as the confidential
// client clientID, whether tok is active.
func introspectActive(t *testing.T, s *apitest.Server, clientID, secret, tok string) bool {
	t.Helper()
	resp := s.ClientPost(t, "/oauth/introspect", clientID, secret, url.Values{"token": {tok}})
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection: %d %v %v", resp.StatusCode, body, err)
	}
	active, _ := body["active"].(bool)
	return active
}

// Whoever reconfigures the connection an administrator signs in through
// (points an OIDC connection at another issuer, rewrites a custom
// database's scripts, weakens the password rules) or deletes it, or runs
// its scripts against its user store, controls that administrator: it
// needs every scope of their grant. Connections without administrators,
// and enabling other applications, need only the operation's scope.
func TestLesserCallerCannotReconfigureAnAdministratorsConnection(t *testing.T) {
	legacy := customdbtest.Postgres(t)
	module := base64.StdEncoding.EncodeToString(customdbtest.Templates(t)["postgres"])
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		kim := upstreamUser(t, s, "kim", nil) // in the OIDC connection "partner"
		grant := []string{"read:users", "update:users"}
		s.MustGraphQL(t, admin, `mutation($id: ID!, $s: [String!]!) { grantAdmin(userId: $id, scopes: $s) { id } }`,
			map[string]any{"id": string(kim.ID), "s": grant}, nil)
		var app struct {
			CreateClient struct{ Client struct{ ClientID string } }
		}
		s.MustGraphQL(t, admin, `mutation { createClient(input: {name: "web", type: "regular_web", redirectUris: ["https://app.example.com/cb"]}) { client { clientId } } }`, nil, &app)
		dash, err := clients.Dashboard(systemCtx(t), s.Deps.DB.Ent)
		if err != nil {
			t.Fatal(err)
		}
		partner := func() *ent.Connection {
			return s.Deps.DB.Ent.Connection.Query().Where(connection.Name("partner")).OnlyX(systemCtx(t))
		}
		before := partner()
		if !slices.Contains(before.EnabledClients, dash.ClientID) {
			s.MustGraphQL(t, admin, `mutation($e: [String!]) { updateConnection(id: "partner", input: {enabledClients: $e}) { id } }`,
				map[string]any{"e": append(slices.Clone(before.EnabledClients), dash.ClientID)}, nil)
			before = partner()
		}
		caller := scopedToken(t, s, "update:connections", "delete:connections", "read:users")
		for name, tc := range map[string]struct {
			query string
			vars  map[string]any
		}{
			"repoint the issuer": {`mutation { updateConnection(id: "partner", input: {options: {issuer: "https://evil.example/", client_id: "x"}}) { id } }`, nil},
			"drop the dashboard": {`mutation { updateConnection(id: "partner", input: {enabledClients: []}) { id } }`, nil},
			"delete":             {`mutation { deleteConnection(id: "partner") }`, nil},
		} {
			t.Run(name, func(t *testing.T) {
				n := sapiCount(t, s)
				expectEscalation(t, s, s.GraphQL(t, caller, tc.query, tc.vars), n)
				after := partner()
				if js(after.Options) != js(before.Options) || !slices.Equal(after.EnabledClients, before.EnabledClients) {
					t.Fatalf("refused call changed the connection: %+v", after)
				}
			})
		}
		// Enabling another application: allowed.
		s.MustGraphQL(t, caller, `mutation($e: [String!]) { updateConnection(id: "partner", input: {enabledClients: $e}) { id } }`,
			map[string]any{"e": append(slices.Clone(before.EnabledClients), app.CreateClient.Client.ClientID)}, nil)
		// A connection without administrators: allowed.
		s.MustGraphQL(t, admin, `mutation { createConnection(input: {name: "plain", strategy: "oidc", options: {issuer: "https://idp.example/", client_id: "a"}}) { id } }`, nil, nil)
		s.MustGraphQL(t, caller, `mutation { updateConnection(id: "plain", input: {options: {issuer: "https://idp2.example/", client_id: "a"}}) { id } }`, nil, nil)
		s.MustGraphQL(t, caller, `mutation { deleteConnection(id: "plain") }`, nil, nil)

		t.Run("custom database scripts", func(t *testing.T) {
			var created struct{ CreateConnection struct{ ID string } }
			s.MustGraphQL(t, admin, `mutation($o: Map) { createConnection(input: {name: "legacy", strategy: "customdb", options: $o}) { id } }`,
				map[string]any{"o": map[string]any{"dsn": legacy.DSN, "scripts": map[string]any{"login": module, "get_user": module}}}, &created)
			conn := s.Deps.DB.Ent.Connection.GetX(systemCtx(t), pulid.ID(created.CreateConnection.ID))
			res, err := identity.SyncUpstream(systemCtx(t), s.Deps.DB.Ent, identity.UpstreamLogin{Connection: conn, Sealer: s.Deps.Box,
				Identity: connectors.Identity{Provider: "auth0", UserID: "pg|1", Email: customdbtest.Seed[0].Email}})
			if err != nil {
				t.Fatal(err)
			}
			s.MustGraphQL(t, admin, `mutation($id: ID!, $s: [String!]!) { grantAdmin(userId: $id, scopes: $s) { id } }`,
				map[string]any{"id": string(res.User.ID), "s": grant}, nil)
			n := sapiCount(t, s)
			r := s.GraphQL(t, caller, testScriptQuery, map[string]any{"c": "legacy", "s": "GET_USER", "a": map[string]any{"email": customdbtest.Seed[0].Email}})
			expectEscalation(t, s, r, n)
			// Holding the administrator's scopes: allowed.
			testScript(t, s, scopedToken(t, s, append([]string{"update:connections"}, grant...)...), "legacy", "GET_USER",
				map[string]any{"email": customdbtest.Seed[0].Email})
		})
	})
}
