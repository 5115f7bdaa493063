package apiv2_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"
	"github.com/pquerna/otp/totp"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/mfa"
)

// mfaEnroll enrolls a TOTP authenticator (and recovery codes) for the user
// through the service, as the login pages do.
func mfaEnroll(t *testing.T, s *apitest.Server, userID string) {
	t.Helper()
	ctx := context.Background()
	u, err := identity.Resolve(authz.SystemContext(ctx), s.Deps.DB.Ent, userID)
	if err != nil {
		t.Fatal(err)
	}
	en, err := s.Deps.MFA.StartTOTP(ctx, u.ID, "someone")
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(en.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deps.MFA.ConfirmTOTP(ctx, u.ID, en.AuthenticatorID, code, mfa.LoginContext{}); err != nil {
		t.Fatal(err)
	}
}

func TestAuthenticationMethods(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		alice := createUser(t, m, "alice-mfa@example.com")
		bob := createUser(t, m, "bob-mfa@example.com")
		list, err := m.User.ListAuthenticationMethods(ctx, alice)
		if err != nil || len(list.Authenticators) != 0 || list.Total != 0 {
			t.Fatalf("before enrollment: %+v, %v", list, err)
		}
		mfaEnroll(t, s, alice)
		mfaEnroll(t, s, bob)
		list, err = m.User.ListAuthenticationMethods(ctx, alice)
		if err != nil || list.Total != 2 || len(list.Authenticators) != 2 {
			t.Fatalf("list = %+v, %v", list, err)
		}
		totpM, codes := list.Authenticators[0], list.Authenticators[1]
		if totpM.GetType() != "totp" || !totpM.GetConfirmed() || totpM.LastAuthedAt == nil || totpM.TOTPSecret != nil ||
			codes.GetType() != "recovery-code" {
			t.Fatalf("methods = %+v, %+v", totpM, codes)
		}
		// A bare array without include_totals; paging.
		r := call(t, s, http.MethodGet, "/api/v2/users/"+alice+"/authentication-methods?per_page=1&page=1", s.AdminToken(t), nil)
		var page []map[string]any
		r.decode(t, &page)
		if r.Status != http.StatusOK || len(page) != 1 || page[0]["type"] != "recovery-code" {
			t.Fatalf("page 1: %d %s", r.Status, r.Body)
		}
		expectStatus(t, scopedSDK(t, s, everyScopeBut("update:users")...).User.DeleteAuthenticationMethod(ctx, alice, codes.GetID()), http.StatusForbidden, "without update:users")

		before := len(audits(t, s))
		if err := m.User.DeleteAuthenticationMethod(ctx, alice, codes.GetID()); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, m.User.DeleteAuthenticationMethod(ctx, alice, codes.GetID()), http.StatusNotFound, "second delete")
		expectStatus(t, m.User.DeleteAuthenticationMethod(ctx, bob, totpM.GetID()), http.StatusNotFound, "through another user")
		if got := audits(t, s)[before:]; !slices.Equal(got, []string{"deleteAuthenticator"}) {
			t.Fatalf("audits %v", got)
		}
		if err := m.User.DeleteAllAuthenticationMethods(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if list, _ := m.User.ListAuthenticationMethods(ctx, alice); len(list.Authenticators) != 0 {
			t.Fatalf("after reset: %+v", list.Authenticators)
		}
		r = call(t, s, http.MethodDelete, "/api/v2/users/"+bob+"/authenticators", s.AdminToken(t), nil)
		if r.Status != http.StatusNoContent {
			t.Fatalf("DELETE authenticators: %d %s", r.Status, r.Body)
		}
		if list, _ := m.User.ListAuthenticationMethods(ctx, bob); len(list.Authenticators) != 0 {
			t.Fatalf("bob after reset: %+v", list.Authenticators)
		}
		expectStatus(t, m.User.DeleteAllAuthenticationMethods(ctx, "auth0|nobody"), http.StatusNotFound, "unknown user")
		if got := audits(t, s)[before:]; !slices.Equal(got, []string{"deleteAuthenticator", "resetMfa", "resetMfa"}) {
			t.Fatalf("audits %v", got)
		}
	})
}

