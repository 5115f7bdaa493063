package admins_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newUser(t *testing.T, s *apitest.Server, conn, email string, verified bool) *ent.User {
	t.Helper()
	var out struct{ CreateUser struct{ ID string } }
	s.MustGraphQL(t, s.AdminToken(t), `mutation($c: String!, $e: String!, $v: Boolean) { createUser(input: {connection: $c,
		email: $e, password: "Correct-Horse-Battery-9", emailVerified: $v}) { id } }`, map[string]any{"c": conn, "e": email, "v": verified}, &out)
	return s.Deps.DB.Ent.User.GetX(authz.SystemContext(context.Background()), pulid.ID(out.CreateUser.ID))
}

func TestGrantScopesRevoke(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	db := s.Deps.DB.Ent
	ctx := context.Background()
	sys := authz.SystemContext(ctx)
	u := newUser(t, s, "Username-Password-Authentication", "ada@example.com", true)

	limited := authz.NewContext(ctx, &authz.Viewer{Subject: "x@clients", Scopes: []string{"update:admins", "read:users"}})
	var esc *admins.EscalationError
	if _, err := admins.Grant(limited, db, u.ID, []string{"read:users", "delete:users"}); !errors.As(err, &esc) || esc.Scope != "delete:users" {
		t.Fatalf("escalation: %v", err)
	}
	for _, bad := range [][]string{nil, {"read:nothing"}, {"read:current_user"}} {
		if _, err := admins.Grant(sys, db, u.ID, bad); !errors.Is(err, admins.ErrInvalid) {
			t.Errorf("Grant(%v): %v", bad, err)
		}
	}
	if _, err := admins.Grant(sys, db, "usr_01NOSUCHUSER0000000000000", []string{"read:users"}); !errors.Is(err, admins.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	if _, err := admins.Grant(limited, db, u.ID, []string{"read:users read:users"}); err != nil {
		t.Fatal(err)
	}
	// A second grant replaces the first.
	if _, err := admins.Grant(sys, db, u.ID, []string{"update:users", "read:users"}); err != nil {
		t.Fatal(err)
	}
	got, err := admins.Scopes(ctx, db, u.ID)
	if err != nil || !slices.Equal(got, []string{"read:users", "update:users"}) {
		t.Fatalf("Scopes: %v %v", got, err)
	}
	if n := db.AdminGrant.Query().CountX(sys); n != 1 {
		t.Fatalf("%d grants", n)
	}
	// Grants are SystemOnly for writes, read:admins for reads.
	if _, err := db.AdminGrant.Query().All(limited); err == nil {
		t.Fatal("read grants without read:admins")
	}
	// Revoking needs a caller holding the grant's scopes; anonymous
	// callers are refused.
	var escRevoke *admins.EscalationError
	if err := admins.Revoke(ctx, db, u.ID); !errors.As(err, &escRevoke) {
		t.Fatalf("anonymous revoke: %v", err)
	}
	if err := admins.Revoke(limited, db, u.ID); !errors.As(err, &escRevoke) || escRevoke.Scope != "update:users" {
		t.Fatalf("revoke by a caller lacking update:users: %v", err)
	}
	if err := admins.Revoke(sys, db, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := admins.Revoke(sys, db, u.ID); !errors.Is(err, admins.ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
	if got, _ := admins.Scopes(ctx, db, u.ID); len(got) != 0 {
		t.Fatalf("scopes after revoke: %v", got)
	}
	// Deleting the user deletes their grant.
	if _, err := admins.Grant(sys, db, u.ID, []string{"read:users"}); err != nil {
		t.Fatal(err)
	}
	s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!) { deleteUser(id: $id) }`, map[string]any{"id": string(u.ID)}, nil)
	if n := db.AdminGrant.Query().CountX(sys); n != 0 {
		t.Fatalf("a deleted user's grant survived")
	}
}

func TestFindByEmail(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	db := s.Deps.DB.Ent
	ctx := context.Background()
	newUser(t, s, "Username-Password-Authentication", "ada@example.com", true)
	newUser(t, s, "Username-Password-Authentication", "unverified@example.com", false)
	if u, err := admins.FindByEmail(ctx, db, "ADA@example.com"); err != nil || *u.Email != "ada@example.com" {
		t.Fatalf("FindByEmail: %v %v", u, err)
	}
	for _, e := range []string{"nobody@example.com", "unverified@example.com"} {
		if _, err := admins.FindByEmail(ctx, db, e); !errors.Is(err, admins.ErrAmbiguous) {
			t.Errorf("%s: %v", e, err)
		}
	}
	// Two verified users with one email (two connections): refused.
	s.MustGraphQL(t, s.AdminToken(t), `mutation { createConnection(input: {name: "partners", strategy: "database"}) { id } }`, nil, nil)
	newUser(t, s, "partners", "ada@example.com", true)
	if _, err := admins.FindByEmail(ctx, db, "ada@example.com"); !errors.Is(err, admins.ErrAmbiguous) {
		t.Fatalf("two users: %v", err)
	}
}
