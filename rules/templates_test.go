package rules

import (
	"context"
	"fmt"
	"testing"
)

// TestTemplates runs every rules-sdk template, in both languages, on the
// cases it exists for. The two implementations must agree.
func TestTemplates(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir})
	type check func(*testing.T, PipelineResult)
	denied := func(reason string) check {
		return func(t *testing.T, r PipelineResult) {
			if r.Deny == nil || r.Deny.Reason != reason {
				t.Fatalf("deny = %+v, want %q", r.Deny, reason)
			}
		}
	}
	allowed := func(t *testing.T, r PipelineResult) {
		if r.Deny != nil {
			t.Fatalf("denied: %s", r.Deny.Reason)
		}
	}
	cases := []struct {
		template, name string
		edit           func(*Event)
		secrets        map[string]string
		check          check
	}{
		{"roles-claim", "roles", nil, nil, func(t *testing.T, r PipelineResult) {
			want := "[admin editor billing]"
			if fmt.Sprint(r.IDTokenClaims["https://example.com/roles"]) != want || fmt.Sprint(r.AccessTokenClaims["https://example.com/roles"]) != want {
				t.Fatalf("claims %v / %v", r.IDTokenClaims, r.AccessTokenClaims)
			}
		}},
		{"roles-claim", "no roles", func(e *Event) { delete(e.User.AppMetadata, "roles") }, nil, func(t *testing.T, r PipelineResult) {
			if fmt.Sprint(r.IDTokenClaims["https://example.com/roles"]) != "[]" {
				t.Fatalf("claims %v", r.IDTokenClaims)
			}
		}},
		{"deny-unverified", "verified", nil, nil, allowed},
		{"deny-unverified", "unverified", func(e *Event) { e.User.EmailVerified = false }, nil,
			denied("Please verify your email address before logging in.")},
		{"first-login", "first", func(e *Event) { e.User.LoginsCount = 1 }, nil, func(t *testing.T, r PipelineResult) {
			if r.AppMetadata["first_login_at"] != "2025-11-25T20:00:00Z" || r.AppMetadata["first_login_client"] != "cli_01HV8Z7A0B1C2D3E4F5G6H7J8K" {
				t.Fatalf("app_metadata %v", r.AppMetadata)
			}
		}},
		{"first-login", "already stamped", func(e *Event) { e.User.AppMetadata["first_login_at"] = "2020-01-01T00:00:00Z" }, nil,
			func(t *testing.T, r PipelineResult) {
				if len(r.AppMetadata) != 0 {
					t.Fatalf("app_metadata %v", r.AppMetadata)
				}
			}},
		{"domain-allowlist", "allowed", nil, map[string]string{"ALLOWED_DOMAINS": "example.org, example.com"}, allowed},
		{"domain-allowlist", "other domain", func(e *Event) { e.User.Email = "eve@evil.test" }, map[string]string{"ALLOWED_DOMAINS": "example.com"},
			denied("Access is restricted to approved email domains.")},
		{"domain-allowlist", "unverified", func(e *Event) { e.User.EmailVerified = false }, nil,
			denied("Access is restricted to approved email domains.")},
		{"strategy-claim", "strategy", func(e *Event) { e.Connection.Strategy = "github" }, nil, func(t *testing.T, r PipelineResult) {
			if r.AccessTokenClaims["https://example.com/connection_strategy"] != "github" || len(r.IDTokenClaims) != 0 {
				t.Fatalf("claims %v / %v", r.IDTokenClaims, r.AccessTokenClaims)
			}
		}},
		{"require-mfa", "not an administrator", nil, nil, func(t *testing.T, r PipelineResult) {
			if r.Deny != nil || r.RequireMFA {
				t.Fatalf("deny %+v, require_mfa %v: billing-admin is not admin", r.Deny, r.RequireMFA)
			}
		}},
		{"require-mfa", "administrator", func(e *Event) { e.Authorization.Roles = append(e.Authorization.Roles, "admin") }, nil,
			func(t *testing.T, r PipelineResult) {
				if r.Deny != nil || !r.RequireMFA || len(r.Runs[0].Logs) != 1 {
					t.Fatalf("deny %+v, require_mfa %v, logs %q", r.Deny, r.RequireMFA, r.Runs[0].Logs)
				}
			}},
		{"require-mfa", "administrator after MFA", func(e *Event) {
			e.Authorization.Roles = append(e.Authorization.Roles, "admin")
			e.Authentication.Methods = append(e.Authentication.Methods, AuthenticationMethod{Name: "mfa", Timestamp: e.Now})
		}, nil, func(t *testing.T, r PipelineResult) {
			// Still required: the host, not the rule, decides that the
			// session satisfies it.
			if !r.RequireMFA || len(r.Runs[0].Logs) != 0 {
				t.Fatalf("require_mfa %v, logs %q", r.RequireMFA, r.Runs[0].Logs)
			}
		}},
	}
	for _, lang := range []string{"go", "as"} {
		for _, c := range cases {
			t.Run(lang+"/"+c.template+"/"+c.name, func(t *testing.T) {
				rv := ruleFor(t, "tpl-"+lang+"-"+c.template)
				rv.Secrets = c.secrets
				ev := loginEvent(t)
				if c.edit != nil {
					c.edit(&ev)
				}
				res, err := e.RunPipeline(context.Background(), []RuleVersion{rv}, ev)
				if err != nil {
					t.Fatal(err)
				}
				c.check(t, res)
			})
		}
	}
}
