package graph_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/internal/apitest"
)

// fixtures are objects the scope matrix operates on, created by the admin.
type fixtures struct {
	user      gqlUser // in the default database connection
	connID    string  // an oidc connection
	connName  string
	clientID  string // node id of an m2m client
	clientCID string // its client_id
	secret    string // its secret
	logID     string
}

func newFixtures(t *testing.T, s *apitest.Server, tag string) fixtures {
	t.Helper()
	admin := s.AdminToken(t)
	created := createUser(t, s, map[string]any{"email": "fx-" + tag + "@example.com", "name": "Fixture"})
	// The baseline is what a read returns: Postgres keeps microseconds, while
	// createUser answers with the nanosecond time it had in memory.
	f := fixtures{user: getUser(t, s, created.ID)}
	var c struct{ CreateConnection struct{ ID, Name string } }
	s.MustGraphQL(t, admin, `mutation($in: CreateConnectionInput!) { createConnection(input: $in) { id name } }`,
		map[string]any{"in": map[string]any{"name": "fx-" + tag, "strategy": "oidc",
			"options": map[string]any{"issuer": "https://idp.example.com/", "client_id": "abc"}}}, &c)
	f.connID, f.connName = c.CreateConnection.ID, c.CreateConnection.Name
	var k struct {
		CreateClient struct {
			Client       struct{ ID, ClientID string }
			ClientSecret string
		}
	}
	s.MustGraphQL(t, admin, `mutation { createClient(input: {name: "fx-`+tag+`", type: "m2m", managementScopes: ["read:logs"]}) { client { id clientId } clientSecret } }`, nil, &k)
	f.clientID, f.clientCID, f.secret = k.CreateClient.Client.ID, k.CreateClient.Client.ClientID, k.CreateClient.ClientSecret
	logs := sapiLogs(t, s)
	if len(logs) == 0 {
		t.Fatal("fixtures wrote no sapi log")
	}
	f.logID = logs[0].ID
	return f
}

// matrixCase is one operation of the scope matrix.
type matrixCase struct {
	name  string
	scope string // the one scope the operation needs
	query string
	vars  func(f fixtures) map[string]any
	// unchanged checks, with the admin token, that a denied call wrote
	// nothing; nil for reads.
	unchanged func(t *testing.T, s *apitest.Server, f fixtures)
	// targetScopes are the scopes of the principal the operation acts on
	// (the fixture client's): the caller must hold them as well, since
	// nobody acts on a principal more powerful than themselves.
	targetScopes []string
}

