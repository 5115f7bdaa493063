package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/rbac"
)

// A rule's link_to links the user who logged in to a primary user when both
// emails are verified and equal; the login then continues as the primary.
func TestRuleLinkToContinuesAsThePrimary(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := oidc.ClientContext(context.Background(), s.HTTP)
		admin := s.AdminToken(t)
		s.MustGraphQL(t, admin, `mutation { createConnection(input: {name: "Other-DB", strategy: "database", options: {passwordPolicy: "low"}}) { id } }`, nil, nil)
		mk := func(conn, email string, verified bool) (id, userID string) {
			var out struct{ CreateUser struct{ ID, UserID string } }
			s.MustGraphQL(t, admin, `mutation($in: CreateUserInput!) { createUser(input: $in) { id userId } }`,
				map[string]any{"in": map[string]any{"connection": conn, "email": email, "password": "Linking-Works-42!", "emailVerified": verified}}, &out)
			return out.CreateUser.ID, out.CreateUser.UserID
		}
		primaryID, primaryUserID := mk("Username-Password-Authentication", "sam@example.com", true)
		secondaryID, _ := mk("Other-DB", "sam@example.com", true)
		_, unverifiedUserID := mk("Other-DB", "una@example.com", false)
		_, unaPrimaryUserID := mk("Username-Password-Authentication", "una@example.com", true)

		var rule struct{ CreateRule struct{ ID string } }
		s.MustGraphQL(t, admin, `mutation($m: String!, $p: String!) { createRule(input: {name: "link", module: $m, secrets: {primary: $p}}) { id } }`,
			map[string]any{"m": wasm(t, "go-linkto"), "p": primaryUserID}, &rule)

		id, secret := registerClient(t, s, "--name", "Web", "--type", "regular_web", "--redirect-uri", redirectURI)
		relying := newRP(t, s, id, secret, oidc.ScopeOpenID, "email")
		login := func(email string) string {
			b := newBrowser(t)
			verifier := oauth2.GenerateVerifier()
			done := b.login(b.get(relying.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier),
				oauth2.SetAuthURLParam("connection", "Other-DB"))), email, "Linking-Works-42!")
			if done.location == nil || done.location.Query().Get("code") == "" {
				t.Fatalf("login of %s failed: %d %v %.300s", email, done.status, done.location, done.body)
			}
			tok, err := relying.conf.Exchange(ctx, done.location.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			idt, err := relying.verifier.Verify(ctx, tok.Extra("id_token").(string))
			if err != nil {
				t.Fatal(err)
			}
			return idt.Subject
		}

		// Verified and equal: linked, and the token is the primary's.
		if sub := login("sam@example.com"); sub != primaryUserID {
			t.Fatalf("sub = %s, want the primary %s", sub, primaryUserID)
		}
		if userExists(t, s, secondaryID) {
			t.Fatal("the secondary user still exists after linking")
		}
		var p struct {
			User struct {
				Identities []struct{ Connection struct{ Name string } }
			}
		}
		s.MustGraphQL(t, admin, `query($id: ID!) { user(id: $id) { identities { connection { name } } } }`, map[string]any{"id": primaryID}, &p)
		if len(p.User.Identities) != 2 {
			t.Fatalf("primary identities: %+v", p)
		}
		// The next login through the linked identity resolves to the primary.
		if sub := login("sam@example.com"); sub != primaryUserID {
			t.Fatalf("second login sub = %s", sub)
		}
		// The same email, but unverified on the side that logs in: never
		// linked, the login stays the user's own.
		s.MustGraphQL(t, admin, `mutation($id: ID!, $p: Map) { updateRule(id: $id, input: {secrets: $p}) { id } }`,
			map[string]any{"id": rule.CreateRule.ID, "p": map[string]any{"primary": unaPrimaryUserID}}, nil)
		if sub := login("una@example.com"); sub != unverifiedUserID {
			t.Fatalf("unverified user signed in as %s", sub)
		}
	})
}

