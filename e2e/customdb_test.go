package e2e

// Custom-database connections end to end: lazy migration from a
// real legacy PostgreSQL database through the hosted login page and the
// OIDC flow. The first login runs the template's login script and migrates
// the user; the second succeeds with the legacy table emptied, as the same
// user (auth0|pg|1).

import (
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

func TestCustomDBLazyMigration(t *testing.T) {
	legacy := customdbtest.Postgres(t)
	module := base64.StdEncoding.EncodeToString(customdbtest.Templates(t)["postgres"])
	s := apitest.Start(t, testenv.SQLite(t))
	rpID, rpSecret := registerClient(t, s, "--name", "Shop", "--type", "regular_web", "--redirect-uri", redirectURI)
	// Import mode needs login and get_user only. (A Go module is ~4.6 MB in
	// base64: the seven of them would exceed the 12 MiB /graphql body.)
	scripts := map[string]any{customdb.OpLogin: module, customdb.OpGetUser: module}
	createConnection(t, s, "legacy", "customdb", map[string]any{"dsn": legacy.DSN, "import_mode": true, "scripts": scripts}, rpID)
	relying := newRP(t, s, rpID, rpSecret, oidc.ScopeOpenID, "profile", "email")
	ada := customdbtest.Seed[0]

	login := legacyLogin(t, s, relying, ada.Email)

	login("wrong-1", "not-the-password", http.StatusUnauthorized)
	first := login("first", ada.Password, 0)
	if first["sub"] != "auth0|pg|1" || first["email"] != ada.Email {
		t.Fatalf("first login: %v", first)
	}
	// The legacy database is emptied: the migrated user no longer needs it.
	if _, err := legacy.Admin.Exec("DELETE FROM users"); err != nil {
		t.Fatal(err)
	}
	second := login("second", ada.Password, 0)
	if second["sub"] != first["sub"] {
		t.Fatalf("second login: %v", second)
	}
	// Local password check: a wrong password fails without the legacy table.
	login("wrong-2", "Analytical-Engine-1842", http.StatusUnauthorized)

	// One user, with one identity of the connection, and the log events.
	var got struct {
		Users struct {
			Edges []struct {
				Node struct {
					UserID      string
					LoginsCount int
				}
			}
		}
	}
	s.MustGraphQL(t, s.AdminToken(t), `{ users(first: 10, query: "email:\"ada@legacy.example\"") { edges { node { userId loginsCount } } } }`, nil, &got)
	if len(got.Users.Edges) != 1 || got.Users.Edges[0].Node.UserID != "auth0|pg|1" || got.Users.Edges[0].Node.LoginsCount != 2 {
		t.Fatalf("users: %+v", got)
	}
}

// legacyLogin returns a sign-in of email through the "legacy" connection's
// login form, each in a fresh browser: with wantStatus 0 it completes the
// code flow and returns the ID token's claims, otherwise it checks that the
// form answered wantStatus.
func legacyLogin(t *testing.T, s *apitest.Server, relying *rp, email string) func(state, password string, wantStatus int) map[string]any {
	return func(state, password string, wantStatus int) map[string]any {
		t.Helper()
		b := newBrowser(t)
		verifier := oauth2.GenerateVerifier()
		form := b.federate(b.get(relying.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))), "legacy")
		start := time.Now()
		done := b.submitLogin(form, email, password)
		t.Logf("%s: login form POST took %s", state, time.Since(start))
		if wantStatus != 0 {
			if done.status != wantStatus {
				t.Fatalf("%s: status %d, want %d: %.400s", state, done.status, wantStatus, done.body)
			}
			return nil
		}
		return relying.exchange(t, s, done, verifier)
	}
}