func matrixCases() []matrixCase {
	userID := func(f fixtures) map[string]any { return map[string]any{"id": f.user.ID} }
	connID := func(f fixtures) map[string]any { return map[string]any{"id": f.connID} }
	clientID := func(f fixtures) map[string]any { return map[string]any{"id": f.clientID} }
	userUnchanged := func(t *testing.T, s *apitest.Server, f fixtures) {
		if got := getUser(t, s, f.user.ID); !sameJSON(got, f.user) {
			t.Fatalf("user changed by a denied call:\n got %s\nwant %s", js(got), js(f.user))
		}
	}
	connUnchanged := func(t *testing.T, s *apitest.Server, f fixtures) {
		var out struct {
			Connection struct {
				Options        map[string]any
				EnabledClients []string
			}
		}
		s.MustGraphQL(t, s.AdminToken(t), `query($id: ID!) { connection(id: $id) { options enabledClients } }`, connID(f), &out)
		if out.Connection.Options["client_id"] != "abc" || len(out.Connection.Options) != 2 || len(out.Connection.EnabledClients) != 0 {
			t.Fatalf("connection changed by a denied call: %+v", out.Connection)
		}
	}
	clientUnchanged := func(t *testing.T, s *apitest.Server, f fixtures) {
		var out struct {
			Client struct{ Name, UpdatedAt string }
		}
		s.MustGraphQL(t, s.AdminToken(t), `query($id: ID!) { client(id: $id) { name updatedAt } }`, clientID(f), &out)
		if !strings.HasPrefix(out.Client.Name, "fx-") {
			t.Fatalf("client changed by a denied call: %+v", out.Client)
		}
	}
	return []matrixCase{
		{name: "users", scope: "read:users", query: `{ users { totalCount edges { node { id email } } } }`},
		{name: "user", scope: "read:users", query: `query($id: ID!) { user(id: $id) { id email } }`, vars: userID},
		{name: "usersByEmail", scope: "read:users", query: `query($e: String!) { usersByEmail(email: $e) { id } }`,
			vars: func(f fixtures) map[string]any { return map[string]any{"e": *f.user.Email} }},
		{name: "node/user", scope: "read:users", query: `query($id: ID!) { node(id: $id) { id ... on User { email } } }`, vars: userID},
		{name: "nodes/user", scope: "read:users", query: `query($id: ID!) { nodes(ids: [$id]) { id } }`, vars: userID},
		{name: "node/connection", scope: "read:connections", query: `query($id: ID!) { node(id: $id) { id } }`, vars: connID},
		{name: "node/client", scope: "read:clients", query: `query($id: ID!) { node(id: $id) { id } }`, vars: clientID},
		{name: "node/log", scope: "read:logs", query: `query($id: ID!) { node(id: $id) { id } }`,
			vars: func(f fixtures) map[string]any { return map[string]any{"id": f.logID} }},
		{name: "createUser", scope: "create:users",
			query: `mutation($e: String!) { createUser(input: {connection: "` + defaultConn + `", email: $e}) { id } }`,
			vars:  func(f fixtures) map[string]any { return map[string]any{"e": "new-" + *f.user.Email} },
			unchanged: func(t *testing.T, s *apitest.Server, f fixtures) {
				if n := count(t, s, `users(query: "email:new-`+*f.user.Email+`")`); n != 0 {
					t.Fatalf("denied createUser created %d users", n)
				}
			}},
		{name: "updateUser", scope: "update:users",
			query:     `mutation($id: ID!) { updateUser(id: $id, input: {name: "Changed", userMetadata: {x: 1}}) { id name } }`,
			vars:      userID,
			unchanged: userUnchanged},
		{name: "deleteUser", scope: "delete:users", query: `mutation($id: ID!) { deleteUser(id: $id) }`, vars: userID,
			unchanged: userUnchanged},
		{name: "connections", scope: "read:connections", query: `{ connections { totalCount edges { node { id name } } } }`},
		{name: "connection", scope: "read:connections", query: `query($id: ID!) { connection(id: $id) { id name } }`, vars: connID},
		{name: "createConnection", scope: "create:connections",
			query: `mutation($n: String!) { createConnection(input: {name: $n, strategy: "database"}) { id } }`,
			vars:  func(f fixtures) map[string]any { return map[string]any{"n": f.connName + "-new"} },
			unchanged: func(t *testing.T, s *apitest.Server, f fixtures) {
				r := s.GraphQL(t, s.AdminToken(t), `query($id: ID!) { connection(id: $id) { id } }`, map[string]any{"id": f.connName + "-new"})
				expectError(t, r, "NOT_FOUND", "")
			}},
		{name: "updateConnection", scope: "update:connections",
			query:     `mutation($id: ID!) { updateConnection(id: $id, input: {options: {scope: "openid email"}}) { id } }`,
			vars:      connID,
			unchanged: connUnchanged},
		{name: "deleteConnection", scope: "delete:connections", query: `mutation($id: ID!) { deleteConnection(id: $id) }`,
			vars: connID, unchanged: connUnchanged},
		{name: "clients", scope: "read:clients", query: `{ clients { totalCount edges { node { id clientId } } } }`},
		{name: "client", scope: "read:clients", query: `query($id: ID!) { client(id: $id) { id clientId } }`, vars: clientID},
		{name: "createClient", scope: "create:clients",
			query: `mutation($n: String!) { createClient(input: {name: $n, type: "m2m"}) { client { id } clientSecret } }`,
			vars:  func(f fixtures) map[string]any { return map[string]any{"n": "new-" + f.clientCID} },
			unchanged: func(t *testing.T, s *apitest.Server, f fixtures) {
				var out struct {
					Clients struct {
						Edges []struct{ Node struct{ Name string } }
					}
				}
				s.MustGraphQL(t, s.AdminToken(t), `{ clients(first: 100) { edges { node { name } } } }`, nil, &out)
				for _, e := range out.Clients.Edges {
					if e.Node.Name == "new-"+f.clientCID {
						t.Fatal("denied createClient created a client")
					}
				}
			}},
		{name: "updateClient", scope: "update:clients",
			query:        `mutation($id: ID!) { updateClient(id: $id, input: {name: "changed"}) { id name } }`,
			vars:         clientID,
			unchanged:    clientUnchanged,
			targetScopes: []string{"read:logs"}},
		{name: "rotateClientSecret", scope: "update:clients", targetScopes: []string{"read:logs"},
			query: `mutation($id: ID!) { rotateClientSecret(id: $id) { client { id } clientSecret } }`,
			vars:  clientID,
			unchanged: func(t *testing.T, s *apitest.Server, f fixtures) {
				clientUnchanged(t, s, f)
				if status, tok := requestToken(t, s, f.clientCID, f.secret); tok == "" {
					t.Fatalf("denied rotation changed the secret: token endpoint answered %d", status)
				}
			}},
		{name: "deleteClient", scope: "delete:clients", query: `mutation($id: ID!) { deleteClient(id: $id) }`,
			vars: clientID, unchanged: clientUnchanged, targetScopes: []string{"read:logs"}},
		{name: "logs", scope: "read:logs", query: `{ logs(first: 5) { totalCount edges { node { id type } } } }`},
	}
}