func userExists(t *testing.T, s *apitest.Server, id string) bool {
	t.Helper()
	r := s.GraphQL(t, s.AdminToken(t), `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": id})
	return len(r.Errors) == 0
}

// A rule that changes roles and links: the tokens carry the primary's own
// roles changed by the rule, never the roles of the identity that logged in.
func TestRuleRolesFollowTheLinkedPrimary(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := oidc.ClientContext(context.Background(), s.HTTP)
		sys := authz.SystemContext(ctx)
		db := s.Deps.DB.Ent
		m := rbac.Manager{DB: db, Issuer: s.Issuer}
		admin := s.AdminToken(t)
		s.MustGraphQL(t, admin, `mutation { createConnection(input: {name: "Other-DB", strategy: "database", options: {passwordPolicy: "low"}}) { id } }`, nil, nil)
		mk := func(conn string) (id, userID string) {
			var out struct{ CreateUser struct{ ID, UserID string } }
			s.MustGraphQL(t, admin, `mutation($in: CreateUserInput!) { createUser(input: $in) { id userId } }`,
				map[string]any{"in": map[string]any{"connection": conn, "email": "sam@example.com", "password": "Linking-Works-42!", "emailVerified": true}}, &out)
			return out.CreateUser.ID, out.CreateUser.UserID
		}
		primaryID, primaryUserID := mk("Username-Password-Authentication")
		secondaryID, _ := mk("Other-DB")

		const api = "urn:linked-roles"
		name, dialect, yes := "Linked", "access_token_authz", true
		if _, err := apis.Create(sys, db, s.Issuer, apis.Params{
			Identifier: api, Name: &name, AllowOfflineAccess: &yes, EnforcePolicies: &yes, TokenDialect: &dialect,
			Scopes: []apis.Scope{{"value": "read:x"}, {"value": "write:x"}, {"value": "delete:x"}},
		}); err != nil {
			t.Fatal(err)
		}
		roleOf := func(name, perm string) string {
			r, err := m.CreateRole(sys, rbac.RoleParams{Name: &name})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.AddRolePermissions(sys, string(r.ID), []rbac.Permission{{ResourceServerIdentifier: api, PermissionName: perm}}); err != nil {
				t.Fatal(err)
			}
			return string(r.ID)
		}
		reader, other := roleOf("reader", "read:x"), roleOf("other", "delete:x")
		roleOf("writer", "write:x")
		if err := m.AssignUserRoles(sys, primaryID, []string{reader}); err != nil {
			t.Fatal(err)
		}
		if err := m.AssignUserRoles(sys, secondaryID, []string{other}); err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct {
			name, module string
			secrets      map[string]any
		}{{"link", "go-linkto", map[string]any{"primary": primaryUserID}}, {"add writer", "go-addrole", map[string]any{"add": "writer"}}} {
			s.MustGraphQL(t, admin, `mutation($n: String!, $m: String!, $s: Map) { createRule(input: {name: $n, module: $m, secrets: $s}) { id } }`,
				map[string]any{"n": r.name, "m": wasm(t, r.module), "s": r.secrets}, nil)
		}

		id, secret := registerClient(t, s, "--name", "Web", "--type", "regular_web", "--redirect-uri", redirectURI)
		relying := newRP(t, s, id, secret, oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "read:x", "write:x", "delete:x")
		check := func(what, raw string) {
			t.Helper()
			_, claims := jwtParts(t, ctx, s, raw)
			if claims["sub"] != primaryUserID {
				t.Fatalf("%s: sub %v, want the primary %s", what, claims["sub"], primaryUserID)
			}
			if got := strings.Fields(claims["scope"].(string)); !slices.Equal(sorted(got), []string{"offline_access", "openid", "read:x", "write:x"}) {
				t.Fatalf("%s: scope %v: want the primary's reader and the rule's writer only", what, got)
			}
			if got := strs(claims["permissions"]); !slices.Equal(got, []string{"read:x", "write:x"}) {
				t.Fatalf("%s: permissions %v: want the primary's reader and the rule's writer only", what, got)
			}
		}
		b := newBrowser(t)
		verifier := oauth2.GenerateVerifier()
		done := b.login(b.get(relying.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("connection", "Other-DB"), oauth2.SetAuthURLParam("audience", api))), "sam@example.com", "Linking-Works-42!")
		if done.location == nil || done.location.Query().Get("code") == "" {
			t.Fatalf("login failed: %d %v %.300s", done.status, done.location, done.body)
		}
		tok, err := relying.conf.Exchange(ctx, done.location.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		check("code exchange", tok.AccessToken)
		again, err := relying.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatal(err)
		}
		check("refresh", again.AccessToken)
		if roles, _, err := m.UserRoles(sys, primaryID, rbac.Page{}); err != nil || len(roles) != 1 || roles[0].Name != "reader" {
			t.Fatalf("the primary's stored roles changed: %v %v", roles, err)
		}
	})
}
