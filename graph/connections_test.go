package graph_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/internal/apitest"
)

const connFields = `id name strategy options secretsSet enabledClients`

type gqlConn struct {
	ID             string
	Name           string
	Strategy       string
	Options        map[string]any
	SecretsSet     []string
	EnabledClients []string
}

func readConn(t *testing.T, s *apitest.Server, id string) gqlConn {
	t.Helper()
	var out struct{ Connection gqlConn }
	s.MustGraphQL(t, s.AdminToken(t), `query($id: ID!) { connection(id: $id) { `+connFields+` } }`, map[string]any{"id": id}, &out)
	return out.Connection
}

// TestConnectionOptions: options are validated per strategy with errors
// naming the key, and secret options are write-only.
func TestConnectionOptions(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		const secret = "s3cr3t-value-never-returned"
		var created struct{ CreateConnection gqlConn }
		s.MustGraphQL(t, admin, `mutation($in: CreateConnectionInput!) { createConnection(input: $in) { `+connFields+` } }`,
			map[string]any{"in": map[string]any{"name": "acme-oidc", "strategy": "oidc", "options": map[string]any{
				"issuer": "https://idp.example.com/", "client_id": "abc", "client_secret": secret, "scope": "openid email",
			}}}, &created)
		c := created.CreateConnection

		t.Run("secrets are never returned", func(t *testing.T) {
			if _, ok := c.Options["client_secret"]; ok || !slices.Equal(c.SecretsSet, []string{"client_secret"}) {
				t.Fatalf("create answered options %v secretsSet %v", c.Options, c.SecretsSet)
			}
			if c.Options["client_id"] != "abc" || c.Options["scope"] != "openid email" {
				t.Fatalf("public options lost: %v", c.Options)
			}
			for name, q := range map[string]string{
				"connection":  `query($id: ID!) { connection(id: $id) { ` + connFields + ` } }`,
				"connections": `query($id: ID!) { connections { edges { node { ` + connFields + ` } } } x: node(id: $id) { id } }`,
				"node":        `query($id: ID!) { node(id: $id) { ... on Connection { ` + connFields + ` } } }`,
				"logs":        `query($id: ID!) { logs { edges { node { description details } } } x: node(id: $id) { id } }`,
			} {
				r := s.GraphQL(t, admin, q, map[string]any{"id": c.ID})
				if len(r.Errors) > 0 {
					t.Fatalf("%s: %+v", name, r.Errors)
				}
				if strings.Contains(string(r.Data), secret) {
					t.Fatalf("%s leaked the secret: %s", name, r.Data)
				}
			}
		})
		t.Run("other option updates keep the secret", func(t *testing.T) {
			var out struct{ UpdateConnection gqlConn }
			s.MustGraphQL(t, admin, `mutation($id: ID!) { updateConnection(id: $id, input: {options: {scope: "openid"}}) { `+connFields+` } }`,
				map[string]any{"id": c.ID}, &out)
			got := out.UpdateConnection
			if got.Options["scope"] != "openid" || got.Options["client_id"] != "abc" || !slices.Equal(got.SecretsSet, []string{"client_secret"}) {
				t.Fatalf("after update: %+v", got)
			}
			open, err := s.Deps.Connections.Secrets(mustConnEnt(t, s, c.Name))
			if err != nil || open["client_secret"] != secret {
				t.Fatalf("stored secret %v, %v", open, err)
			}
		})
		t.Run("null removes a secret", func(t *testing.T) {
			var out struct{ UpdateConnection gqlConn }
			s.MustGraphQL(t, admin, `mutation($id: ID!) { updateConnection(id: $id, input: {options: {client_secret: null, scope: null}}) { `+connFields+` } }`,
				map[string]any{"id": c.ID}, &out)
			if len(out.UpdateConnection.SecretsSet) != 0 || out.UpdateConnection.Options["scope"] != nil {
				t.Fatalf("after removal: %+v", out.UpdateConnection)
			}
			// and a secret can be set again on a connection that has none.
			s.MustGraphQL(t, admin, `mutation($id: ID!) { updateConnection(id: $id, input: {options: {client_secret: "again"}}) { `+connFields+` } }`,
				map[string]any{"id": c.ID}, &out)
			if !slices.Equal(out.UpdateConnection.SecretsSet, []string{"client_secret"}) {
				t.Fatalf("secret not set again: %+v", out.UpdateConnection)
			}
		})
		t.Run("a connection created without secrets can be updated", func(t *testing.T) {
			s.MustGraphQL(t, admin, `mutation { createConnection(input: {name: "plain-db", strategy: "database"}) { id } }`, nil, &map[string]any{})
			var out struct{ UpdateConnection gqlConn }
			s.MustGraphQL(t, admin, `mutation { updateConnection(id: "plain-db", input: {options: {requires_username: true}}) { `+connFields+` } }`, nil, &out)
			if out.UpdateConnection.Options["requires_username"] != true {
				t.Fatalf("%+v", out.UpdateConnection)
			}
		})

		bad := []struct {
			name, query string
			vars        map[string]any
			code, field string
		}{
			{"unknown key", `mutation { createConnection(input: {name: "bad1", strategy: "oidc", options: {bogus: 1}}) { id } }`, nil, "BAD_USER_INPUT", "bogus"},
			{"database key on oidc", `mutation { createConnection(input: {name: "bad2", strategy: "oidc", options: {requires_username: true}}) { id } }`, nil, "BAD_USER_INPUT", "requires_username"},
			{"wrong type string", `mutation { createConnection(input: {name: "bad3", strategy: "oidc", options: {client_id: 5}}) { id } }`, nil, "BAD_USER_INPUT", "client_id"},
			{"wrong type bool", `mutation { createConnection(input: {name: "bad4", strategy: "database", options: {requires_username: "yes"}}) { id } }`, nil, "BAD_USER_INPUT", "requires_username"},
			{"bad enum", `mutation { createConnection(input: {name: "bad5", strategy: "database", options: {passwordPolicy: "strong"}}) { id } }`, nil, "BAD_USER_INPUT", "passwordPolicy"},
			{"nested wrong type", `mutation { createConnection(input: {name: "bad6", strategy: "database", options: {password_history: {enable: "x"}}}) { id } }`, nil, "BAD_USER_INPUT", "password_history.enable"},
			{"nested unknown key", `mutation { createConnection(input: {name: "bad7", strategy: "database", options: {password_history: {size: 3, nope: 1}}}) { id } }`, nil, "BAD_USER_INPUT", "password_history.nope"},
			{"not a URL", `mutation { createConnection(input: {name: "bad8", strategy: "oidc", options: {issuer: "idp"}}) { id } }`, nil, "BAD_USER_INPUT", "issuer"},
			{"secret of wrong type", `mutation { createConnection(input: {name: "bad9", strategy: "ldap", options: {bind_password: 42}}) { id } }`, nil, "BAD_USER_INPUT", "bind_password"},
			{"unknown strategy", `mutation { createConnection(input: {name: "bad10", strategy: "kerberos"}) { id } }`, nil, "BAD_USER_INPUT", "strategy"},
			{"bad name", `mutation { createConnection(input: {name: "has space", strategy: "database"}) { id } }`, nil, "BAD_USER_INPUT", "name"},
			{"unknown enabled client", `mutation { createConnection(input: {name: "bad11", strategy: "database", enabledClients: ["nope"]}) { id } }`, nil, "BAD_USER_INPUT", "enabledClients"},
			{"duplicate name", `mutation { createConnection(input: {name: "acme-oidc", strategy: "database"}) { id } }`, nil, "CONFLICT", "name"},
			{"update: unknown key", `mutation($id: ID!) { updateConnection(id: $id, input: {options: {scope: "changed", bogus: true}}) { id } }`, map[string]any{"id": c.ID}, "BAD_USER_INPUT", "bogus"},
			{"update: wrong type", `mutation($id: ID!) { updateConnection(id: $id, input: {options: {trust_email_verified: "yes"}}) { id } }`, map[string]any{"id": c.ID}, "BAD_USER_INPUT", "trust_email_verified"},
			{"update: unknown connection", `mutation { updateConnection(id: "nope", input: {options: {scope: "x"}}) { id } }`, nil, "NOT_FOUND", ""},
			{"delete: unknown connection", `mutation { deleteConnection(id: "con_01JZZZZZZZZZZZZZZZZZZZZZZZ") }`, nil, "NOT_FOUND", ""},
			{"read: unknown connection", `{ connection(id: "nope") { id } }`, nil, "NOT_FOUND", ""},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				before := readConn(t, s, c.ID)
				conns, logs := count(t, s, "connections"), sapiCount(t, s)
				expectError(t, s.GraphQL(t, admin, tc.query, tc.vars), tc.code, tc.field)
				if after := readConn(t, s, c.ID); !sameJSON(after, before) {
					t.Errorf("connection changed: %+v → %+v", before, after)
				}
				if n := count(t, s, "connections"); n != conns {
					t.Errorf("connections %d → %d", conns, n)
				}
				if n := sapiCount(t, s); n != logs {
					t.Errorf("failed write logged %d sapi events", n-logs)
				}
			})
		}

		t.Run("a denied delete keeps the identities", func(t *testing.T) {
			s.MustGraphQL(t, admin, `mutation { createConnection(input: {name: "kept", strategy: "database"}) { id } }`, nil, &map[string]any{})
			u := createUser(t, s, map[string]any{"connection": "kept", "email": "kept@example.com"})
			r := s.GraphQL(t, scopedToken(t, s, everyScopeBut("delete:connections")...), `mutation { deleteConnection(id: "kept") }`, nil)
			expectError(t, r, "FORBIDDEN", "")
			var out struct {
				User struct {
					Identities []struct{ Connection struct{ Name string } }
				}
			}
			s.MustGraphQL(t, admin, `query($id: ID!) { user(id: $id) { identities { connection { name } } } }`, map[string]any{"id": u.ID}, &out)
			if len(out.User.Identities) != 1 || out.User.Identities[0].Connection.Name != "kept" {
				t.Fatalf("identities after a denied delete: %+v", out.User.Identities)
			}
		})
		t.Run("delete removes the connection's users", func(t *testing.T) {
			s.MustGraphQL(t, admin, `mutation { createConnection(input: {name: "doomed", strategy: "database"}) { id } }`, nil, &map[string]any{})
			u := createUser(t, s, map[string]any{"connection": "doomed", "email": "doomed@example.com"})
			keep := createUser(t, s, map[string]any{"email": "doomed@example.com"})
			var out struct{ DeleteConnection string }
			s.MustGraphQL(t, admin, `mutation { deleteConnection(id: "doomed") }`, nil, &out)
			if !strings.HasPrefix(out.DeleteConnection, "con_") {
				t.Fatalf("deleteConnection answered %q", out.DeleteConnection)
			}
			if userExists(t, s, u.ID) || !userExists(t, s, keep.ID) {
				t.Fatal("wrong users deleted")
			}
		})
	})
}

