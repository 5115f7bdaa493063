package rulesrun_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/rules"
	"github.com/authgraph/authgraph/rulesrun"
)

// fixture returns a module built by `make rules-fixtures`; missing fixtures
// skip locally and fail in CI.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	p := filepath.Join("..", "rules", "testdata", "build", name+".wasm")
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fixture %s missing (CI must run `make rules-fixtures` first): %v", p, err)
		}
		t.Skipf("fixture %s missing: run `make rules-fixtures` (%v)", p, err)
	}
	return b
}

// A rule's require_mfa at an interactive login without "mfa" in the AMR
// returns RequireMFA and applies nothing (no metadata, no link, no claims);
// with "mfa" the pipeline's effects apply once; at refresh it is ignored; a
// deny wins over it.
func TestRunRequireMFA(t *testing.T) {
	requireMFA, linkTo, denyUnverified := fixture(t, "as-requiremfa"), fixture(t, "go-linkto"), fixture(t, "tpl-as-deny-unverified")
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := authz.SystemContext(context.Background())
		db, svc := s.Deps.DB.Ent, s.Deps.Rules
		admin := s.AdminToken(t)
		s.MustGraphQL(t, admin, `mutation { createConnection(input: {name: "Other-DB", strategy: "database", options: {passwordPolicy: "low"}}) { id } }`, nil, nil)
		mk := func(conn, email string, verified bool, app map[string]any) *ent.User {
			t.Helper()
			var out struct{ CreateUser struct{ ID string } }
			s.MustGraphQL(t, admin, `mutation($in: CreateUserInput!) { createUser(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"connection": conn, "email": email, "password": "Second-Factor-42!",
					"emailVerified": verified, "appMetadata": app}}, &out)
			u, err := db.User.Get(ctx, pulid.ID(out.CreateUser.ID))
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		isAdmin := map[string]any{"role": "admin"}
		ada := mk("Username-Password-Authentication", "ada@example.com", true, isAdmin)
		bob := mk("Username-Password-Authentication", "bob@example.com", true, map[string]any{})
		samPrimary := mk("Username-Password-Authentication", "sam@example.com", true, map[string]any{})
		samSecondary := mk("Other-DB", "sam@example.com", true, isAdmin)
		una := mk("Username-Password-Authentication", "una@example.com", false, isAdmin)

		for _, r := range []rulesrun.CreateParams{
			{Name: "link", Module: linkTo, Secrets: map[string]any{"primary": samPrimary.UserID}},
			{Name: "require-mfa", Module: requireMFA},
			{Name: "deny-unverified", Module: denyUnverified},
		} {
			if _, err := svc.Create(ctx, db, r); err != nil {
				t.Fatal(err)
			}
		}
		authTime := time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)
		// Each login reads the user as stored, as the provider does.
		login := func(u *ent.User, conn string, amr ...string) rulesrun.Login {
			t.Helper()
			fresh, err := db.User.Get(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return rulesrun.Login{User: fresh, Connection: conn, Protocol: "oidc-basic-profile",
				RequestedScopes: []string{"openid"}, AMR: amr, AuthTime: authTime}
		}
		runs := func(u *ent.User) any {
			t.Helper()
			fresh, err := db.User.Get(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return fresh.AppMetadata["mfa_rule_runs"]
		}
		methods := func(out *rulesrun.Outcome) string {
			return fmt.Sprint(out.IDTokenClaims["https://example.com/methods"])
		}

		// The event's authentication.methods: one per AMR value, at the
		// auth time.
		ev, _, err := svc.BuildEvent(ctx, login(ada, "", "pwd", "mfa"))
		if err != nil {
			t.Fatal(err)
		}
		want := []rules.AuthenticationMethod{{Name: "pwd", Timestamp: authTime}, {Name: "mfa", Timestamp: authTime}}
		if !reflect.DeepEqual(ev.Authentication.Methods, want) {
			t.Fatalf("authentication.methods %+v", ev.Authentication.Methods)
		}

		// 1. No second factor yet: RequireMFA, and nothing applied.
		out, err := svc.Run(ctx, login(ada, "", "pwd"))
		if err != nil {
			t.Fatal(err)
		}
		if !out.RequireMFA || len(out.IDTokenClaims)+len(out.AccessTokenClaims) != 0 || out.Primary != nil || out.Roles != nil || len(out.Runs) != 3 {
			t.Fatalf("before MFA: %+v", out)
		}
		if n := runs(ada); n != nil {
			t.Fatalf("metadata stored before MFA: mfa_rule_runs = %v", n)
		}

		// 2. After the challenge (AMR has mfa): the effects apply, once.
		out, err = svc.Run(ctx, login(ada, "", "pwd", "mfa"))
		if err != nil {
			t.Fatal(err)
		}
		if out.RequireMFA || methods(out) != "[pwd mfa]" {
			t.Fatalf("after MFA: require_mfa %v, claims %v", out.RequireMFA, out.IDTokenClaims)
		}
		if n := runs(ada); n != 1.0 {
			t.Fatalf("after MFA: mfa_rule_runs = %v, want 1", n)
		}

		// 3. Refresh: ignored, whatever the AMR; the effects apply.
		refresh := login(ada, "", "pwd")
		refresh.Protocol = rulesrun.ProtocolRefresh
		out, err = svc.Run(ctx, refresh)
		if err != nil {
			t.Fatal(err)
		}
		if out.RequireMFA || methods(out) != "[pwd]" || runs(ada) != 2.0 {
			t.Fatalf("refresh: require_mfa %v, claims %v, mfa_rule_runs %v", out.RequireMFA, out.IDTokenClaims, runs(ada))
		}

		// 4. A user the rule does not ask: nothing required.
		out, err = svc.Run(ctx, login(bob, "", "pwd"))
		if err != nil || out.RequireMFA || runs(bob) != 1.0 {
			t.Fatalf("not admin: %v %+v, mfa_rule_runs %v", err, out, runs(bob))
		}

		// 5. A link_to waits for the factor too.
		out, err = svc.Run(ctx, login(samSecondary, "Other-DB", "pwd"))
		if err != nil || !out.RequireMFA || out.Primary != nil {
			t.Fatalf("link before MFA: %v %+v", err, out)
		}
		if _, err := db.User.Get(ctx, samSecondary.ID); err != nil {
			t.Fatalf("the secondary was linked before MFA: %v", err)
		}
		out, err = svc.Run(ctx, login(samSecondary, "Other-DB", "pwd", "mfa"))
		if err != nil || out.RequireMFA || out.Primary == nil || out.Primary.ID != samPrimary.ID {
			t.Fatalf("link after MFA: %v %+v", err, out)
		}
		if _, err := db.User.Get(ctx, samSecondary.ID); !ent.IsNotFound(err) {
			t.Fatalf("the secondary still exists after the link: %v", err)
		}

		// 6. A deny wins over require_mfa, with or without the factor.
		for _, amr := range [][]string{{"pwd"}, {"pwd", "mfa"}} {
			out, err = svc.Run(ctx, login(una, "", amr...))
			var denied *rulesrun.DeniedError
			if !errors.As(err, &denied) || denied.RuleName != "deny-unverified" {
				t.Fatalf("amr %v: %v %+v, want a denial", amr, err, out)
			}
		}
		if n := runs(una); n != nil {
			t.Fatalf("metadata stored on deny: mfa_rule_runs = %v", n)
		}

		// 7. A dry run reports the command.
		res, err := svc.Test(ctx, db, rulesrun.TestParams{Module: requireMFA,
			Event: map[string]any{"user": map[string]any{"app_metadata": isAdmin}}})
		if err != nil || !res.Allowed || !res.RequireMFA {
			t.Fatalf("testRule: %v %+v", err, res)
		}
	})
}