// TestScopeMatrix: every operation succeeds with exactly its scope and is
// FORBIDDEN, writing nothing, with every other scope.
func TestScopeMatrix(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		for i, tc := range matrixCases() {
			t.Run(tc.name, func(t *testing.T) {
				f := newFixtures(t, s, fmt.Sprintf("m%d", i))
				vars := map[string]any{}
				if tc.vars != nil {
					vars = tc.vars(f)
				}

				t.Run("denied", func(t *testing.T) {
					before := sapiCount(t, s)
					r := s.GraphQL(t, scopedToken(t, s, everyScopeBut(tc.scope)...), tc.query, vars)
					e := expectError(t, r, "FORBIDDEN", "")
					if got, _ := e.Extensions["scope"].(string); got != "" && got != tc.scope {
						t.Errorf("extensions.scope = %q, want %q", got, tc.scope)
					}
					if !dataIsEmpty(r.Data) {
						t.Errorf("denied call returned data %s", r.Data)
					}
					if after := sapiCount(t, s); after != before {
						t.Errorf("denied call wrote %d sapi events", after-before)
					}
					if tc.unchanged != nil {
						tc.unchanged(t, s, f)
					}
				})
				t.Run("allowed", func(t *testing.T) {
					var out map[string]any
					s.MustGraphQL(t, scopedToken(t, s, append([]string{tc.scope}, tc.targetScopes...)...), tc.query, vars, &out)
					if dataIsEmpty(mustJSON(out)) {
						t.Fatalf("no data: %v", out)
					}
				})
			})
		}
	})
}

func mustJSON(v any) []byte { return []byte(js(v)) }

// TestScopeMatrixNoScopes: a valid token with no scope at all can do nothing.
func TestScopeMatrixNoScopes(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		f := newFixtures(t, s, "none")
		tok := scopedToken(t, s)
		for _, tc := range matrixCases() {
			t.Run(tc.name, func(t *testing.T) {
				vars := map[string]any{}
				if tc.vars != nil {
					vars = tc.vars(f)
				}
				expectError(t, s.GraphQL(t, tok, tc.query, vars), "FORBIDDEN", "")
				if tc.unchanged != nil {
					tc.unchanged(t, s, f)
				}
			})
		}
		if got := getUser(t, s, f.user.ID); !sameJSON(got, f.user) {
			t.Fatalf("user changed: %s", js(got))
		}
	})
}

