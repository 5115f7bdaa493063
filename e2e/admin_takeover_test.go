package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/internal/apitest"
)

// dashboardSignIn signs in to the built-in dashboard client the way the
// dashboard does (authorization code with PKCE, the management API as
// audience, every management scope requested) and returns the management
// token, "" when the login form refused the credentials.
func dashboardSignIn(t *testing.T, s *apitest.Server, email, password string) string {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), s.HTTP)
	dash, err := clients.Dashboard(ctx, s.Deps.DB.Ent)
	if err != nil {
		t.Fatal(err)
	}
	p, err := oidc.NewProvider(ctx, s.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams
	conf := oauth2.Config{ClientID: dash.ClientID, Endpoint: ep, RedirectURL: s.Issuer + clients.DashboardCallbackPath,
		Scopes: append([]string{oidc.ScopeOpenID}, authz.ManagementScopes()...)}
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	done := b.login(b.get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("audience", authz.ManagementAudience(s.Issuer)))), email, password)
	code := done.url.Query().Get("code")
	if !strings.HasSuffix(done.url.Path, "/"+clients.DashboardCallbackPath) || code == "" {
		return "" // the login page again: refused
	}
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok.AccessToken
}

// The finding: a caller holding update:users changed an administrator's
// password, then signed in to the dashboard with it and got the
// administrator's scopes. Now the change is FORBIDDEN, the new password
// signs nobody in and the administrator's own still does.
func TestUpdateUsersCannotSignInAsAnAdministrator(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		var root struct{ CreateUser struct{ ID string } }
		s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
			email: "root@example.com", password: "Root-Original-Pass-1", emailVerified: true}) { id } }`, nil, &root)
		s.MustGraphQL(t, admin, `mutation($id: ID!) { grantAdmin(userId: $id, scopes: ["read:users", "update:users", "delete:users", "read:clients"]) { id } }`,
			map[string]any{"id": root.CreateUser.ID}, nil)

		r := s.GraphQL(t, s.Token(t, "update:users"), `mutation($id: ID!) { updateUser(id: $id, input: {password: "Attacker-Chosen-Pass-9"}) { id } }`,
			map[string]any{"id": root.CreateUser.ID})
		if len(r.Errors) != 1 || r.Errors[0].Code() != "FORBIDDEN" {
			t.Errorf("update:users changed an administrator's password: %+v %s", r.Errors, r.Data)
		}
		if tok := dashboardSignIn(t, s, "root@example.com", "Attacker-Chosen-Pass-9"); tok != "" {
			r := s.GraphQL(t, tok, `{ clients { totalCount } }`, nil)
			t.Fatalf("the caller signed in to the dashboard as the administrator (read:clients works: %v)", len(r.Errors) == 0)
		}
		tok := dashboardSignIn(t, s, "root@example.com", "Root-Original-Pass-1")
		if tok == "" {
			t.Fatal("the administrator cannot sign in")
		}
		if r := s.GraphQL(t, tok, `{ clients { totalCount } }`, nil); len(r.Errors) != 0 {
			t.Fatalf("the administrator's dashboard token: %+v", r.Errors)
		}
	})
}

// A rule's link_to never moves identities into or out of an administrator:
// a user created with the administrator's verified email (create:users is
// enough) would otherwise sign in as them.
func TestRuleLinkToNeverInvolvesAnAdministrator(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := oidc.ClientContext(context.Background(), s.HTTP)
		admin := s.AdminToken(t)
		s.MustGraphQL(t, admin, `mutation { createConnection(input: {name: "Other-DB", strategy: "database", options: {passwordPolicy: "low"}}) { id } }`, nil, nil)
		mk := func(conn string) (id, userID string) {
			var out struct{ CreateUser struct{ ID, UserID string } }
			s.MustGraphQL(t, admin, `mutation($in: CreateUserInput!) { createUser(input: $in) { id userId } }`,
				map[string]any{"in": map[string]any{"connection": conn, "email": "root@example.com", "password": "Linking-Works-42!", "emailVerified": true}}, &out)
			return out.CreateUser.ID, out.CreateUser.UserID
		}
		rootID, rootUserID := mk("Username-Password-Authentication")
		lookalikeID, lookalikeUserID := mk("Other-DB")
		s.MustGraphQL(t, admin, `mutation($id: ID!) { grantAdmin(userId: $id, scopes: ["read:users"]) { id } }`, map[string]any{"id": rootID}, nil)
		s.MustGraphQL(t, admin, `mutation($m: String!, $p: String!) { createRule(input: {name: "link", module: $m, secrets: {primary: $p}}) { id } }`,
			map[string]any{"m": wasm(t, "go-linkto"), "p": rootUserID}, nil)

		id, secret := registerClient(t, s, "--name", "Web", "--type", "regular_web", "--redirect-uri", redirectURI)
		relying := newRP(t, s, id, secret, oidc.ScopeOpenID, "email")
		b := newBrowser(t)
		verifier := oauth2.GenerateVerifier()
		done := b.login(b.get(relying.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("connection", "Other-DB"))), "root@example.com", "Linking-Works-42!")
		if done.location == nil || done.location.Query().Get("code") == "" {
			t.Fatalf("login failed: %d %v %.300s", done.status, done.location, done.body)
		}
		tok, err := relying.conf.Exchange(ctx, done.location.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := relying.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		if idt.Subject != lookalikeUserID {
			t.Fatalf("signed in as %s, want the look-alike's own %s (administrator %s)", idt.Subject, lookalikeUserID, rootUserID)
		}
		if !userExists(t, s, lookalikeID) {
			t.Fatal("the look-alike user was linked into the administrator")
		}
	})
}
