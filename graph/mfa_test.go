package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/mfa"
)

const mfaSettingsFields = `policy factors rememberBrowserDays`

type gqlMfaSettings struct {
	Policy              string
	Factors             []string
	RememberBrowserDays int
}

func TestMfaSettings(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		var got struct{ MfaSettings gqlMfaSettings }
		s.MustGraphQL(t, admin, `{ mfaSettings { `+mfaSettingsFields+` } }`, nil, &got)
		if got.MfaSettings.Policy != "NEVER" || strings.Join(got.MfaSettings.Factors, ",") != "TOTP,RECOVERY_CODE" || got.MfaSettings.RememberBrowserDays != 0 {
			t.Fatalf("defaults = %+v", got.MfaSettings)
		}
		const update = `mutation($in: UpdateMfaSettingsInput!) { updateMfaSettings(input: $in) { ` + mfaSettingsFields + ` } }`
		var upd struct{ UpdateMfaSettings gqlMfaSettings }
		s.MustGraphQL(t, admin, update, map[string]any{"in": map[string]any{"policy": "ALWAYS", "factors": []string{"EMAIL", "TOTP"}}}, &upd)
		if upd.UpdateMfaSettings.Policy != "ALWAYS" || strings.Join(upd.UpdateMfaSettings.Factors, ",") != "TOTP,EMAIL" {
			t.Fatalf("update = %+v", upd.UpdateMfaSettings)
		}
		// Omitted fields keep their value; the service sees the change.
		s.MustGraphQL(t, admin, update, map[string]any{"in": map[string]any{"rememberBrowserDays": 30}}, &upd)
		if upd.UpdateMfaSettings.Policy != "ALWAYS" || len(upd.UpdateMfaSettings.Factors) != 2 || upd.UpdateMfaSettings.RememberBrowserDays != 30 {
			t.Fatalf("partial update = %+v", upd.UpdateMfaSettings)
		}
		if st, err := s.Deps.MFA.Settings(context.Background()); err != nil || st.Policy != mfa.PolicyAlways || st.RememberBrowserDays != 30 {
			t.Fatalf("service settings = %+v, %v", st, err)
		}
		// Invalid: typed errors, nothing written.
		before := sapiCount(t, s)
		expectError(t, s.GraphQL(t, admin, update, map[string]any{"in": map[string]any{"factors": []string{"RECOVERY_CODE"}}}), "BAD_USER_INPUT", "factors")
		expectError(t, s.GraphQL(t, admin, update, map[string]any{"in": map[string]any{"rememberBrowserDays": 1000}}), "BAD_USER_INPUT", "rememberBrowserDays")
		expectError(t, s.GraphQL(t, admin, update, map[string]any{"in": map[string]any{"policy": nil}}), "BAD_USER_INPUT", "policy")
		if sapiCount(t, s) != before {
			t.Fatal("a refused update was audited")
		}
		// Scopes.
		tok := scopedToken(t, s, everyScopeBut("read:guardian_factors")...)
		expectError(t, s.GraphQL(t, tok, `{ mfaSettings { policy } }`, nil), "FORBIDDEN", "")
		tok = scopedToken(t, s, everyScopeBut("update:guardian_factors")...)
		expectError(t, s.GraphQL(t, tok, update, map[string]any{"in": map[string]any{"policy": "NEVER"}}), "FORBIDDEN", "")
		tok = scopedToken(t, s, "read:guardian_factors")
		s.MustGraphQL(t, tok, `{ mfaSettings { policy } }`, nil, &got)
		if got.MfaSettings.Policy != "ALWAYS" {
			t.Fatalf("after a forbidden update: %+v", got.MfaSettings)
		}
		if n := sapiCount(t, s); n != before {
			t.Fatalf("sapi entries %d, want %d", n, before)
		}
	})
}

type gqlAuthenticator struct {
	ID         string
	Type       string
	Name       string
	CreatedAt  string
	LastUsedAt *string
	Confirmed  bool
}

const authenticatorsQuery = `query($id: ID!) { user(id: $id) { authenticators { id type name createdAt lastUsedAt confirmed } } }`

func authenticators(t *testing.T, s *apitest.Server, tok, userID string) []gqlAuthenticator {
	t.Helper()
	var got struct {
		User struct{ Authenticators []gqlAuthenticator }
	}
	s.MustGraphQL(t, tok, authenticatorsQuery, map[string]any{"id": userID}, &got)
	return got.User.Authenticators
}

