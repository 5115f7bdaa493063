package rules

import (
	"testing"
	"time"

	"github.com/authgraph/authgraph/rules/jstemplates"
)

// TestJSTemplates runs every template of the gallery, unchanged, through
// RunPipeline on realistic logins and checks exactly what it decides.
func TestJSTemplates(t *testing.T) {
	e := newEngine(t, Config{})
	verified := func(email string) func(*Event) {
		return func(ev *Event) { ev.User.Email, ev.User.EmailVerified = email, true }
	}
	unverified := func(ev *Event) { ev.User.EmailVerified = false }
	client := func(name string, then ...func(*Event)) func(*Event) {
		return func(ev *Event) {
			ev.Client.Name = name
			for _, f := range then {
				f(ev)
			}
		}
	}
	firstLogin := func(ev *Event) {
		ev.Stats.LoginsCount, ev.User.LoginsCount = 1, 1
		ev.User.UserMetadata = map[string]any{}
	}
	withMFA := func(ev *Event) {
		ev.Authentication.Methods = append(ev.Authentication.Methods, AuthenticationMethod{Name: "mfa", Timestamp: ev.Now})
	}
	roles := func(r ...string) func(*Event) { return func(ev *Event) { ev.Authorization.Roles = r } }
	// The weekday template reads the runtime's clock, the host's (in UTC).
	weekend := `{}`
	if d := time.Now().UTC().Weekday(); d == time.Saturday || d == time.Sunday {
		weekend = `{"deny": "This app is only available during the week."}`
	}
	cases := []struct {
		id     string
		name   string
		change func(*Event)
		want   string
	}{
		{"add-roles-to-tokens", "roles", nil, `{"id": {"https://my-app.example.com/roles": ["billing-admin", "editor"]},
  "access": {"https://my-app.example.com/roles": ["billing-admin", "editor"]}}`},
		{"add-roles-to-tokens", "no roles", roles(), `{"id": {"https://my-app.example.com/roles": []},
  "access": {"https://my-app.example.com/roles": []}}`},
		{"add-roles-to-tokens-rule", "roles", nil, `{"id": {"https://my-app.example.com/roles": ["billing-admin", "editor"]},
  "access": {"https://my-app.example.com/roles": ["billing-admin", "editor"]}}`},
		{"deny-email-domain-for-app", "the app", client("My SPA"), `{"deny": "Access to My SPA is not allowed."}`},
		{"deny-email-domain-for-app", "another app", nil, `{}`},
		{"deny-email-domain-for-app", "another domain", client("My SPA", verified("ada@example.org")), `{}`},
		{"email-domain-allowlist", "allowed domain", nil, `{}`},
		{"email-domain-allowlist", "other domain", verified("ada@evil.test"), `{"deny": "Access denied."}`},
		{"email-domain-allowlist", "unverified", unverified, `{"deny": "Access denied."}`},
		{"email-domain-allowlist-rule", "allowed domain, any case", verified("Ada@EXAMPLE.org"), `{}`},
		{"email-domain-allowlist-rule", "other domain", verified("ada@evil.test"), `{"deny": "Access denied."}`},
		{"email-domain-allowlist-rule", "unverified", unverified, `{"deny": "Access denied."}`},
		{"app-user-allowlist", "another app", verified("someone@evil.test"), `{}`},
		{"app-user-allowlist", "listed user", client("NameOfTheAppWithAllowlist", verified("user2@example.com")), `{}`},
		{"app-user-allowlist", "unlisted user", client("NameOfTheAppWithAllowlist"), `{"deny": "Access denied."}`},
		{"app-user-allowlist-rule", "another app", nil, `{}`},
		{"app-user-allowlist-rule", "listed user", client("NameOfTheAppWithWhiteList", verified("user1@example.com")), `{}`},
		{"app-user-allowlist-rule", "unlisted user", client("NameOfTheAppWithWhiteList"), `{"deny": "Access denied."}`},
		{"add-email-to-access-token", "email", nil, `{"access": {"https://example.com/email": "ada.lovelace@example.com"}}`},
		{"add-email-to-access-token-rule", "email", nil, `{"access": {"https://example.com/email": "ada.lovelace@example.com"}}`},
		{"first-login-metadata", "first login", firstLogin, `{"id": {"https://example.com/favorite_color": "blue"},
  "app": {"signed_up_with": "cli_01HV8Z7A0B1C2D3E4F5G6H7J8K", "signed_up_at": "2024-03-01T09:30:00Z"},
  "user": {"color": "blue"}}`},
		{"first-login-metadata", "later login", func(ev *Event) { ev.User.UserMetadata["color"] = "red" },
			`{"id": {"https://example.com/favorite_color": "red"}}`},
		{"persistent-attribute-rule", "no color yet", firstLogin, `{"id": {"https://example.com/favorite_color": "blue"},
  "user": {"color": "blue"}}`},
		{"persistent-attribute-rule", "color set", func(ev *Event) { ev.User.UserMetadata["color"] = "red" },
			`{"id": {"https://example.com/favorite_color": "red"}}`},
		{"set-roles-rule", "example.com", verified("ada@example.com"), `{"id": {"https://example.com/roles": ["admin"]},
  "app": {"roles": ["admin"]}}`},
		{"set-roles-rule", "other domain", verified("ada@example.org"), `{"id": {"https://example.com/roles": ["user"]},
  "app": {"roles": ["user"]}}`},
		{"set-roles-rule", "unverified", unverified, `{}`},
		{"mfa-by-group-rule", "listed group", func(ev *Event) {
			ev.User.AppMetadata["authorization"] = map[string]any{"groups": []any{"staff", "admins"}}
		}, `{"mfa": true}`},
		{"mfa-by-group-rule", "no group", nil, `{}`},
		{"require-mfa-once-per-session-rule", "password only", nil, `{"mfa": true}`},
		{"require-mfa-once-per-session-rule", "mfa passed", withMFA, `{}`},
		{"mfa-by-role", "admin", roles("admin", "editor"), `{"mfa": true}`},
		{"mfa-by-role", "admin, mfa passed", func(ev *Event) { roles("admin")(ev); withMFA(ev) }, `{}`},
		{"mfa-by-role", "listed app", func(ev *Event) { ev.Client.ClientID = "REPLACE_WITH_YOUR_CLIENT_ID" }, `{"mfa": true}`},
		{"mfa-by-role", "neither", nil, `{}`},
		{"weekdays-only-for-app", "the app", client("APP_NAME"), weekend},
		{"weekdays-only-for-app", "another app", nil, `{}`},
		{"email-verified-rule", "verified", nil, `{}`},
		{"email-verified-rule", "unverified", unverified, `{"deny": "Please verify your email before logging in."}`},
	}
	tested := map[string]bool{}
	for _, c := range cases {
		tested[c.id] = true
		t.Run(c.id+"/"+c.name, func(t *testing.T) {
			tp, ok := jstemplates.Get(c.id)
			if !ok {
				t.Fatalf("no template %s", c.id)
			}
			if err := e.ValidateJavaScript(ctxTimeout(t, testJSTimeout), tp.Source); err != nil {
				t.Fatalf("ValidateJavaScript: %v", err)
			}
			ev := loginEvent(t)
			if c.change != nil {
				c.change(&ev)
			}
			res, err := runJSPipeline(t, e, ev, tp.Source)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON(t, "outcome", summary(res), c.want)
		})
	}
	for _, tp := range jstemplates.All() {
		if !tested[tp.ID] {
			t.Errorf("template %s has no test", tp.ID)
		}
	}
}

// summary is what a pipeline decided, with empty members left out.
func summary(res PipelineResult) map[string]any {
	out := map[string]any{}
	if res.Deny != nil {
		out["deny"] = res.Deny.Reason
	}
	for k, m := range map[string]map[string]any{"id": res.IDTokenClaims, "access": res.AccessTokenClaims,
		"app": res.AppMetadata, "user": res.UserMetadata} {
		if len(m) > 0 {
			out[k] = m
		}
	}
	if res.RequireMFA {
		out["mfa"] = true
	}
	if res.LinkTo != nil {
		out["link"] = res.LinkTo.UserID
	}
	return out
}