// TestClientSecrets: createClient and rotateClientSecret show the secret
// once; no query returns it; rotation retires the old one at once.
func TestClientSecrets(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		var created struct {
			CreateClient struct {
				Client struct {
					ID, ClientID, Type string
					ManagementScopes   []string
				}
				ClientSecret *string
			}
		}
		s.MustGraphQL(t, admin, `mutation { createClient(input: {name: "svc", type: "m2m", managementScopes: ["read:users"]}) {
			client { id clientId type managementScopes } clientSecret } }`, nil, &created)
		cl := created.CreateClient
		if cl.ClientSecret == nil || len(*cl.ClientSecret) < 43 { // 256 bits, base64url
			t.Fatalf("secret %v", cl.ClientSecret)
		}
		secret := *cl.ClientSecret
		if status, tok := requestToken(t, s, cl.Client.ClientID, secret); tok == "" {
			t.Fatalf("new client cannot get a token: %d", status)
		}

		const allClientFields = `id clientId name type redirectUris logoutUrls webOrigins grantTypes managementScopes allManagementScopes system createdAt updatedAt`
		for name, q := range map[string]string{
			"clients": `{ clients(first: 100) { edges { node { ` + allClientFields + ` } } } }`,
			"client":  `query($id: ID!) { client(id: $id) { ` + allClientFields + ` } }`,
			"node":    `query($id: ID!) { node(id: $id) { ... on Client { ` + allClientFields + ` } } }`,
			"logs":    `{ logs { edges { node { description details } } } }`,
		} {
			r := s.GraphQL(t, admin, q, map[string]any{"id": cl.Client.ID})
			if len(r.Errors) > 0 || strings.Contains(string(r.Data), secret) {
				t.Fatalf("%s: errors %+v, leaked %v", name, r.Errors, strings.Contains(string(r.Data), secret))
			}
		}

		t.Run("node and nodes load every client field", func(t *testing.T) {
			var out struct {
				Node  struct{ ClientID, Name, CreatedAt string }
				Nodes []struct{ ClientID, Name, CreatedAt string }
			}
			s.MustGraphQL(t, admin, `query($id: ID!) {
				node(id: $id) { ... on Client { clientId name createdAt } }
				nodes(ids: [$id, $id]) { ... on Client { clientId name createdAt } } }`, map[string]any{"id": cl.Client.ID}, &out)
			for _, n := range append(out.Nodes, out.Node) {
				if n.ClientID != cl.Client.ClientID || n.Name != "svc" || n.CreatedAt == "" {
					t.Fatalf("node answered %+v", n)
				}
			}
		})
		t.Run("public clients get no secret", func(t *testing.T) {
			var out struct {
				CreateClient struct{ ClientSecret *string }
			}
			s.MustGraphQL(t, admin, `mutation { createClient(input: {name: "spa", type: "spa", redirectUris: ["https://app.example.com/cb"]}) { clientSecret } }`, nil, &out)
			if out.CreateClient.ClientSecret != nil {
				t.Fatal("spa got a secret")
			}
		})
		t.Run("rotation", func(t *testing.T) {
			var out struct {
				RotateClientSecret struct{ ClientSecret *string }
			}
			s.MustGraphQL(t, admin, `mutation($id: ID!) { rotateClientSecret(id: $id) { clientSecret } }`, map[string]any{"id": cl.Client.ClientID}, &out)
			if out.RotateClientSecret.ClientSecret == nil || *out.RotateClientSecret.ClientSecret == secret {
				t.Fatal("no new secret")
			}
			if status, tok := requestToken(t, s, cl.Client.ClientID, secret); tok != "" || status != http.StatusUnauthorized && status != http.StatusBadRequest {
				t.Fatalf("old secret still works (%d)", status)
			}
			if status, tok := requestToken(t, s, cl.Client.ClientID, *out.RotateClientSecret.ClientSecret); tok == "" {
				t.Fatalf("new secret refused (%d)", status)
			}
		})

		// A built-in client (the bootstrap does not mark its admin client as
		// one: see the report), made directly.
		if _, err := clients.Create(systemCtx(t), s.Deps.DB.Ent, clients.Params{
			Name: "built-in", Type: clients.TypeM2M, ClientID: "builtin", System: true,
		}); err != nil {
			t.Fatal(err)
		}
		bad := []struct{ name, query, code string }{
			{"unknown type", `mutation { createClient(input: {name: "x", type: "robot"}) { clientSecret } }`, "BAD_USER_INPUT"},
			{"unknown scope", `mutation { createClient(input: {name: "x", type: "m2m", managementScopes: ["root"]}) { clientSecret } }`, "BAD_USER_INPUT"},
			{"bad redirect", `mutation { createClient(input: {name: "x", type: "spa", redirectUris: ["/cb#frag"]}) { clientSecret } }`, "BAD_USER_INPUT"},
			{"empty name update", `mutation($id: ID!) { updateClient(id: $id, input: {name: " "}) { id } }`, "BAD_USER_INPUT"},
			{"update built-in client", `mutation { updateClient(id: "builtin", input: {name: "mine"}) { id } }`, "FORBIDDEN"},
			{"delete built-in client", `mutation { deleteClient(id: "builtin") }`, "FORBIDDEN"},
			{"rotate unknown client", `mutation { rotateClientSecret(id: "nope") { clientSecret } }`, "NOT_FOUND"},
			{"unknown client", `{ client(id: "cli_01JZZZZZZZZZZZZZZZZZZZZZZZ") { id } }`, "NOT_FOUND"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				clientsBefore, logs := count(t, s, "clients"), sapiCount(t, s)
				expectError(t, s.GraphQL(t, admin, tc.query, map[string]any{"id": cl.Client.ID}), tc.code, "")
				if n := count(t, s, "clients"); n != clientsBefore {
					t.Errorf("clients %d → %d", clientsBefore, n)
				}
				if n := sapiCount(t, s); n != logs {
					t.Errorf("failed write logged %d sapi events", n-logs)
				}
			})
		}
	})
}

