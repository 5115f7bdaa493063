package rules

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestRequireMFA runs the requiremfa fixtures: the command is reported in
// the pipeline result (with the metadata updates, which the caller decides
// to hold back), a deny wins over it, and the rule sees
// event.authentication.methods.
func TestRequireMFA(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir})
	ctx := context.Background()
	at := time.Date(2025, 11, 25, 19, 59, 58, 0, time.UTC)
	for _, lang := range []string{"go", "as"} {
		mfa := ruleFor(t, lang+"-requiremfa")
		deny := ruleFor(t, "tpl-"+lang+"-deny-unverified")
		admin := func() Event {
			ev := loginEvent(t)
			ev.User.AppMetadata["role"] = "admin"
			ev.Authentication.Methods = []AuthenticationMethod{{Name: "pwd", Timestamp: at}, {Name: "otp", Timestamp: at}}
			return ev
		}
		t.Run(lang+"/admin", func(t *testing.T) {
			res, err := e.RunPipeline(ctx, []RuleVersion{mfa}, admin())
			if err != nil {
				t.Fatal(err)
			}
			if !res.RequireMFA || res.Deny != nil || res.AppMetadata["mfa_rule_runs"] != 1.0 {
				t.Fatalf("require_mfa %v, deny %+v, app_metadata %v", res.RequireMFA, res.Deny, res.AppMetadata)
			}
			if got := fmt.Sprint(res.IDTokenClaims["https://example.com/methods"]); got != "[pwd otp]" {
				t.Fatalf("the rule saw authentication.methods %s", got)
			}
			if !res.Runs[0].Result.RequireMFA {
				t.Fatal("the run's result lost require_mfa")
			}
		})
		t.Run(lang+"/not admin", func(t *testing.T) {
			ev := loginEvent(t)
			res, err := e.RunPipeline(ctx, []RuleVersion{mfa}, ev)
			if err != nil {
				t.Fatal(err)
			}
			if res.RequireMFA {
				t.Fatal("require_mfa for a user who is not admin")
			}
			if got := fmt.Sprint(res.IDTokenClaims["https://example.com/methods"]); got != "[pwd]" {
				t.Fatalf("the rule saw authentication.methods %s (the sample has pwd)", got)
			}
			// An event without methods gives the rule an empty list.
			ev.Authentication.Methods = nil
			if res, err = e.RunPipeline(ctx, []RuleVersion{mfa}, ev); err != nil || fmt.Sprint(res.IDTokenClaims["https://example.com/methods"]) != "[]" {
				t.Fatalf("no methods: %v %v", err, res.IDTokenClaims)
			}
		})
		t.Run(lang+"/a later rule sees the earlier one's require_mfa run", func(t *testing.T) {
			// Two requiring rules: the second sees the first's metadata, the
			// result still requires MFA once.
			res, err := e.RunPipeline(ctx, []RuleVersion{mfa, {ID: "rul_2", Name: "again", Version: "1", Module: mfa.Module}}, admin())
			if err != nil || !res.RequireMFA || res.AppMetadata["mfa_rule_runs"] != 2.0 {
				t.Fatalf("%v: require_mfa %v, app_metadata %v", err, res.RequireMFA, res.AppMetadata)
			}
		})
		t.Run(lang+"/deny wins", func(t *testing.T) {
			for _, order := range [][]RuleVersion{{mfa, deny}, {deny, mfa}} {
				ev := admin()
				ev.User.EmailVerified = false
				res, err := e.RunPipeline(ctx, order, ev)
				if err != nil {
					t.Fatal(err)
				}
				if res.Deny == nil || res.RequireMFA || len(res.AppMetadata)+len(res.IDTokenClaims) != 0 {
					t.Fatalf("%s first: deny %+v, require_mfa %v, app_metadata %v", order[0].Name, res.Deny, res.RequireMFA, res.AppMetadata)
				}
			}
		})
	}
}
