package graph_test

import (
	"testing"
	"time"

	"github.com/authgraph/authgraph/emailaddr"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/internal/apitest"
)

// TestUnblockOfAnAdministratorSpelledOtherwise: brute-force blocks are kept
// under an address's normal form, so unblockUserAttempts("chef@bücher.example")
// lifts the block of the administrator stored as chef@xn--bcher-kva.example.
// The control check must see that administrator too: update:users alone is
// refused, and the block stays.
func TestUnblockOfAnAdministratorSpelledOtherwise(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		const typed = "chef@bücher.example"
		stored, err := emailaddr.Normalize(typed)
		if err != nil || stored == typed {
			t.Fatalf("normal form of %q: %q, %v", typed, stored, err)
		}
		a := createUser(t, s, map[string]any{"email": typed, "password": "Chef-Original-Pass-1", "emailVerified": true})
		s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!, $s: [String!]!) { grantAdmin(userId: $id, scopes: $s) { id } }`,
			map[string]any{"id": a.ID, "s": []string{"read:users", "update:users", "delete:users"}}, nil)
		s.Deps.DB.Ent.LoginAttempt.Create().SetConnection(defaultConn).SetIdentifier(stored).SetIP("203.0.113.9").
			SetFailures(10).SetLastFailureAt(time.Now()).SetBlockedUntil(time.Now().Add(time.Hour)).ExecX(systemCtx(t))

		before := sapiCount(t, s)
		caller := scopedToken(t, s, "update:users", "read:users")
		expectEscalation(t, s, s.GraphQL(t, caller, `mutation($i: String!) { unblockUserAttempts(identifier: $i) }`,
			map[string]any{"i": typed}), before)
		if n := s.Deps.DB.Ent.LoginAttempt.Query().Where(loginattempt.Identifier(stored)).CountX(systemCtx(t)); n != 1 {
			t.Fatal("the administrator's brute-force block was lifted")
		}

		// A caller holding the grant's scopes lifts it, through the same spelling.
		full := scopedToken(t, s, "read:users", "update:users", "delete:users")
		s.MustGraphQL(t, full, `mutation($i: String!) { unblockUserAttempts(identifier: $i) }`, map[string]any{"i": typed}, nil)
		if n := s.Deps.DB.Ent.LoginAttempt.Query().Where(loginattempt.Identifier(stored)).CountX(systemCtx(t)); n != 0 {
			t.Fatalf("the block stayed after an unblock by a caller holding the grant's scopes (%d rows)", n)
		}
	})
}
