package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/rbac"
)

// rbacAPI is a resource server of the RBAC tests.
type rbacAPI struct {
	identifier string
	enforce    bool
	dialect    string
}

var rbacAPIs = []rbacAPI{
	{"https://plain.rbac.example.com/", false, "access_token"},
	{"https://at.rbac.example.com/", true, "access_token"},
	{"https://at-authz.rbac.example.com/", true, "access_token_authz"},
	{"https://rfc.rbac.example.com/", true, "rfc9068_profile"},
	{"https://rfc-authz.rbac.example.com/", true, "rfc9068_profile_authz"},
}

// jwtParts verifies a JWT's signature with the provider's JWKS and returns
// its header and claims.
func jwtParts(t *testing.T, ctx context.Context, s *apitest.Server, raw string) (header, claims map[string]any) {
	t.Helper()
	keys := oidc.NewRemoteKeySet(ctx, s.Issuer+".well-known/jwks.json")
	payload, err := keys.VerifySignature(ctx, raw)
	if err != nil {
		t.Fatalf("access token signature: %v", err)
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	h, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err := json.Unmarshal(h, &header); err != nil {
		t.Fatal(err)
	}
	return header, claims
}

func strs(v any) []string {
	a, ok := v.([]any)
	if !ok {
		return nil
	}
	out := []string{}
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func oauthPost(t *testing.T, s *apitest.Server, path, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp := s.ClientPost(t, path, id, secret, form)
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// RBAC at the token endpoint: a user's access token for an API that
// enforces policies carries only the requested scopes the user holds as
// permissions, re-read at every refresh; the token dialects add azp and
// permissions; machine tokens for registered APIs need a client grant; an
// API's introspection clients may introspect its tokens; a rule's roles
// command changes the roles of one login only.
func TestRBACTokens(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := oidc.ClientContext(context.Background(), s.HTTP)
		sys := authz.SystemContext(ctx)
		db := s.Deps.DB.Ent
		m := rbac.Manager{DB: db, Issuer: s.Issuer}
		admin := s.AdminToken(t)
		var ada struct{ CreateUser struct{ ID, UserID string } }
		s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
			email: "ada@example.com", password: "Analytical-Engine-1843"}) { id userId } }`, nil, &ada)

		webID, webSecret := registerClient(t, s, "--name", "Web", "--type", "regular_web", "--redirect-uri", redirectURI)
		machineID, machineSecret := registerClient(t, s, "--name", "Machine", "--type", "m2m")
		resourceID, resourceSecret := registerClient(t, s, "--name", "Resource", "--type", "m2m")
		otherID, otherSecret := registerClient(t, s, "--name", "Other", "--type", "m2m")

		lifetime, yes := 600, true
		for _, a := range rbacAPIs {
			name := "API " + a.dialect
			_, err := apis.Create(sys, db, s.Issuer, apis.Params{
				Identifier: a.identifier, Name: &name, TokenLifetime: &lifetime,
				Scopes:             []apis.Scope{{"value": "read:x"}, {"value": "write:x"}, {"value": "delete:x"}},
				AllowOfflineAccess: &yes, EnforcePolicies: &a.enforce, TokenDialect: &a.dialect,
				IntrospectionClients: []string{resourceID},
			})
			if err != nil {
				t.Fatalf("API %s: %v", a.identifier, err)
			}
		}
		enforced := rbacAPIs[1:]
		roleOf := func(name string, perm string) string {
			r, err := m.CreateRole(sys, rbac.RoleParams{Name: &name})
			if err != nil {
				t.Fatal(err)
			}
			var perms []rbac.Permission
			for _, a := range enforced {
				perms = append(perms, rbac.Permission{ResourceServerIdentifier: a.identifier, PermissionName: perm})
			}
			if err := m.AddRolePermissions(sys, string(r.ID), perms); err != nil {
				t.Fatal(err)
			}
			return string(r.ID)
		}
		reader := roleOf("reader", "read:x")
		roleOf("writer", "write:x")
		if err := m.AssignUserRoles(sys, ada.CreateUser.ID, []string{reader}); err != nil {
			t.Fatal(err)
		}
		var direct []rbac.Permission
		for _, a := range enforced {
			direct = append(direct, rbac.Permission{ResourceServerIdentifier: a.identifier, PermissionName: "delete:x"})
		}
		if err := m.AddUserPermissions(sys, ada.CreateUser.ID, direct); err != nil {
			t.Fatal(err)
		}

		// One browser: the first login fills the form, the others ride the
		// SSO session.
		relying := newRP(t, s, webID, webSecret, oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "read:x", "write:x")
		b := newBrowser(t)
		signedIn := false
		login := func(audience string) *oauth2.Token {
			t.Helper()
			verifier := oauth2.GenerateVerifier()
			p := b.get(relying.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("audience", audience)))
			if !signedIn {
				p = b.login(p, "ada@example.com", "Analytical-Engine-1843")
				signedIn = true
			}
			if p.location == nil || p.location.Query().Get("code") == "" {
				t.Fatalf("no code for %s: %d %v %.300s", audience, p.status, p.location, p.body)
			}
			tok, err := relying.conf.Exchange(ctx, p.location.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange for %s: %v", audience, err)
			}
			return tok
		}
		check := func(a rbacAPI, raw string, wantScope, wantPerms []string) map[string]any {
			t.Helper()
			header, claims := jwtParts(t, ctx, s, raw)
			if header["typ"] != "at+jwt" || claims["client_id"] != webID || claims["sub"] != ada.CreateUser.UserID ||
				!slices.Contains(strs(claims["aud"]), a.identifier) {
				t.Fatalf("%s: header %v claims %v", a.dialect, header, claims)
			}
			if got := strings.Fields(claims["scope"].(string)); !slices.Equal(sorted(got), sorted(wantScope)) {
				t.Fatalf("%s (enforce %v): scope %v, want %v", a.dialect, a.enforce, got, wantScope)
			}
			wantAZP := a.dialect == "access_token" || a.dialect == "access_token_authz"
			if _, has := claims["azp"]; has != wantAZP || (wantAZP && claims["azp"] != webID) {
				t.Fatalf("%s: azp %v", a.dialect, claims["azp"])
			}
			perms, has := claims["permissions"]
			if wantPerms == nil {
				if has {
					t.Fatalf("%s: permissions %v in a dialect without them", a.dialect, perms)
				}
			} else if !slices.Equal(strs(perms), sorted(wantPerms)) {
				t.Fatalf("%s: permissions %v, want %v", a.dialect, perms, wantPerms)
			}
			return claims
		}

		// Code flow per dialect, with and without enforce_policies.
		tokens := map[string]*oauth2.Token{}
		for _, a := range rbacAPIs {
			tok := login(a.identifier)
			tokens[a.identifier] = tok
			scope := []string{"openid", "offline_access", "read:x", "write:x"} // every requested scope
			var perms []string
			if a.enforce {
				scope = []string{"openid", "offline_access", "read:x"} // write:x is no permission
				if strings.HasSuffix(a.dialect, "_authz") {
					perms = []string{"delete:x", "read:x"} // all of them, requested or not
				}
			}
			check(a, tok.AccessToken, scope, perms)
			if got := strings.Fields(tok.Extra("scope").(string)); !slices.Equal(sorted(got), sorted(scope)) {
				t.Fatalf("%s: response scope %v", a.dialect, got)
			}
		}

		// Refresh re-reads the permissions: a role removed is gone from the
		// next token, and the refresh itself succeeds.
		if err := m.RemoveUserRoles(sys, ada.CreateUser.ID, []string{reader}); err != nil {
			t.Fatal(err)
		}
		authzAPI := rbacAPIs[2]
		refreshed, err := relying.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tokens[authzAPI.identifier].RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh after a role removal: %v", err)
		}
		check(authzAPI, refreshed.AccessToken, []string{"openid", "offline_access"}, []string{"delete:x"})
		// Without enforce_policies nothing changes.
		plain, err := relying.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tokens[rbacAPIs[0].identifier].RefreshToken}).Token()
		if err != nil {
			t.Fatal(err)
		}
		check(rbacAPIs[0], plain.AccessToken, []string{"openid", "offline_access", "read:x", "write:x"}, nil)

		// Introspection: the token's client, an introspection client of the
		// API, nobody else.
		introspect := func(id, secret, token string) map[string]any {
			t.Helper()
			status, body := oauthPost(t, s, "/oauth/introspect", id, secret, url.Values{"token": {token}})
			if status != http.StatusOK {
				t.Fatalf("introspection: %d %v", status, body)
			}
			return body
		}
		at := refreshed.AccessToken
		if r := introspect(webID, webSecret, at); r["active"] != true || r["client_id"] != webID {
			t.Fatalf("the token's client: %v", r)
		}
		if r := introspect(resourceID, resourceSecret, at); r["active"] != true || r["sub"] != ada.CreateUser.UserID {
			t.Fatalf("the API's introspection client: %v", r)
		}
		if r := introspect(otherID, otherSecret, at); r["active"] != false || len(r) != 1 {
			t.Fatalf("another client: %v", r)
		}

		// client_credentials for a registered API needs a client grant.
		cc := func(form url.Values) (int, map[string]any) {
			t.Helper()
			form.Set("grant_type", "client_credentials")
			return oauthPost(t, s, "/oauth/token", machineID, machineSecret, form)
		}
		rfcAuthz := rbacAPIs[4]
		if status, body := cc(url.Values{"audience": {rfcAuthz.identifier}}); status != http.StatusForbidden || body["error"] != "access_denied" ||
			!strings.Contains(body["error_description"].(string), "client-grant") {
			t.Fatalf("without a grant: %d %v", status, body)
		}
		if status, body := cc(url.Values{"audience": {"https://unknown.example.com/"}}); status != http.StatusBadRequest || body["error"] != "invalid_target" {
			t.Fatalf("unknown audience: %d %v", status, body)
		}
		if _, err := m.CreateClientGrant(sys, machineID, rfcAuthz.identifier, []string{"read:x", "write:x"}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.CreateClientGrant(sys, machineID, rbacAPIs[3].identifier, []string{"read:x"}); err != nil {
			t.Fatal(err)
		}
		machine := func(form url.Values, scope, perms []string, a rbacAPI) string {
			t.Helper()
			status, body := cc(form)
			if status != http.StatusOK {
				t.Fatalf("client_credentials %v: %d %v", form, status, body)
			}
			raw := body["access_token"].(string)
			_, claims := jwtParts(t, ctx, s, raw)
			exp, _ := claims["exp"].(float64)
			iat, _ := claims["iat"].(float64)
			if !slices.Equal(strs(claims["aud"]), []string{a.identifier}) || claims["client_id"] != machineID ||
				claims["gty"] != "client-credentials" || int(exp-iat) != lifetime || body["expires_in"].(float64) > float64(lifetime) {
				t.Fatalf("machine token claims %v", claims)
			}
			if got := strings.Fields(claims["scope"].(string)); !slices.Equal(sorted(got), sorted(scope)) {
				t.Fatalf("machine token scope %v, want %v", got, scope)
			}
			if p, has := claims["permissions"]; (perms == nil) == has || (perms != nil && !slices.Equal(strs(p), sorted(perms))) {
				t.Fatalf("machine token permissions %v, want %v", p, perms)
			}
			return raw
		}
		all := machine(url.Values{"audience": {rfcAuthz.identifier}}, []string{"read:x", "write:x"}, []string{"read:x", "write:x"}, rfcAuthz)
		machine(url.Values{"audience": {rfcAuthz.identifier}, "scope": {"write:x"}}, []string{"write:x"}, []string{"write:x"}, rfcAuthz)
		machine(url.Values{"audience": {rbacAPIs[3].identifier}}, []string{"read:x"}, nil, rbacAPIs[3])
		if status, body := cc(url.Values{"audience": {rfcAuthz.identifier}, "scope": {"read:x delete:x"}}); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
			t.Fatalf("a scope outside the grant: %d %v", status, body)
		}
		if status, body := cc(url.Values{"audience": {rfcAuthz.identifier, s.Issuer + "api/v2/"}}); status != http.StatusBadRequest || body["error"] != "invalid_target" {
			t.Fatalf("two audiences: %d %v", status, body)
		}
		// Machine tokens of a custom API are introspected by the API's
		// introspection clients until their client is deleted.
		if r := introspect(resourceID, resourceSecret, all); r["active"] != true || r["client_id"] != machineID {
			t.Fatalf("machine token by the introspection client: %v", r)
		}
		if r := introspect(otherID, otherSecret, all); r["active"] != false {
			t.Fatalf("machine token by another client: %v", r)
		}
		node := db.Application.Query().Where(application.ClientID(machineID)).OnlyIDX(sys)
		s.MustGraphQL(t, admin, `mutation($id: ID!) { deleteClient(id: $id) }`, map[string]any{"id": string(node)}, nil)
		if r := introspect(resourceID, resourceSecret, all); r["active"] != false {
			t.Fatalf("machine token of a deleted client: %v", r)
		}

		// A rule's roles command: the role counts for this login only.
		for _, r := range []struct {
			name    string
			secrets map[string]any
		}{{"add writer", map[string]any{"add": "writer"}}, {"record", map[string]any{"record": "1"}}} {
			s.MustGraphQL(t, admin, `mutation($n: String!, $m: String!, $s: Map) { createRule(input: {name: $n, module: $m, secrets: $s}) { id } }`,
				map[string]any{"n": r.name, "m": wasm(t, "go-addrole"), "s": r.secrets}, nil)
		}
		tok := login(rfcAuthz.identifier)
		claims := check(rfcAuthz, tok.AccessToken, []string{"openid", "offline_access", "write:x"}, []string{"delete:x", "write:x"})
		if got := strs(claims["https://example.com/roles"]); !slices.Equal(got, []string{"writer"}) {
			t.Fatalf("the later rule saw roles %v", got)
		}
		roles, _, err := m.UserRoles(sys, ada.CreateUser.ID, rbac.Page{})
		if err != nil || len(roles) != 0 {
			t.Fatalf("the rule's role was stored: %v %v", roles, err)
		}
		// The refresh runs the rules again: the role holds there too.
		again, err := relying.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatal(err)
		}
		check(rfcAuthz, again.AccessToken, []string{"openid", "offline_access", "write:x"}, []string{"delete:x", "write:x"})

		// testRule on a real user shows the user's stored roles.
		if err := m.AssignUserRoles(sys, ada.CreateUser.ID, []string{reader}); err != nil {
			t.Fatal(err)
		}
		var tested struct {
			TestRule struct{ AccessTokenClaims map[string]any }
		}
		s.MustGraphQL(t, admin, `mutation($u: ID) { testRule(id: "record", userId: $u) { accessTokenClaims } }`,
			map[string]any{"u": ada.CreateUser.UserID}, &tested)
		if got := strs(tested.TestRule.AccessTokenClaims["https://example.com/roles"]); !slices.Equal(got, []string{"reader"}) {
			t.Fatalf("testRule saw roles %v", got)
		}
	})
}

func sorted(a []string) []string {
	out := slices.Clone(a)
	slices.Sort(out)
	return out
}

// A machine token carries only scopes the API declares when it is issued,
// whatever a stored grant says: a grant written before a scope left the API
// does not issue it.
func TestMachineTokenScopesAreTheAPIs(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		sys := authz.SystemContext(context.Background())
		db := s.Deps.DB.Ent
		m := rbac.Manager{DB: db, Issuer: s.Issuer}
		const api = "urn:stale-grant"
		name := "Stale"
		if _, err := apis.Create(sys, db, s.Issuer, apis.Params{Identifier: api, Name: &name,
			Scopes: []apis.Scope{{"value": "read:x"}, {"value": "write:x"}}}); err != nil {
			t.Fatal(err)
		}
		id, secret := registerClient(t, s, "--name", "Machine", "--type", "m2m")
		g, err := m.CreateClientGrant(sys, id, api, []string{"read:x", "write:x"})
		if err != nil {
			t.Fatal(err)
		}
		// A grant left with a scope the API no longer declares (as stored
		// before grants were pruned with the API's scopes).
		db.ClientGrant.UpdateOneID(pulid.ID(g.ID)).SetScopes([]string{"read:x", "write:x", "gone:x"}).ExecX(sys)
		cc := func(form url.Values) (int, map[string]any) {
			form.Set("grant_type", "client_credentials")
			form.Set("audience", api)
			return oauthPost(t, s, "/oauth/token", id, secret, form)
		}
		status, body := cc(url.Values{})
		if status != http.StatusOK {
			t.Fatalf("client_credentials: %d %v", status, body)
		}
		if got := sorted(strings.Fields(body["scope"].(string))); !slices.Equal(got, []string{"read:x", "write:x"}) {
			t.Fatalf("scope %v: want the API's scopes only", got)
		}
		if status, body := cc(url.Values{"scope": {"gone:x"}}); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
			t.Fatalf("asking for the undeclared scope: %d %v", status, body)
		}
	})
}