func mustConnEnt(t *testing.T, s *apitest.Server, name string) *ent.Connection {
	t.Helper()
	c, err := s.Deps.DB.Ent.Connection.Query().Where(connection.Name(name)).Only(systemCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Options a strategy cannot work without are refused when saved, naming the
// option, instead of failing at the first login.
func TestIncompleteConnectionsAreRefused(t *testing.T) {
	s := apitest.Start(t, apitest.Backends()[0].DSN(t))
	admin := s.AdminToken(t)
	for _, tc := range []struct{ strategy, options, field string }{
		{"ldap", `{bind_dn: "cn=admin"}`, "url"},
		{"ldap", `{url: "ldap://directory.example.com"}`, "url"},
		{"ldap", `{url: "https://directory.example.com"}`, "url"},
		{"oidc", `{client_id: "x"}`, "discovery_url"},
		{"oidc", `{issuer: "https://idp.example.com/"}`, "client_id"},
		{"saml", `{fieldsMap: {}}`, "metadataXml"},
		{"customdb", `{dsn: "sqlserver://x"}`, "dsn"},
	} {
		r := s.GraphQL(t, admin, `mutation { createConnection(input: {name: "c`+tc.strategy+`", strategy: "`+tc.strategy+`", options: `+tc.options+`}) { id } }`, nil)
		expectError(t, r, "BAD_USER_INPUT", tc.field)
	}
	// Accepted once complete; an update that breaks it is refused and changes nothing.
	s.MustGraphQL(t, admin, `mutation { createConnection(input: {name: "dir", strategy: "ldap", options: {url: "ldaps://directory.example.com"}}) { id } }`, nil, nil)
	r := s.GraphQL(t, admin, `mutation { updateConnection(id: "dir", input: {options: {url: "ldap://directory.example.com"}}) { id } }`, nil)
	expectError(t, r, "BAD_USER_INPUT", "url")
	var c struct {
		Connection struct{ Options map[string]any }
	}
	s.MustGraphQL(t, admin, `{ connection(id: "dir") { options } }`, nil, &c)
	if c.Connection.Options["url"] != "ldaps://directory.example.com" {
		t.Fatalf("a refused update changed the connection: %v", c.Connection.Options)
	}
}
