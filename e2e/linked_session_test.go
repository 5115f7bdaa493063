package e2e

// A linked user's SSO session answers only through a connection enabled for
// the requesting application: the connection that counts is the one of the
// identity the user signed in with, not the primary identity's.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/internal/apitest"
)

const (
	linkedPrimaryConn = "Username-Password-Authentication"
	linkedSecondConn  = "staff"
)

// linkedSetup: Wiki is enabled for the default connection only, Payroll and
// Intranet for "staff" only. Ada's primary identity is in the default
// connection; her "staff" identity is linked into it.
type linkedSetup struct {
	wiki, payroll, intranet *rp
	primaryUserID           string
}

func newLinkedSetup(t *testing.T, s *apitest.Server) *linkedSetup {
	t.Helper()
	admin := s.AdminToken(t)
	wikiID, wikiSecret := registerClient(t, s, "--name", "Wiki", "--type", "regular_web", "--redirect-uri", redirectURI)
	payID, paySecret := registerClient(t, s, "--name", "Payroll", "--type", "regular_web", "--redirect-uri", redirectURI)
	intraID, intraSecret := registerClient(t, s, "--name", "Intranet", "--type", "regular_web", "--redirect-uri", redirectURI)
	s.MustGraphQL(t, admin, `mutation($id: ID!, $c: [String!]) { updateConnection(id: $id, input: {enabledClients: $c}) { id } }`,
		map[string]any{"id": connectionID(t, s, linkedPrimaryConn), "c": []string{wikiID}}, nil)
	createConnection(t, s, linkedSecondConn, "database", nil, payID, intraID)

	var primary, secondary struct{ CreateUser struct{ ID, UserID string } }
	s.MustGraphQL(t, admin, `mutation($c: String!) { createUser(input: {connection: $c,
		email: "ada@example.com", password: "Analytical-Engine-1843"}) { id userId } }`, map[string]any{"c": linkedPrimaryConn}, &primary)
	s.MustGraphQL(t, admin, `mutation($c: String!) { createUser(input: {connection: $c,
		email: "ada@staff.example", password: "Difference-Engine-1822"}) { id userId } }`, map[string]any{"c": linkedSecondConn}, &secondary)
	s.MustGraphQL(t, admin, `mutation($p: ID!, $s: ID!) { linkUser(primaryId: $p, secondaryId: $s) { id } }`,
		map[string]any{"p": primary.CreateUser.ID, "s": secondary.CreateUser.ID}, nil)
	return &linkedSetup{
		wiki:          newRP(t, s, wikiID, wikiSecret, oidc.ScopeOpenID),
		payroll:       newRP(t, s, payID, paySecret, oidc.ScopeOpenID),
		intranet:      newRP(t, s, intraID, intraSecret, oidc.ScopeOpenID),
		primaryUserID: primary.CreateUser.UserID,
	}
}

// signIn logs in at relying through its login page (whose only connection
// is conn) and returns the ID token's claims.
func (l *linkedSetup) signIn(t *testing.T, s *apitest.Server, b *browser, relying *rp, conn, email, password string) map[string]any {
	t.Helper()
	v := oauth2.GenerateVerifier()
	p := b.get(relying.conf.AuthCodeURL("st-login", oauth2.S256ChallengeOption(v)))
	wantLoginPage(t, p, conn, "before signing in")
	return relying.exchange(t, s, b.submitLogin(p, email, password), v)
}

// wantLoginPage fails unless p is the login form for conn and no other
// connection, with no code.
func wantLoginPage(t *testing.T, p page, conn, what string) {
	t.Helper()
	if p.location != nil || p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) ||
		!strings.Contains(p.body, `name="connection" value="`+conn+`"`) {
		t.Fatalf("%s: want the login page for %s: %d %v %.600s", what, conn, p.status, p.location, p.body)
	}
	for _, other := range []string{linkedPrimaryConn, linkedSecondConn} {
		if other != conn && strings.Contains(p.body, `value="`+other+`"`) {
			t.Fatalf("%s: the login page offers %s: %.600s", what, other, p.body)
		}
	}
}

