package e2e

// A password change through a custom-database connection without import
// mode (the change_password script writes the legacy database, Authgraph
// keeps no hash) ends what the user holds, as on a database connection:
// refresh tokens, the /userinfo access token, the management token and the
// SSO session.

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// holdingThroughLegacy signs email in through the lifecycle's "legacy"
// connection and collects what signInHolding collects, checking it all
// works.
func (l *lifecycle) holdingThroughLegacy(email, password string) *held {
	t := l.t
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), l.s.HTTP)
	secret := l.relying.conf.ClientSecret
	relying := newRP(t, l.s, l.relying.conf.ClientID, secret, oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess)
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	form := b.get(relying.conf.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("connection", "legacy")))
	done := b.submitLogin(form, email, password)
	if done.location == nil || done.location.Query().Get("code") == "" {
		t.Fatalf("login: %d %.400s", done.status, done.body)
	}
	tok, err := relying.conf.Exchange(ctx, done.location.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v (refresh token %q)", err, tok.RefreshToken)
	}
	mgmt := relying.conf
	mgmt.Scopes = []string{oidc.ScopeOpenID, authz.ScopeReadCurrentUser}
	sso := b.get(mgmt.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("audience", authz.ManagementAudience(l.s.Issuer))))
	if sso.location == nil || sso.location.Query().Get("code") == "" {
		t.Fatalf("SSO for the management API: %d %.400s", sso.status, sso.body)
	}
	mtok, err := mgmt.Exchange(ctx, sso.location.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange for the management API: %v", err)
	}
	h := &held{browser: b, refresh: tok.RefreshToken, userinfo: tok.AccessToken, management: mtok.AccessToken, relying: relying, clientSecret: secret}
	if dead := h.alive(t, l.s); len(dead) != 0 {
		t.Fatalf("fresh tokens refused: %v", dead)
	}
	return h
}

func TestCustomDBPasswordChangeRevokesAccess(t *testing.T) {
	for _, c := range []struct {
		name   string
		dsn    func(testing.TB) string
		legacy func(testing.TB) *customdbtest.Legacy
	}{
		{"sqlite/postgres-legacy", testenv.SQLite, customdbtest.Postgres},
		{"postgres/mariadb-legacy", testenv.Postgres, customdbtest.MariaDB},
	} {
		t.Run(c.name, func(t *testing.T) {
			legacy := c.legacy(t)
			module := base64.StdEncoding.EncodeToString(customdbtest.ASTemplates(t)[legacy.Flavor])
			scripts := map[string]string{}
			for _, op := range customdb.Ops {
				scripts[op] = module
			}
			l := newLifecycle(t, c.dsn(t), legacy, map[string]any{}, scripts)

			// newUser creates a user of the connection (the create script
			// writes the legacy row) and returns its node id.
			newUser := func(t *testing.T, email string) string {
				var out struct{ CreateUser struct{ ID string } }
				l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation($e: String!, $p: String!) { createUser(input: {connection: "legacy",
					email: $e, password: $p}) { id } }`, map[string]any{"e": email, "p": revokePW}, &out)
				return out.CreateUser.ID
			}
			// changed checks that the new password went to the legacy
			// database through change_password and that Authgraph kept no
			// hash (the connection is not in import mode).
			changed := func(t *testing.T, email, password string) {
				t.Helper()
				hash, _, ok := l.legacyRow(email)
				if !ok || !bcryptMatches(hash, password) {
					t.Fatalf("the legacy password of %s did not change", email)
				}
				if u := l.localUserByEmail(email); u == nil || hasPassword(u) {
					t.Fatalf("local user %+v", u)
				}
			}

			t.Run("ticket", func(t *testing.T) {
				l.t = t
				const email = "ticket@legacy.example"
				id := newUser(t, email)
				h := l.holdingThroughLegacy(email, revokePW)
				var out struct{ CreatePasswordChangeTicket struct{ Ticket string } }
				l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation($id: ID!) { createPasswordChangeTicket(input: {userId: $id}) { ticket } }`,
					map[string]any{"id": id}, &out)
				done := l.openTicket(out.CreatePasswordChangeTicket.Ticket, url.Values{"password": {"Brand-New-Pass-2026"}, "password_confirm": {"Brand-New-Pass-2026"}})
				if done.status != http.StatusOK {
					t.Fatalf("reset: %d %.300s", done.status, done.body)
				}
				changed(t, email, "Brand-New-Pass-2026")
				h.wantAllRevoked(t, l.s, "a password-change ticket on a custom database")
			})
			t.Run("forgot-password", func(t *testing.T) {
				l.t = t
				const email = "forgot@legacy.example"
				newUser(t, email)
				h := l.holdingThroughLegacy(email, revokePW)
				l.forgot(email)
				done := l.openTicket(mailedLink(t, l.smtp, email, "reset"), url.Values{"password": {"Brand-New-Pass-2026"}, "password_confirm": {"Brand-New-Pass-2026"}})
				if done.status != http.StatusOK {
					t.Fatalf("reset: %d %.300s", done.status, done.body)
				}
				changed(t, email, "Brand-New-Pass-2026")
				h.wantAllRevoked(t, l.s, "a forgot-password reset on a custom database")
			})
			t.Run("updateUser password", func(t *testing.T) {
				l.t = t
				const email = "admin-set@legacy.example"
				id := newUser(t, email)
				h := l.holdingThroughLegacy(email, revokePW)
				l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation($id: ID!) { updateUser(id: $id, input: {password: "Brand-New-Pass-2026"}) { id } }`,
					map[string]any{"id": id}, nil)
				changed(t, email, "Brand-New-Pass-2026")
				h.wantAllRevoked(t, l.s, "updateUser password on a custom database")
			})
		})
	}
}
