package graph_test

// Shared helpers of the GraphQL integration suite. Every test talks to a real
// server over HTTP with real tokens (internal/apitest), on SQLite and
// Postgres; direct database access (s.Deps.DB.Ent, as the system) is used
// only to arrange state the API cannot set (logins_count) or to inspect what
// it must never return (password hashes).

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// defaultConn is the database connection every new tenant starts with.
const defaultConn = "Username-Password-Authentication"

// userFields selects every scalar field of User (no edges: those need
// read:connections as well).
const userFields = `id userId email emailVerified username phoneNumber phoneVerified name givenName
	familyName nickname picture blocked userMetadata appMetadata createdAt updatedAt lastLogin lastIp
	loginsCount lastPasswordReset`

// gqlUser is a User as the API returns it.
type gqlUser struct {
	ID                string         `json:"id"`
	UserID            string         `json:"userId"`
	Email             *string        `json:"email"`
	EmailVerified     bool           `json:"emailVerified"`
	Username          *string        `json:"username"`
	PhoneNumber       *string        `json:"phoneNumber"`
	PhoneVerified     bool           `json:"phoneVerified"`
	Name              *string        `json:"name"`
	GivenName         *string        `json:"givenName"`
	FamilyName        *string        `json:"familyName"`
	Nickname          *string        `json:"nickname"`
	Picture           *string        `json:"picture"`
	Blocked           bool           `json:"blocked"`
	UserMetadata      map[string]any `json:"userMetadata"`
	AppMetadata       map[string]any `json:"appMetadata"`
	CreatedAt         string         `json:"createdAt"`
	UpdatedAt         string         `json:"updatedAt"`
	LastLogin         *string        `json:"lastLogin"`
	LastIP            *string        `json:"lastIp"`
	LoginsCount       int            `json:"loginsCount"`
	LastPasswordReset *string        `json:"lastPasswordReset"`
}

func str(s string) *string { return &s }

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// createUser creates a user with the admin token and returns it.
func createUser(t testing.TB, s *apitest.Server, in map[string]any) gqlUser {
	t.Helper()
	if _, ok := in["connection"]; !ok {
		in["connection"] = defaultConn
	}
	var out struct{ CreateUser gqlUser }
	s.MustGraphQL(t, s.AdminToken(t), `mutation($in: CreateUserInput!) { createUser(input: $in) { `+userFields+` } }`,
		map[string]any{"in": in}, &out)
	return out.CreateUser
}

// getUser reads a user with the admin token.
func getUser(t testing.TB, s *apitest.Server, id string) gqlUser {
	t.Helper()
	var out struct{ User gqlUser }
	s.MustGraphQL(t, s.AdminToken(t), `query($id: ID!) { user(id: $id) { `+userFields+` } }`,
		map[string]any{"id": id}, &out)
	return out.User
}

