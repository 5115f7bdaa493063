package e2e

// Brute-force protection of custom-database logins, through the hosted page
// against a real legacy database and the template's login script: counted
// per (connection, email, IP) like database logins, refused with 429
// too_many_attempts once blocked (even with the right password) before the
// script runs, and lifted by unblockUserAttempts.

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/internal/apitest"
)

func TestCustomDBBruteForce(t *testing.T) {
	module := base64.StdEncoding.EncodeToString(customdbtest.Templates(t)["postgres"])
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		legacy := customdbtest.Postgres(t)
		rpID, rpSecret := registerClient(t, s, "--name", "Shop", "--type", "regular_web", "--redirect-uri", redirectURI)
		scripts := map[string]any{customdb.OpLogin: module, customdb.OpGetUser: module}
		createConnection(t, s, "legacy", "customdb", map[string]any{"dsn": legacy.DSN, "scripts": scripts}, rpID)
		relying := newRP(t, s, rpID, rpSecret, "openid", "email")
		ada := customdbtest.Seed[0]
		b := newBrowser(t)
		verifier := oauth2.GenerateVerifier()
		form := b.federate(b.get(relying.conf.AuthCodeURL("bf", oauth2.S256ChallengeOption(verifier))), "legacy")
		for i := 1; i <= 10; i++ {
			if r := b.submitLogin(form, ada.Email, "not-the-password"); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d %.300s", i, r.status, r.body)
			}
		}
		r := b.submitLogin(form, strings.ToUpper(ada.Email), ada.Password)
		if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "too_many_attempts") {
			t.Fatalf("11th attempt with the right password: %d %.600s", r.status, r.body)
		}
		sys := authz.SystemContext(context.Background())
		if n := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Connection("legacy"), logevent.Type("limit_wc")).CountX(sys); n != 1 {
			t.Fatalf("limit_wc events: %d", n)
		}
		// The script never saw the blocked attempt: 10 fp, no s.
		if n := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Connection("legacy"), logevent.TypeIn("fp", "s")).CountX(sys); n != 10 {
			t.Fatalf("fp/s events: %d, want 10", n)
		}
		var out struct{ UnblockUserAttempts int }
		s.MustGraphQL(t, s.AdminToken(t), `mutation($i: String!) { unblockUserAttempts(identifier: $i) }`, map[string]any{"i": ada.Email}, &out)
		if out.UnblockUserAttempts != 1 {
			t.Fatalf("unblockUserAttempts = %d, want 1", out.UnblockUserAttempts)
		}
		claims := relying.exchange(t, s, b.submitLogin(form, ada.Email, ada.Password), verifier)
		if claims["email"] != ada.Email {
			t.Fatalf("login after unblock: %v", claims)
		}
	})
}
