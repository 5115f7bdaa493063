package e2e

// What a user holds — the SSO session, refresh tokens, the opaque /userinfo
// access token and the self-service management token — ends when their
// password is reset (forgot-password or a password-change ticket), changed
// by an administrator, their email changed, their account blocked or
// deleted, or an identity unlinked from them: each token is tried where it
// is accepted (/oauth/token, /userinfo, /graphql, /oauth/introspect).

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/mail"
)

// held is what a signed-in user holds.
type held struct {
	browser      *browser
	refresh      string
	userinfo     string // opaque access token (no audience)
	management   string // JWT for the management API (me)
	relying      *rp
	clientSecret string
}

const revokePW = "Difference-Engine-1822"

// signInHolding logs email in through the hosted page and collects its tokens, and
// checks each works.
func signInHolding(t *testing.T, s *apitest.Server, email string) *held {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), s.HTTP)
	id, secret := registerClient(t, s, "--name", "Notebook", "--type", "regular_web", "--redirect-uri", redirectURI)
	relying := newRP(t, s, id, secret, oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess)
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	done := b.login(b.get(relying.conf.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier))), email, revokePW)
	if done.location == nil || done.location.Query().Get("code") == "" {
		t.Fatalf("login: %d %.400s", done.status, done.body)
	}
	tok, err := relying.conf.Exchange(ctx, done.location.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v (refresh token %q)", err, tok.RefreshToken)
	}
	// The same session, for the management API.
	mgmt := relying.conf
	mgmt.Scopes = []string{oidc.ScopeOpenID, authz.ScopeReadCurrentUser}
	sso := b.get(mgmt.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("audience", authz.ManagementAudience(s.Issuer))))
	if sso.location == nil || sso.location.Query().Get("code") == "" {
		t.Fatalf("SSO for the management API: %d %.400s", sso.status, sso.body)
	}
	mtok, err := mgmt.Exchange(ctx, sso.location.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange for the management API: %v", err)
	}
	h := &held{browser: b, refresh: tok.RefreshToken, userinfo: tok.AccessToken, management: mtok.AccessToken, relying: relying, clientSecret: secret}
	if dead := h.alive(t, s); len(dead) != 0 {
		t.Fatalf("fresh tokens refused: %v", dead)
	}
	return h
}

// alive tries everything h holds and returns what was refused.
func (h *held) alive(t *testing.T, s *apitest.Server) []string {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), s.HTTP)
	var dead []string
	// A refresh rotates the token: keep the new one (using the old one
	// again would be reuse, which revokes the grant by itself).
	if tok, err := h.relying.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: h.refresh}).Token(); err != nil {
		dead = append(dead, "refresh token")
	} else {
		h.refresh = tok.RefreshToken
	}
	if _, err := h.relying.provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: h.userinfo})); err != nil {
		dead = append(dead, "/userinfo")
	}
	if r := s.GraphQL(t, h.management, `{ me { userId } }`, nil); len(r.Errors) != 0 {
		dead = append(dead, "/graphql me")
	}
	for name, tok := range map[string]string{"introspect userinfo token": h.userinfo, "introspect management token": h.management} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/oauth/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(h.relying.conf.ClientID, h.clientSecret)
		resp, err := s.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Active bool }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if !out.Active {
			dead = append(dead, name)
		}
	}
	// The SSO session: a new authorization shows the login form again.
	if sso := h.browser.get(h.relying.conf.AuthCodeURL("s3", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); sso.location == nil {
		dead = append(dead, "SSO session")
	}
	return dead
}

// wantAllRevoked fails unless every token and the session were refused.
func (h *held) wantAllRevoked(t *testing.T, s *apitest.Server, after string) {
	t.Helper()
	dead := h.alive(t, s)
	if len(dead) != 6 {
		t.Fatalf("after %s only %v were refused; want the refresh token, /userinfo, /graphql me, both introspections and the SSO session", after, dead)
	}
}

func createRevokeUser(t *testing.T, s *apitest.Server, email string) string {
	t.Helper()
	var out struct{ CreateUser struct{ ID string } }
	s.MustGraphQL(t, s.AdminToken(t), `mutation($e: String!, $p: String!) { createUser(input: {connection: "Username-Password-Authentication",
		email: $e, password: $p}) { id } }`, map[string]any{"e": email, "p": revokePW}, &out)
	return out.CreateUser.ID
}

