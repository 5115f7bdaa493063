package admins_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/internal/apitest"
)

// A directory login is counted under the name typed ("alice"), which is no
// stored email or username: lifting that block must still need the scopes
// of the administrators who sign in through the directory, or update:users
// alone could keep clearing the lockout while guessing their password.
func TestUnblockingADirectoryLoginNeedsItsAdministratorsScopes(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		db := s.Deps.DB.Ent
		sys := authz.SystemContext(context.Background())
		corp := db.Connection.Create().SetName("corp").SetStrategy(connection.StrategyLdap).
			SetOptions(map[string]any{"url": "ldaps://ldap.example.com"}).SaveX(sys)
		admin := db.User.Create().SetUserID("ldap|uid=alice,ou=people,dc=example,dc=com").
			SetEmail("a.smith@example.com").SaveX(sys)
		db.Identity.Create().SetOwnerID(admin.ID).SetConnectionID(corp.ID).SetProvider("ldap").
			SetUpstreamID("uid=alice,ou=people,dc=example,dc=com").SaveX(sys)
		if _, err := admins.Grant(sys, db, admin.ID, []string{"read:users", "update:users", "delete:users"}); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		db.LoginAttempt.Create().SetConnection("corp").SetIdentifier("alice").SetIP("192.0.2.1").
			SetFailures(10).SetLastFailureAt(now).SetBlockedUntil(now.Add(time.Hour)).SaveX(sys)
		db.LoginAttempt.Create().SetConnection("Username-Password-Authentication").SetIdentifier("bob").SetIP("192.0.2.1").
			SetFailures(10).SetLastFailureAt(now).SetBlockedUntil(now.Add(time.Hour)).SaveX(sys)

		helpdesk := authz.NewContext(context.Background(), &authz.Viewer{Subject: "helpdesk@clients", Scopes: []string{"read:users", "update:users"}})
		var esc *admins.EscalationError
		if err := admins.RequireControlOfIdentifier(helpdesk, db, "alice"); !errors.As(err, &esc) || esc.Scope != "delete:users" {
			t.Fatalf("helpdesk lifting the directory administrator's block: %v", err)
		}
		if err := admins.RequireControlOfIdentifier(helpdesk, db, "ALICE"); !errors.As(err, &esc) {
			t.Fatalf("the block is found whatever the case: %v", err)
		}
		// A database connection's block is judged by its users, none of
		// them an administrator here.
		if err := admins.RequireControlOfIdentifier(helpdesk, db, "bob"); err != nil {
			t.Fatalf("an ordinary user's block: %v", err)
		}
		full := authz.NewContext(context.Background(), &authz.Viewer{Subject: "root@clients", Scopes: []string{"read:users", "update:users", "delete:users"}})
		if err := admins.RequireControlOfIdentifier(full, db, "alice"); err != nil {
			t.Fatalf("a caller holding the grant's scopes: %v", err)
		}
	})
}