func TestGuardian(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		factors, err := m.Guardian.MultiFactor.List(ctx)
		if err != nil || len(factors) != 8 {
			t.Fatalf("factors = %v, %v", factors, err)
		}
		enabled := map[string]bool{}
		for _, f := range factors {
			enabled[f.GetName()] = f.GetEnabled()
		}
		if !enabled["otp"] || !enabled["recovery-code"] || enabled["email"] || enabled["sms"] {
			t.Fatalf("enabled = %v", enabled)
		}
		if p, err := m.Guardian.MultiFactor.Policy(ctx); err != nil || len(*p) != 0 {
			t.Fatalf("policy = %v, %v", p, err)
		}
		if err := m.Guardian.MultiFactor.Email.Enable(ctx, true); err != nil {
			t.Fatal(err)
		}
		if err := m.Guardian.MultiFactor.UpdatePolicy(ctx, &management.MultiFactorPolicies{"all-applications"}); err != nil {
			t.Fatal(err)
		}
		st, err := s.Deps.MFA.Settings(ctx)
		if err != nil || st.Policy != mfa.PolicyAlways || !st.Enabled(mfa.FactorEmail) || !st.Enabled(mfa.FactorTOTP) {
			t.Fatalf("settings = %+v, %v", st, err)
		}
		if p, _ := m.Guardian.MultiFactor.Policy(ctx); len(*p) != 1 || (*p)[0] != "all-applications" {
			t.Fatalf("policy = %v", p)
		}
		// Disabling both challenge factors under "always" is refused.
		if err := m.Guardian.MultiFactor.OTP.Enable(ctx, false); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, m.Guardian.MultiFactor.Email.Enable(ctx, false), http.StatusBadRequest, "no factor left")
		expectStatus(t, m.Guardian.MultiFactor.SMS.Enable(ctx, true), http.StatusBadRequest, "sms")
		if err := m.Guardian.MultiFactor.SMS.Enable(ctx, false); err != nil {
			t.Fatalf("disabling sms: %v", err)
		}
		expectStatus(t, m.Guardian.MultiFactor.UpdatePolicy(ctx, &management.MultiFactorPolicies{"confidence-score"}), http.StatusBadRequest, "confidence-score")
		r := call(t, s, http.MethodPut, "/api/v2/guardian/factors/nope", s.AdminToken(t), map[string]any{"enabled": true})
		r.expectError(t, http.StatusNotFound, "inexistent_factor")
		// Authgraph's opt-in round-trips.
		r = call(t, s, http.MethodPut, "/api/v2/guardian/policies", s.AdminToken(t), []string{"opt-in"})
		if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != `["opt-in"]` {
			t.Fatalf("opt-in: %d %s", r.Status, r.Body)
		}
		if st, _ := s.Deps.MFA.Settings(ctx); st.Policy != mfa.PolicyOptIn {
			t.Fatalf("policy %s", st.Policy)
		}
		expectStatus(t, scopedSDK(t, s, everyScopeBut("update:guardian_factors")...).Guardian.MultiFactor.UpdatePolicy(ctx, &management.MultiFactorPolicies{}), http.StatusForbidden, "without update:guardian_factors")

		// Enrollment tickets.
		alice := createUser(t, m, "alice-ticket@example.com")
		tk, err := m.Guardian.Enrollment.CreateTicket(ctx, &management.CreateEnrollmentTicket{UserID: alice})
		if err != nil {
			t.Fatal(err)
		}
		if tk.TicketURL != s.Issuer+"login/mfa/enroll?ticket="+tk.TicketID || tk.TicketID == "" {
			t.Fatalf("ticket = %+v", tk)
		}
		uid, err := s.Deps.MFA.EnrollmentTicketUser(ctx, tk.TicketID)
		if u, _ := identity.Resolve(authz.SystemContext(ctx), s.Deps.DB.Ent, alice); err != nil || uid != u.ID {
			t.Fatalf("ticket user %v, %v", uid, err)
		}
		_, err = m.Guardian.Enrollment.CreateTicket(ctx, &management.CreateEnrollmentTicket{UserID: alice, SendMail: true})
		expectStatus(t, err, http.StatusBadRequest, "send_mail")
		_, err = m.Guardian.Enrollment.CreateTicket(ctx, &management.CreateEnrollmentTicket{UserID: "auth0|nobody"})
		expectStatus(t, err, http.StatusNotFound, "unknown user")
		// A ticket is for a user who has not enrolled (as Auth0's).
		u, _ := identity.Resolve(authz.SystemContext(ctx), s.Deps.DB.Ent, alice)
		if _, err := s.Deps.MFA.RegenerateRecoveryCodes(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		_, err = m.Guardian.Enrollment.CreateTicket(ctx, &management.CreateEnrollmentTicket{UserID: alice})
		expectStatus(t, err, http.StatusBadRequest, "an enrolled user")
	})
}