func TestPasswordResetRevokesAccess(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		smtp := testenv.StartSMTP(t)
		sender, err := mail.New(smtp.URL, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		s.Deps.Auth.Mail = sender

		t.Run("forgot-password", func(t *testing.T) {
			createRevokeUser(t, s, "forgot@example.com")
			h := signInHolding(t, s, "forgot@example.com")
			b := newBrowser(t)
			form := b.get(s.URL + "/login/forgot?connection=Username-Password-Authentication")
			if r := b.submitForm(form, url.Values{"email": {"forgot@example.com"}}); r.status != http.StatusOK {
				t.Fatalf("forgot: %d %.300s", r.status, r.body)
			}
			reset := b.get(mailedLink(t, smtp, "forgot@example.com", "reset"))
			if r := b.submitForm(reset, url.Values{"password": {"Brand-New-Pass-2026"}, "password_confirm": {"Brand-New-Pass-2026"}}); r.status != http.StatusOK {
				t.Fatalf("reset: %d %.300s", r.status, r.body)
			}
			h.wantAllRevoked(t, s, "a forgot-password reset")
		})
		t.Run("ticket", func(t *testing.T) {
			id := createRevokeUser(t, s, "ticket@example.com")
			h := signInHolding(t, s, "ticket@example.com")
			var out struct{ CreatePasswordChangeTicket struct{ Ticket string } }
			s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!) { createPasswordChangeTicket(input: {userId: $id}) { ticket } }`,
				map[string]any{"id": id}, &out)
			b := newBrowser(t)
			reset := b.get(out.CreatePasswordChangeTicket.Ticket)
			if r := b.submitForm(reset, url.Values{"password": {"Brand-New-Pass-2026"}, "password_confirm": {"Brand-New-Pass-2026"}}); r.status != http.StatusOK {
				t.Fatalf("reset: %d %.300s", r.status, r.body)
			}
			h.wantAllRevoked(t, s, "a password-change ticket")
		})
		t.Run("unlinkIdentity", func(t *testing.T) {
			// The secondary's database identity is linked into the primary;
			// its owner signs in through it (as the primary), then it is
			// unlinked: what was obtained through it must end.
			primary := createRevokeUser(t, s, "primary@example.com")
			secondary := createRevokeUser(t, s, "secondary@example.com")
			var ids struct {
				User struct{ Identities []struct{ UserID string } }
			}
			s.MustGraphQL(t, s.AdminToken(t), `query($id: ID!) { user(id: $id) { identities { userId } } }`, map[string]any{"id": secondary}, &ids)
			s.MustGraphQL(t, s.AdminToken(t), `mutation($p: ID!, $s: ID!) { linkUser(primaryId: $p, secondaryId: $s) { id } }`,
				map[string]any{"p": primary, "s": secondary}, nil)
			h := signInHolding(t, s, "secondary@example.com")
			s.MustGraphQL(t, s.AdminToken(t), `mutation($u: ID!, $i: String!) { unlinkIdentity(userId: $u, connection: "Username-Password-Authentication", identityUserId: $i) { id } }`,
				map[string]any{"u": primary, "i": ids.User.Identities[0].UserID}, nil)
			h.wantAllRevoked(t, s, "unlinkIdentity")
		})
		for _, c := range []struct{ name, mutation string }{
			{"updateUser password", `mutation($id: ID!) { updateUser(id: $id, input: {password: "Brand-New-Pass-2026"}) { id } }`},
			{"updateUser email", `mutation($id: ID!) { updateUser(id: $id, input: {email: "moved@example.net"}) { id } }`},
			{"updateUser blocked", `mutation($id: ID!) { updateUser(id: $id, input: {blocked: true}) { id } }`},
			{"deleteUser", `mutation($id: ID!) { deleteUser(id: $id) }`},
		} {
			t.Run(c.name, func(t *testing.T) {
				email := strings.ReplaceAll(c.name, " ", "-") + "@example.com"
				id := createRevokeUser(t, s, email)
				h := signInHolding(t, s, email)
				s.MustGraphQL(t, s.AdminToken(t), c.mutation, map[string]any{"id": id}, nil)
				h.wantAllRevoked(t, s, c.name)
			})
		}
	})
}