// userExists reports whether the admin can read the user.
func userExists(t testing.TB, s *apitest.Server, id string) bool {
	t.Helper()
	r := s.GraphQL(t, s.AdminToken(t), `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": id})
	if len(r.Errors) == 0 {
		return true
	}
	if r.Errors[0].Code() != "NOT_FOUND" {
		t.Fatalf("reading user %s: %+v", id, r.Errors)
	}
	return false
}

// count returns totalCount of a connection field read with the admin token,
// e.g. count(t, s, `users`) or count(t, s, `users(query: "…")`).
func count(t testing.TB, s *apitest.Server, field string) int {
	t.Helper()
	var out map[string]struct{ TotalCount int }
	s.MustGraphQL(t, s.AdminToken(t), `{ f: `+field+` { totalCount } }`, nil, &out)
	return out["f"].TotalCount
}

// logEvent is a LogEvent as the API returns it.
type logEvent struct {
	ID          string         `json:"id"`
	Date        string         `json:"date"`
	Type        string         `json:"type"`
	Description string         `json:"description"`
	ClientID    string         `json:"clientId"`
	UserID      string         `json:"userId"`
	Details     map[string]any `json:"details"`
}

// sapiLogs returns every sapi event, newest first.
func sapiLogs(t testing.TB, s *apitest.Server) []logEvent {
	t.Helper()
	var out struct {
		Logs struct {
			TotalCount int
			Edges      []struct{ Node logEvent }
		}
	}
	s.MustGraphQL(t, s.AdminToken(t), `{ logs(first: 100, where: {type: "sapi"}) {
		totalCount edges { node { id date type description clientId userId details } } } }`, nil, &out)
	if out.Logs.TotalCount > 100 {
		t.Fatalf("helper reads at most 100 sapi events, there are %d", out.Logs.TotalCount)
	}
	evs := make([]logEvent, 0, len(out.Logs.Edges))
	for _, e := range out.Logs.Edges {
		evs = append(evs, e.Node)
	}
	return evs
}

func sapiCount(t testing.TB, s *apitest.Server) int {
	t.Helper()
	return count(t, s, `logs(where: {type: "sapi"})`)
}

// expectError asserts r failed with exactly one error of code (and, when
// field is not empty, extensions.field == field) and returns it.
func expectError(t testing.TB, r apitest.Response, code, field string) apitest.Error {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("want one %s error, got %d: %+v (data %s)", code, len(r.Errors), r.Errors, r.Data)
	}
	e := r.Errors[0]
	if e.Code() != code {
		t.Fatalf("want code %s, got %q: %+v", code, e.Code(), e)
	}
	if field != "" {
		if got, _ := e.Extensions["field"].(string); got != field {
			t.Fatalf("want extensions.field %q, got %q: %+v", field, got, e)
		}
	}
	return e
}

// dataIsEmpty reports whether data is absent, null, or an object whose
// values are all null (a failed non-null root field).
func dataIsEmpty(raw json.RawMessage) bool {
	if len(raw) == 0 || string(raw) == "null" {
		return true
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	for _, v := range m {
		if v != nil {
			return false
		}
	}
	return true
}

// everyScopeBut returns every management scope except the given ones.
func everyScopeBut(except ...string) []string {
	var out []string
	for _, s := range authz.ManagementScopes() {
		if !slices.Contains(except, s) {
			out = append(out, s)
		}
	}
	return out
}

// jwtClaims decodes a JWT's payload without verifying it.
func jwtClaims(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// clientIDOf returns the client a token was issued to.
func clientIDOf(t testing.TB, tok string) string {
	t.Helper()
	c := jwtClaims(t, tok)
	if id, _ := c["client_id"].(string); id != "" {
		return id
	}
	id, _ := c["azp"].(string)
	return id
}

// mintToken signs claims with the server's active signing key (RS256), for
// tokens the token endpoint would never issue (e.g. another audience).
func mintToken(t testing.TB, s *apitest.Server, claims map[string]any) string {
	t.Helper()
	sk, err := s.Deps.Keys.Signer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := sk.Key().(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("signing key is %T, not RSA", sk.Key())
	}
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]any{"alg": "RS256", "typ": "JWT", "kid": sk.ID()}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// validClaims are the claims of a management token holding every scope.
func validClaims(s *apitest.Server) map[string]any {
	now := time.Now().Unix()
	return map[string]any{
		"iss": s.Issuer, "sub": "minted@clients", "aud": []string{authz.ManagementAudience(s.Issuer)},
		"iat": now, "nbf": now, "exp": now + 600, "jti": "minted",
		"scope": strings.Join(authz.ManagementScopes(), " "), "client_id": "minted", "azp": "minted",
	}
}

// requestToken asks the token endpoint for a client_credentials token and
// returns the HTTP status and the token ("" on failure).
func requestToken(t testing.TB, s *apitest.Server, clientID, secret string) (int, string) {
	t.Helper()
	resp := s.ClientPost(t, "/oauth/token", clientID, secret, url.Values{"grant_type": {"client_credentials"}})
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.AccessToken
}

// sameJSON compares two values through their JSON forms.
func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// batchCreateUsers creates n users in one mutation (one transaction) and
// returns their node ids in creation order. email(i) gives each address.
func batchCreateUsers(t testing.TB, s *apitest.Server, n int, email func(i int) string) []string {
	t.Helper()
	var b strings.Builder
	b.WriteString("mutation {")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, " u%d: createUser(input: {connection: %q, email: %q}) { id }", i, defaultConn, email(i))
	}
	b.WriteString(" }")
	var out map[string]struct{ ID string }
	s.MustGraphQL(t, s.AdminToken(t), b.String(), nil, &out)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = out[fmt.Sprintf("u%d", i)].ID
	}
	return ids
}

// systemCtx is a context acting as the server itself, for direct inspection.
func systemCtx(t testing.TB) context.Context {
	return authz.SystemContext(context.Background())
}

// tokenCache holds tokens per server and scope set.
var tokenCache sync.Map // map[string]string: server URL + " " + scopes → token

// scopedToken returns a management token holding exactly scopes, from a new
// m2m client allowed just those. (apitest.Server.Token names its clients
// after the scopes, which overflows the 128-character name limit for large
// scope sets, and the token endpoint refuses clients with no scope at all:
// an empty-scope token is minted instead.)
func scopedToken(t testing.TB, s *apitest.Server, scopes ...string) string {
	t.Helper()
	key := s.URL + " " + strings.Join(scopes, " ")
	if tok, ok := tokenCache.Load(key); ok {
		return tok.(string)
	}
	var tok string
	if len(scopes) == 0 {
		c := validClaims(s)
		c["scope"] = ""
		tok = mintToken(t, s, c)
	} else {
		created, err := clients.Create(systemCtx(t), s.Deps.DB.Ent, clients.Params{
			Name: fmt.Sprintf("scoped %d", len(scopes)), Type: clients.TypeM2M, Scopes: scopes,
		})
		if err != nil {
			t.Fatalf("creating client: %v", err)
		}
		tok = s.ClientCredentials(t, created.Client.ClientID, created.Secret, url.Values{"scope": {strings.Join(scopes, " ")}})
		if got := jwtClaims(t, tok)["scope"]; got != strings.Join(scopes, " ") {
			t.Fatalf("token scope %q, want %q", got, strings.Join(scopes, " "))
		}
	}
	tokenCache.Store(key, tok)
	return tok
}