// enrollTOTP enrolls a TOTP authenticator through the service, as the
// login pages do.
func enrollTOTP(t *testing.T, s *apitest.Server, userID string) {
	t.Helper()
	ctx := context.Background()
	en, err := s.Deps.MFA.StartTOTP(ctx, pulid.ID(userID), "someone")
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(en.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deps.MFA.ConfirmTOTP(ctx, pulid.ID(userID), en.AuthenticatorID, code, mfa.LoginContext{}); err != nil {
		t.Fatal(err)
	}
}

func TestUserAuthenticators(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		alice := createUser(t, s, map[string]any{"email": "alice-mfa@example.com"})
		bob := createUser(t, s, map[string]any{"email": "bob-mfa@example.com"})
		if as := authenticators(t, s, admin, alice.ID); len(as) != 0 {
			t.Fatalf("before enrollment: %+v", as)
		}
		enrollTOTP(t, s, alice.ID)
		as := authenticators(t, s, admin, alice.UserID) // by user_id too
		if len(as) != 2 || as[0].Type != "TOTP" || !as[0].Confirmed || as[0].LastUsedAt == nil || !strings.HasPrefix(as[0].ID, "mfa_") ||
			as[1].Type != "RECOVERY_CODE" || as[1].Name != "Recovery codes" {
			t.Fatalf("authenticators = %+v", as)
		}
		expectError(t, s.GraphQL(t, scopedToken(t, s, everyScopeBut("read:users")...), authenticatorsQuery, map[string]any{"id": alice.ID}), "FORBIDDEN", "")

		const del = `mutation($u: ID!, $id: ID!) { deleteAuthenticator(userId: $u, id: $id) }`
		// Through another user, or without update:users, nothing is removed.
		expectError(t, s.GraphQL(t, admin, del, map[string]any{"u": bob.ID, "id": as[1].ID}), "NOT_FOUND", "")
		expectError(t, s.GraphQL(t, admin, del, map[string]any{"u": "usr_nobody", "id": as[1].ID}), "NOT_FOUND", "")
		expectError(t, s.GraphQL(t, scopedToken(t, s, everyScopeBut("update:users")...), del, map[string]any{"u": alice.ID, "id": as[1].ID}), "FORBIDDEN", "")
		before := sapiCount(t, s)
		var ok struct{ DeleteAuthenticator bool }
		s.MustGraphQL(t, admin, del, map[string]any{"u": alice.ID, "id": as[1].ID}, &ok)
		if !ok.DeleteAuthenticator {
			t.Fatal("deleteAuthenticator = false")
		}
		if left := authenticators(t, s, admin, alice.ID); len(left) != 1 || left[0].ID != as[0].ID {
			t.Fatalf("after delete: %+v", left)
		}
		if sapiCount(t, s) != before+1 {
			t.Fatal("delete not audited")
		}
		expectError(t, s.GraphQL(t, admin, del, map[string]any{"u": alice.ID, "id": as[1].ID}), "NOT_FOUND", "")

		const reset = `mutation($u: ID!) { resetMfa(userId: $u) }`
		enrollTOTP(t, s, bob.ID)
		expectError(t, s.GraphQL(t, scopedToken(t, s, everyScopeBut("update:users")...), reset, map[string]any{"u": alice.ID}), "FORBIDDEN", "")
		var r struct{ ResetMfa bool }
		s.MustGraphQL(t, admin, reset, map[string]any{"u": alice.ID}, &r)
		if !r.ResetMfa || len(authenticators(t, s, admin, alice.ID)) != 0 {
			t.Fatal("reset left authenticators")
		}
		if len(authenticators(t, s, admin, bob.ID)) != 2 {
			t.Fatal("reset touched another user")
		}
		expectError(t, s.GraphQL(t, admin, reset, map[string]any{"u": "usr_nobody"}), "NOT_FOUND", "")
	})
}

func TestMfaEnrollmentTicket(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		alice := createUser(t, s, map[string]any{"email": "alice-ticket@example.com"})
		const create = `mutation($u: ID!) { createMfaEnrollmentTicket(userId: $u) { ticketUrl expiresAt } }`
		var got struct {
			CreateMfaEnrollmentTicket struct {
				TicketURL string
				ExpiresAt time.Time
			}
		}
		s.MustGraphQL(t, admin, create, map[string]any{"u": alice.ID}, &got)
		tk := got.CreateMfaEnrollmentTicket
		prefix := s.Issuer + "login/mfa/enroll?ticket="
		if !strings.HasPrefix(tk.TicketURL, prefix) || time.Until(tk.ExpiresAt) < 4*24*time.Hour {
			t.Fatalf("ticket = %+v", tk)
		}
		token := strings.TrimPrefix(tk.TicketURL, prefix)
		if uid, err := s.Deps.MFA.EnrollmentTicketUser(context.Background(), token); err != nil || string(uid) != alice.ID {
			t.Fatalf("ticket user = %v, %v", uid, err)
		}
		expectError(t, s.GraphQL(t, scopedToken(t, s, everyScopeBut("create:guardian_enrollment_tickets")...), create, map[string]any{"u": alice.ID}), "FORBIDDEN", "")
		expectError(t, s.GraphQL(t, admin, create, map[string]any{"u": "auth0|nobody"}), "NOT_FOUND", "")
		// The ticket is not in the log.
		for _, l := range sapiLogs(t, s) {
			if strings.Contains(js(l), token) {
				t.Fatal("the ticket token is logged")
			}
		}
	})
}
