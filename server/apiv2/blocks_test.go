package apiv2_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/logs"
)

// Helpers shared by this file, tickets_test.go and logs_test.go carry a
// "bt" prefix: other files of the package have their own.

const btConn = "Username-Password-Authentication"
const btPassword = "Correct-Horse-Battery-9"

var btSys = authz.SystemContext(context.Background())

// btRaw sends a request with the admin token and returns status and body.
func btRaw(t testing.TB, s *apitest.Server, token, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.URL+"/api/v2"+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token == "" {
		token = s.AdminToken(t)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// btRawError asserts an Auth0 error body with status and errorCode.
func btRawError(t testing.TB, status int, raw []byte, wantStatus int, wantCode string) {
	t.Helper()
	var e struct {
		StatusCode int    `json:"statusCode"`
		ErrorCode  string `json:"errorCode"`
		Message    string `json:"message"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || status != wantStatus || e.StatusCode != wantStatus ||
		(wantCode != "" && e.ErrorCode != wantCode) {
		t.Fatalf("got %d %s, want %d %s", status, raw, wantStatus, wantCode)
	}
}

// btUser creates a database user and returns its user_id.
func btUser(t testing.TB, s *apitest.Server, email string) string {
	t.Helper()
	var out struct{ CreateUser struct{ UserID string } }
	s.MustGraphQL(t, s.AdminToken(t), `mutation($e: String!, $p: String!) { createUser(input: {connection: "`+btConn+`",
		email: $e, password: $p}) { userId } }`, map[string]any{"e": email, "p": btPassword}, &out)
	return out.CreateUser.UserID
}

// btLogin tries a password login from ip through the database
// connection's service, as the login page does.
func btLogin(s *apitest.Server, ip, identifier, password string) error {
	return btLoginIn(s, btConn, ip, identifier, password)
}

func btLoginIn(s *apitest.Server, conn, ip, identifier, password string) error {
	ctx := logs.WithRequest(context.Background(), logs.Request{IP: ip, UserAgent: "bt"})
	_, err := s.Deps.Auth.Login(ctx, dbauth.LoginInput{Connection: conn, Identifier: identifier, Password: password})
	return err
}

// btBlock fails logins of identifier from ip until it is blocked.
func btBlock(t testing.TB, s *apitest.Server, ip, identifier string) {
	t.Helper()
	btBlockIn(t, s, btConn, ip, identifier)
}

func btBlockIn(t testing.TB, s *apitest.Server, conn, ip, identifier string) {
	t.Helper()
	for i := range s.Deps.Auth.MaxAttempts {
		if err := btLoginIn(s, conn, ip, identifier, "wrong-password"); !errors.Is(err, dbauth.ErrInvalidCredentials) {
			t.Fatalf("failed login %d: %v", i+1, err)
		}
	}
	if err := btLoginIn(s, conn, ip, identifier, btPassword); !errors.Is(err, dbauth.ErrTooManyAttempts) {
		t.Fatalf("after %d failures: %v, want a block", s.Deps.Auth.MaxAttempts, err)
	}
}

// btAudits counts the sapi entries of operation.
func btAudits(t testing.TB, s *apitest.Server, operation string) int {
	t.Helper()
	es, err := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type(logs.TypeManagementWrite)).All(btSys)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Details["operation"] == operation {
			n++
		}
	}
	return n
}

func btBlocked(t testing.TB, s *apitest.Server) int {
	t.Helper()
	return s.Deps.DB.Ent.LoginAttempt.Query().CountX(btSys)
}

type btBlockPair struct{ ident, ip string }

func btPairs(bs []*management.UserBlock) []btBlockPair {
	out := make([]btBlockPair, 0, len(bs))
	for _, b := range bs {
		out = append(out, btBlockPair{b.GetIdentifier(), b.GetIP()})
	}
	slices.SortFunc(out, func(a, b btBlockPair) int { return strings.Compare(a.ident+" "+a.ip, b.ident+" "+b.ip) })
	return out
}

// btConnections lists the connections of GET /user-blocks?identifier=.
func btConnections(t testing.TB, s *apitest.Server, identifier string) []string {
	t.Helper()
	status, raw := btRaw(t, s, "", http.MethodGet, "/user-blocks?identifier="+url.QueryEscape(identifier), "")
	var out struct {
		BlockedFor []struct{ Connection string } `json:"blocked_for"`
	}
	if status != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("%d %s", status, raw)
	}
	var conns []string
	for _, b := range out.BlockedFor {
		conns = append(conns, b.Connection)
	}
	slices.Sort(conns)
	return conns
}

func TestUserBlocks(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		s.Deps.Auth.MaxAttempts = 3
		admin := scopedSDK(t, s)
		alice := btUser(t, s, "alice@example.com")
		bob := btUser(t, s, "bob@example.com")
		btBlock(t, s, "203.0.113.1", "alice@example.com")
		btBlock(t, s, "203.0.113.2", "ALICE@example.com")
		btBlock(t, s, "198.51.100.7", "bob@example.com")
		// The same address in another database connection is another
		// account (nobody's, here): counted and blocked all the same.
		s.MustGraphQL(t, s.AdminToken(t), `mutation { createConnection(input: {name: "other-db", strategy: "database"}) { id } }`, nil, nil)
		btBlockIn(t, s, "other-db", "203.0.113.4", "alice@example.com")
		// Two failures from a third address: counted, not blocked.
		for range 2 {
			_ = btLogin(s, "203.0.113.3", "alice@example.com", "wrong-password")
		}
		wantAlice := []btBlockPair{{"alice@example.com", "203.0.113.1"}, {"alice@example.com", "203.0.113.2"}}
		wantIdent := []btBlockPair{{"alice@example.com", "203.0.113.1"}, {"alice@example.com", "203.0.113.2"}, {"alice@example.com", "203.0.113.4"}}

		t.Run("get", func(t *testing.T) {
			bs, err := admin.User.BlocksByIdentifier(ctx, "Alice@Example.com")
			if err != nil || !slices.Equal(btPairs(bs), wantIdent) {
				t.Fatalf("by identifier: %v %v", btPairs(bs), err)
			}
			bs, err = admin.User.Blocks(ctx, alice)
			if err != nil || !slices.Equal(btPairs(bs), wantAlice) {
				t.Fatalf("by user id: %v %v", btPairs(bs), err)
			}
			// Counters exist for identifiers nobody has; none is blocked here.
			bs, err = admin.User.BlocksByIdentifier(ctx, "nobody@example.com")
			if err != nil || len(bs) != 0 {
				t.Fatalf("nobody: %v %v", bs, err)
			}
			status, raw := btRaw(t, s, "", http.MethodGet, "/user-blocks?identifier=bob%40example.com", "")
			if status != http.StatusOK || !strings.Contains(string(raw), `"connection":"`+btConn+`"`) {
				t.Fatalf("raw: %d %s", status, raw)
			}
		})

		t.Run("refused", func(t *testing.T) {
			before, audits := btBlocked(t, s), btAudits(t, s, "unblockUserAttempts")+btAudits(t, s, "unblockUser")
			readOnly := scopedSDK(t, s, "read:users")
			_, err := scopedSDK(t, s, "update:users").User.BlocksByIdentifier(ctx, "alice@example.com")
			expectStatus(t, err, http.StatusForbidden, "get without read:users")
			_, err = scopedSDK(t, s, "update:users").User.Blocks(ctx, alice)
			expectStatus(t, err, http.StatusForbidden, "get by id without read:users")
			expectStatus(t, readOnly.User.UnblockByIdentifier(ctx, "alice@example.com"), http.StatusForbidden, "unblock without update:users")
			expectStatus(t, readOnly.User.Unblock(ctx, alice), http.StatusForbidden, "unblock by id without update:users")
			_, err = admin.User.BlocksByIdentifier(ctx, "")
			expectStatus(t, err, http.StatusBadRequest, "empty identifier")
			expectStatus(t, admin.User.UnblockByIdentifier(ctx, ""), http.StatusBadRequest, "unblock empty identifier")
			status, raw := btRaw(t, s, "", http.MethodDelete, "/user-blocks", "")
			btRawError(t, status, raw, http.StatusBadRequest, "invalid_query_string")
			status, raw = btRaw(t, s, "", http.MethodDelete, "/user-blocks?identifier=alice%40example.com&ip=203.0.113.1", "")
			btRawError(t, status, raw, http.StatusBadRequest, "invalid_query_string")
			status, raw = btRaw(t, s, "", http.MethodDelete, "/user-blocks/"+alice+"?x=1", "")
			btRawError(t, status, raw, http.StatusBadRequest, "invalid_query_string")
			_, err = admin.User.Blocks(ctx, "auth0|nobody")
			expectStatus(t, err, http.StatusNotFound, "blocks of an unknown user")
			expectStatus(t, admin.User.Unblock(ctx, "auth0|nobody"), http.StatusNotFound, "unblock an unknown user")
			if n, a := btBlocked(t, s), btAudits(t, s, "unblockUserAttempts")+btAudits(t, s, "unblockUser"); n != before || a != audits {
				t.Fatalf("refused requests wrote: counters %d→%d, audits %d→%d", before, n, audits, a)
			}
		})

		t.Run("administrator", func(t *testing.T) {
			// Lifting an administrator's block needs the administrator's
			// scopes: update:users alone could hand over their account.
			root := btUser(t, s, "root@example.com")
			s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!) { grantAdmin(userId: $id, scopes: ["read:users", "delete:users"]) { id } }`,
				map[string]any{"id": root}, nil)
			btBlock(t, s, "203.0.113.9", "root@example.com")
			before := btBlocked(t, s)
			weak := scopedSDK(t, s, "update:users")
			expectStatus(t, weak.User.UnblockByIdentifier(ctx, "root@example.com"), http.StatusForbidden, "unblock an admin by identifier")
			expectStatus(t, weak.User.Unblock(ctx, root), http.StatusForbidden, "unblock an admin by id")
			if n := btBlocked(t, s); n != before {
				t.Fatalf("refused unblocks changed counters %d→%d", before, n)
			}
			if err := scopedSDK(t, s, "update:users", "read:users", "delete:users").User.Unblock(ctx, root); err != nil {
				t.Fatal(err)
			}
			if err := btLogin(s, "203.0.113.9", "root@example.com", btPassword); err != nil {
				t.Fatalf("login after unblock: %v", err)
			}
		})

		t.Run("unblock by user id leaves other accounts", func(t *testing.T) {
			if got := btConnections(t, s, "alice@example.com"); !slices.Equal(got, []string{btConn, btConn, "other-db"}) {
				t.Fatalf("connections before: %v", got)
			}
			audits := btAudits(t, s, "unblockUser")
			if err := admin.User.Unblock(ctx, alice); err != nil {
				t.Fatal(err)
			}
			if bs, err := admin.User.Blocks(ctx, alice); err != nil || len(bs) != 0 {
				t.Fatalf("after unblock: %v %v", bs, err)
			}
			if got := btConnections(t, s, "alice@example.com"); !slices.Equal(got, []string{"other-db"}) {
				t.Fatalf("connections after: %v", got)
			}
			// Audited apart from an unblock by identifier.
			if a := btAudits(t, s, "unblockUser"); a != audits+1 {
				t.Fatalf("unblockUser audits %d→%d", audits, a)
			}
		})

		t.Run("unblock by identifier", func(t *testing.T) {
			btBlock(t, s, "203.0.113.1", "alice@example.com")
			audits := btAudits(t, s, "unblockUserAttempts")
			if err := admin.User.UnblockByIdentifier(ctx, "ALICE@example.com"); err != nil {
				t.Fatal(err)
			}
			if bs, err := admin.User.BlocksByIdentifier(ctx, "alice@example.com"); err != nil || len(bs) != 0 {
				t.Fatalf("after unblock: %v %v", btPairs(bs), err)
			}
			for _, ip := range []string{"203.0.113.1", "203.0.113.2"} {
				if err := btLogin(s, ip, "alice@example.com", btPassword); err != nil {
					t.Fatalf("login from %s after unblock: %v", ip, err)
				}
			}
			if a := btAudits(t, s, "unblockUserAttempts"); a != audits+1 {
				t.Fatalf("audits %d→%d", audits, a)
			}
			// Bob's block is another identifier's.
			if bs, _ := admin.User.Blocks(ctx, bob); len(bs) != 1 {
				t.Fatalf("bob's blocks: %v", btPairs(bs))
			}
		})

		t.Run("unblock by user id", func(t *testing.T) {
			if n := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("ublkdu"), logevent.UserID(bob)).CountX(btSys); n != 0 {
				t.Fatalf("%d ublkdu events before", n)
			}
			if err := admin.User.Unblock(ctx, bob); err != nil {
				t.Fatal(err)
			}
			if bs, err := admin.User.BlocksByIdentifier(ctx, "bob@example.com"); err != nil || len(bs) != 0 {
				t.Fatalf("after unblock: %v %v", bs, err)
			}
			if err := btLogin(s, "198.51.100.7", "bob@example.com", btPassword); err != nil {
				t.Fatalf("login after unblock: %v", err)
			}
			if n := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("ublkdu"), logevent.UserID(bob)).CountX(btSys); n != 1 {
				t.Fatalf("%d ublkdu events after", n)
			}
			// Nothing in force: still 204.
			if err := admin.User.Unblock(ctx, bob); err != nil {
				t.Fatal(err)
			}
		})
	})
}