// wantLoginRequired fails unless a prompt=none authorization at relying
// comes back with login_required and no code.
func wantLoginRequired(t *testing.T, b *browser, relying *rp, what string) {
	t.Helper()
	p := b.get(relying.conf.AuthCodeURL("st-none", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")))
	if p.location == nil || p.location.Query().Get("error") != "login_required" || p.location.Query().Get("code") != "" ||
		p.location.Query().Get("state") != "st-none" {
		t.Fatalf("%s: prompt=none: %d %v %.300s", what, p.status, p.location, p.body)
	}
}

// silentSSO authorizes at relying (optionally with prompt=none) and wants a
// code for sub at once.
func silentSSO(t *testing.T, s *apitest.Server, b *browser, relying *rp, sub string, promptNone bool, what string) {
	t.Helper()
	v := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v)}
	if promptNone {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "none"))
	}
	p := b.get(relying.conf.AuthCodeURL("st-sso", opts...))
	if p.location == nil || p.location.Query().Get("code") == "" {
		t.Fatalf("%s: no silent code: %d %v %.600s", what, p.status, p.location, p.body)
	}
	if c := relying.exchange(t, s, p, v); c["sub"] != sub {
		t.Fatalf("%s: sub %v, want the primary user %s", what, c["sub"], sub)
	}
}

func TestLinkedUserSessionAnswersOnlyThroughAnEnabledConnection(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		l := newLinkedSetup(t, s)

		t.Run("session through the linked identity's connection", func(t *testing.T) {
			b := newBrowser(t)
			// Ada signs in to Payroll with her staff identity: she is the
			// primary user, through "staff".
			if c := l.signIn(t, s, b, l.payroll, linkedSecondConn, "ada@staff.example", "Difference-Engine-1822"); c["sub"] != l.primaryUserID {
				t.Fatalf("staff login: sub %v, want %s", c["sub"], l.primaryUserID)
			}
			// Wiki (default connection only): the session is the primary
			// user's but came through staff, so it gives no code.
			wantLoginRequired(t, b, l.wiki, "Wiki with a staff session")
			v := oauth2.GenerateVerifier()
			page := b.get(l.wiki.conf.AuthCodeURL("st-wiki", oauth2.S256ChallengeOption(v)))
			wantLoginPage(t, page, linkedPrimaryConn, "Wiki with a staff session")
			// Intranet (staff, never visited): SSO, silently too.
			silentSSO(t, s, b, l.intranet, l.primaryUserID, true, "Intranet with a staff session")
			silentSSO(t, s, b, l.intranet, l.primaryUserID, false, "Intranet with a staff session")
			// Signing in at Wiki's page with the primary identity works.
			if c := l.wiki.exchange(t, s, b.submitLogin(page, "ada@example.com", "Analytical-Engine-1843"), v); c["sub"] != l.primaryUserID {
				t.Fatalf("Wiki login: %v", c)
			}
		})

		t.Run("session through the primary identity's connection", func(t *testing.T) {
			b := newBrowser(t)
			if c := l.signIn(t, s, b, l.wiki, linkedPrimaryConn, "ada@example.com", "Analytical-Engine-1843"); c["sub"] != l.primaryUserID {
				t.Fatalf("default-connection login: sub %v, want %s", c["sub"], l.primaryUserID)
			}
			silentSSO(t, s, b, l.wiki, l.primaryUserID, true, "Wiki with its own session")
			// Payroll and Intranet (staff only): the login page for staff,
			// login_required with prompt=none.
			for name, relying := range map[string]*rp{"Payroll": l.payroll, "Intranet": l.intranet} {
				wantLoginRequired(t, b, relying, name+" with a default-connection session")
				wantLoginPage(t, b.get(relying.conf.AuthCodeURL("st-b", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))),
					linkedSecondConn, name+" with a default-connection session")
			}
		})
	})
}
