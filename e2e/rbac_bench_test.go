package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/rbac"
)

// BenchmarkRBACRefresh measures a whole refresh-token grant (POST
// /oauth/token, grant_type=refresh_token: client authentication, rotation,
// rules, permissions, two signatures) for an API that enforces policies with
// the access_token_authz dialect, for a user without roles and for one with
// 50 roles giving 500 permissions (a 500-entry permissions claim). warm: the
// Authorizer's caches hold the answer; cold: a role change just dropped
// them (outside the timer), so the user's roles and permissions are read.
func BenchmarkRBACRefresh(b *testing.B) {
	s := apitest.Start(b, testenv.SQLite(b))
	sys := authz.SystemContext(context.Background())
	db := s.Deps.DB.Ent
	m := rbac.Manager{DB: db, Issuer: s.Issuer}
	const api = "https://bench.example.com/"
	var scopes []apis.Scope
	for i := range 500 {
		scopes = append(scopes, apis.Scope{"value": fmt.Sprintf("perm:%03d", i)})
	}
	name, dialect, yes := "bench", "access_token_authz", true
	if _, err := apis.Create(sys, db, s.Issuer, apis.Params{Identifier: api, Name: &name, Scopes: scopes,
		AllowOfflineAccess: &yes, EnforcePolicies: &yes, TokenDialect: &dialect}); err != nil {
		b.Fatal(err)
	}
	admin := s.AdminToken(b)
	user := func(email string) string {
		var out struct{ CreateUser struct{ ID string } }
		s.MustGraphQL(b, admin, `mutation($e: String!) { createUser(input: {connection: "Username-Password-Authentication",
			email: $e, password: "Analytical-Engine-1843"}) { id } }`, map[string]any{"e": email}, &out)
		return out.CreateUser.ID
	}
	user("none@example.com")
	many := user("many@example.com")
	var roleIDs []string
	for r := range 50 {
		n := fmt.Sprintf("bench role %02d", r)
		role, err := m.CreateRole(sys, rbac.RoleParams{Name: &n})
		if err != nil {
			b.Fatal(err)
		}
		var perms []rbac.Permission
		for i := range 10 {
			perms = append(perms, rbac.Permission{ResourceServerIdentifier: api, PermissionName: fmt.Sprintf("perm:%03d", r*10+i)})
		}
		if err := m.AddRolePermissions(sys, string(role.ID), perms); err != nil {
			b.Fatal(err)
		}
		roleIDs = append(roleIDs, string(role.ID))
	}
	if err := m.AssignUserRoles(sys, many, roleIDs); err != nil {
		b.Fatal(err)
	}

	id, secret := registerClient(b, s, "--name", "Web", "--type", "regular_web", "--redirect-uri", redirectURI)
	relying := newRP(b, s, id, secret, "openid", "offline_access", "perm:000", "perm:499")
	ctx := context.Background()
	login := func(email string) string {
		br := newBrowser(b)
		verifier := oauth2.GenerateVerifier()
		p := br.login(br.get(relying.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("audience", api))), email, "Analytical-Engine-1843")
		if p.location == nil || p.location.Query().Get("code") == "" {
			b.Fatalf("login of %s: %d %.300s", email, p.status, p.body)
		}
		tok, err := relying.conf.Exchange(ctx, p.location.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			b.Fatal(err)
		}
		return tok.RefreshToken
	}
	chains := map[string]string{"none": login("none@example.com"), "many": login("many@example.com")}
	hc := s.HTTP
	refresh := func(who string, wantPerms int) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {chains[who]}}
		req, _ := http.NewRequest(http.MethodPost, s.Issuer+"oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var body struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || body.RefreshToken == "" {
			b.Fatalf("refresh: %d %v", resp.StatusCode, err)
		}
		chains[who] = body.RefreshToken
		if wantPerms >= 0 {
			// Outside the timed loop: the token carries the permissions.
			parts := strings.Split(body.AccessToken, ".")
			raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
			var claims struct{ Permissions []string }
			if err := json.Unmarshal(raw, &claims); err != nil || len(claims.Permissions) != wantPerms {
				b.Fatalf("%s: %d permissions (%v), want %d", who, len(claims.Permissions), err, wantPerms)
			}
		}
	}
	// A watched change: every cached answer of the Authorizer is dropped.
	touch := func() {
		db.Role.UpdateOneID(pulid.ID(roleIDs[0])).SetDescription(fmt.Sprint(b.N)).ExecX(sys)
	}
	// Rounds alternate the cases within one process, so that load from
	// elsewhere on the machine falls on all of them alike (Go names the
	// repeats #01, #02).
	cases := []struct {
		name, who string
		cold      bool
	}{
		{"roles=0/warm", "none", false},
		{"roles=50/permissions=500/warm", "many", false},
		{"roles=0/cold", "none", true},
		{"roles=50/permissions=500/cold", "many", true},
	}
	for i := range 3 * len(cases) {
		c := cases[i%len(cases)]
		b.Run(c.name, func(b *testing.B) {
			want := 0
			if c.who == "many" {
				want = 500
			}
			refresh(c.who, want) // warms the caches and checks the answer
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if c.cold {
					b.StopTimer()
					touch()
					b.StartTimer()
				}
				refresh(c.who, -1)
			}
		})
	}
}
