package e2e

import (
	"context"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/mfa"
)

// TestRefusedLoginEndsTheBrowsersSession: on a shared browser, a new
// sign-in that is refused (here: a blocked user's correct password) leaves
// no session behind, not even the previous user's: the next request asks
// for a login instead of signing the previous user in silently.
func TestRefusedLoginEndsTheBrowsersSession(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyNever, Factors: []mfa.Factor{mfa.FactorTOTP}})
		bobNode, _ := e.createUser("bob@example.com")
		b := newBrowser(t)
		verifier := oauth2.GenerateVerifier()
		e.tokens(b.login(e.authorize(b, verifier), "bob@example.com", e.password), verifier)
		if p := e.authorize(b, verifier); p.location == nil || p.location.Query().Get("code") == "" {
			t.Fatalf("bob's SSO session: %d %s %v", p.status, p.url, p.location)
		}

		// Ada is blocked; she signs in on the same browser.
		if err := s.Deps.DB.Ent.User.UpdateOneID(e.userNode).SetBlocked(true).Exec(authz.SystemContext(context.Background())); err != nil {
			t.Fatal(err)
		}
		refused := b.login(e.authorize(b, verifier, oauth2.SetAuthURLParam("prompt", "login")), e.email, e.password)
		if refused.location == nil || refused.location.Query().Get("error") != "unauthorized" {
			t.Fatalf("a blocked user's sign-in: %d %v %.300s", refused.status, refused.location, refused.body)
		}
		if p := e.authorize(b, verifier); p.location != nil && p.location.Query().Get("code") != "" {
			t.Fatal("after a refused sign-in, the browser still signs bob in silently")
		}
		if _, err := s.Deps.DB.Ent.User.Get(authz.SystemContext(context.Background()), bobNode); err != nil {
			t.Fatal(err)
		}
	})
}