// TestUnauthenticated: no token, a malformed one, a forged one and one for
// another audience are refused with HTTP 401 before anything runs.
func TestUnauthenticated(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		good := validClaims(s)
		with := func(k string, v any) map[string]any {
			c := map[string]any{}
			for kk, vv := range good {
				c[kk] = vv
			}
			c[k] = v
			return c
		}
		admin := s.AdminToken(t)
		// Sanity: a minted token with the right claims is accepted, so the
		// rejections below are due to the one claim changed.
		var ok struct{ Users struct{ TotalCount int } }
		s.MustGraphQL(t, mintToken(t, s, good), `{ users { totalCount } }`, nil, &ok)

		cases := []struct{ name, token string }{
			{"no token", ""},
			{"garbage", "not-a-jwt"},
			{"garbage three parts", "a.b.c"},
			{"wrong audience", mintToken(t, s, with("aud", []string{"https://other.example.com/api/"}))},
			{"issuer as audience", mintToken(t, s, with("aud", s.Issuer))},
			{"wrong issuer", mintToken(t, s, with("iss", "https://evil.example.com/"))},
			{"expired", mintToken(t, s, with("exp", time.Now().Add(-time.Hour).Unix()))},
			{"tampered signature", admin[:len(admin)-4] + "AAAA"},
		}
		before := count(t, s, "users")
		beforeLogs := sapiCount(t, s)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for _, q := range []string{
					`{ users { totalCount } }`,
					`mutation { createUser(input: {connection: "` + defaultConn + `", email: "unauth@example.com"}) { id } }`,
				} {
					r := s.GraphQL(t, tc.token, q, nil)
					if r.Status != http.StatusUnauthorized {
						t.Errorf("status %d, want 401", r.Status)
					}
					expectError(t, r, "UNAUTHENTICATED", "")
					if !dataIsEmpty(r.Data) {
						t.Errorf("data %s", r.Data)
					}
				}
			})
		}
		t.Run("basic auth scheme", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(`{"query":"{ users { totalCount } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.SetBasicAuth(s.AdminID, s.AdminSecret)
			resp, err := s.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
		})
		if after := count(t, s, "users"); after != before {
			t.Fatalf("unauthenticated calls created %d users", after-before)
		}
		if after := sapiCount(t, s); after != beforeLogs {
			t.Fatalf("unauthenticated calls wrote %d sapi events", after-beforeLogs)
		}
	})
}

// TestNestedEdgesAndNodesCannotBypassScopes: reaching a connection through a
// user's identities, or any object through node/nodes, needs that object's
// read scope too.
func TestNestedEdgesAndNodesCannotBypassScopes(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		f := newFixtures(t, s, "nest")
		const nested = `query($id: ID!) { user(id: $id) { id identities { provider connection { name strategy options } } } }`
		vars := map[string]any{"id": f.user.ID}

		t.Run("identities.connection needs read:connections", func(t *testing.T) {
			r := s.GraphQL(t, scopedToken(t, s, "read:users"), nested, vars)
			if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" {
				t.Fatalf("want FORBIDDEN, got %+v (data %s)", r.Errors, r.Data)
			}
			if strings.Contains(string(r.Data), defaultConn) {
				t.Fatalf("connection leaked: %s", r.Data)
			}
		})
		t.Run("with both scopes", func(t *testing.T) {
			var out struct {
				User struct {
					Identities []struct {
						Provider   string
						Connection struct{ Name, Strategy string }
					}
				}
			}
			s.MustGraphQL(t, scopedToken(t, s, "read:users", "read:connections"), nested, vars, &out)
			if len(out.User.Identities) != 1 || out.User.Identities[0].Connection.Name != defaultConn ||
				out.User.Identities[0].Provider != "auth0" {
				t.Fatalf("identities %+v", out.User.Identities)
			}
		})
		t.Run("users list edges need read:connections", func(t *testing.T) {
			r := s.GraphQL(t, scopedToken(t, s, "read:users"), `{ users { edges { node { identities { connection { name } } } } } }`, nil)
			if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" || strings.Contains(string(r.Data), defaultConn) {
				t.Fatalf("want FORBIDDEN without the connection, got %+v %s", r.Errors, r.Data)
			}
		})
		t.Run("a write cannot read through its result", func(t *testing.T) {
			// create:users alone may create, but not read the identities of
			// what it created: the error rolls the whole mutation back.
			before := count(t, s, "users")
			r := s.GraphQL(t, scopedToken(t, s, "create:users"), `mutation { createUser(input: {connection: "`+defaultConn+`", email: "sneaky@example.com"}) { id identities { connection { name } } } }`, nil)
			if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" {
				t.Fatalf("want FORBIDDEN, got %+v %s", r.Errors, r.Data)
			}
			if after := count(t, s, "users"); after != before {
				t.Fatalf("rolled-back mutation left %d users", after-before)
			}
		})
		t.Run("nodes mixes allowed and denied", func(t *testing.T) {
			r := s.GraphQL(t, scopedToken(t, s, "read:users"), `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Connection { name options } } }`,
				map[string]any{"ids": []string{f.user.ID, f.connID}})
			if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" {
				t.Fatalf("want FORBIDDEN, got %+v %s", r.Errors, r.Data)
			}
			if strings.Contains(string(r.Data), f.connName) || strings.Contains(string(r.Data), "idp.example.com") {
				t.Fatalf("connection leaked through nodes: %s", r.Data)
			}
		})
		t.Run("node of a user through logs scope", func(t *testing.T) {
			r := s.GraphQL(t, scopedToken(t, s, "read:logs"), `query($id: ID!) { node(id: $id) { id ... on User { email } } }`, vars)
			expectError(t, r, "FORBIDDEN", "")
			if strings.Contains(string(r.Data), *f.user.Email) {
				t.Fatalf("user leaked: %s", r.Data)
			}
		})
		t.Run("signing keys are unreachable", func(t *testing.T) {
			sk, err := s.Deps.Keys.Signer(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			// The kid is not necessarily the row id; look the row up.
			ids, err := s.Deps.DB.Ent.SigningKey.Query().IDs(systemCtx(t))
			if err != nil || len(ids) == 0 {
				t.Fatalf("signing keys: %v %v", ids, err)
			}
			for _, id := range ids {
				r := s.GraphQL(t, s.AdminToken(t), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": string(id)})
				if len(r.Errors) == 0 || !dataIsEmpty(r.Data) {
					t.Fatalf("signing key %s (kid %s) reachable: %+v %s", id, sk.ID(), r.Errors, r.Data)
				}
				if c := r.Errors[0].Code(); c != "FORBIDDEN" && c != "NOT_FOUND" {
					t.Fatalf("code %s", c)
				}
			}
		})
		t.Run("identities are not nodes", func(t *testing.T) {
			ids, err := s.Deps.DB.Ent.Identity.Query().IDs(systemCtx(t))
			if err != nil || len(ids) == 0 {
				t.Fatalf("identities: %v %v", ids, err)
			}
			r := s.GraphQL(t, s.AdminToken(t), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": string(ids[0])})
			expectError(t, r, "NOT_FOUND", "")
		})
		t.Run("unknown node", func(t *testing.T) {
			r := s.GraphQL(t, s.AdminToken(t), `{ node(id: "usr_01JZZZZZZZZZZZZZZZZZZZZZZZ") { id } }`, nil)
			if len(r.Errors) == 0 || r.Errors[0].Code() != "NOT_FOUND" {
				t.Fatalf("want NOT_FOUND, got %+v %s", r.Errors, r.Data)
			}
		})
	})
}
