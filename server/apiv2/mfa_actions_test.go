package apiv2_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/mfa"
)

// userRef is the node id of the user named by user_id.
func userRef(t *testing.T, s *apitest.Server, userID string) pulid.ID {
	t.Helper()
	u, err := identity.Resolve(authz.SystemContext(context.Background()), s.Deps.DB.Ent, userID)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestRecoveryCodeRegeneration(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		alice := createUser(t, m, "alice-recovery@example.com")
		bob := createUser(t, m, "bob-recovery@example.com")
		before := len(audits(t, s))

		// No enrollment: nothing to regenerate, and nothing is made.
		_, err := m.User.RegenerateRecoveryCode(ctx, alice)
		expectStatus(t, err, http.StatusNotFound, "a user who has not enrolled")
		r := call(t, s, http.MethodPost, "/api/v2/users/"+alice+"/recovery-code-regeneration", s.AdminToken(t), nil)
		r.expectError(t, http.StatusNotFound, "inexistent_enrollment")
		if n, _ := s.Deps.MFA.RecoveryCodesLeft(ctx, userRef(t, s, alice)); n != 0 {
			t.Fatalf("codes made for a user who has not enrolled: %d", n)
		}
		_, err = m.User.RegenerateRecoveryCode(ctx, "auth0|nobody")
		expectStatus(t, err, http.StatusNotFound, "unknown user")
		r = call(t, s, http.MethodPost, "/api/v2/users/auth0|nobody/recovery-code-regeneration", s.AdminToken(t), nil)
		r.expectError(t, http.StatusNotFound, "inexistent_user")

		mfaEnroll(t, s, alice)
		mfaEnroll(t, s, bob)
		ref, bobRef := userRef(t, s, alice), userRef(t, s, bob)
		old, err := s.Deps.MFA.RegenerateRecoveryCodes(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		bobCodes, err := s.Deps.MFA.RegenerateRecoveryCodes(ctx, bobRef)
		if err != nil {
			t.Fatal(err)
		}

		// go-auth0 sends {}; Auth0's shape has the one code.
		rc, err := m.User.RegenerateRecoveryCode(ctx, alice)
		if err != nil || rc.GetRecoveryCode() == "" {
			t.Fatalf("regenerated %+v, %v", rc, err)
		}
		// Without a body too; recovery_codes lists all, recovery_code first.
		r = call(t, s, http.MethodPost, "/api/v2/users/"+alice+"/recovery-code-regeneration", s.AdminToken(t), nil)
		var got struct {
			RecoveryCode  string   `json:"recovery_code"`
			RecoveryCodes []string `json:"recovery_codes"`
		}
		r.decode(t, &got)
		if r.Status != http.StatusOK || len(got.RecoveryCodes) != mfa.RecoveryCodeCount || got.RecoveryCode != got.RecoveryCodes[0] ||
			slices.Contains(got.RecoveryCodes, rc.GetRecoveryCode()) {
			t.Fatalf("regenerated: %d %s", r.Status, r.Body)
		}

		// Only the newest codes work, each once; bob's are untouched.
		for _, c := range []string{old[0], rc.GetRecoveryCode()} {
			if err := s.Deps.MFA.VerifyRecoveryCode(ctx, ref, c, mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
				t.Fatalf("a replaced code: %v", err)
			}
		}
		if err := s.Deps.MFA.VerifyRecoveryCode(ctx, ref, got.RecoveryCode, mfa.LoginContext{}); err != nil {
			t.Fatalf("the new code: %v", err)
		}
		if err := s.Deps.MFA.VerifyRecoveryCode(ctx, ref, got.RecoveryCode, mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("the new code twice: %v", err)
		}
		if err := s.Deps.MFA.VerifyRecoveryCode(ctx, ref, got.RecoveryCodes[1], mfa.LoginContext{}); err != nil {
			t.Fatalf("another new code: %v", err)
		}
		if n, _ := s.Deps.MFA.RecoveryCodesLeft(ctx, ref); n != mfa.RecoveryCodeCount-2 {
			t.Fatalf("codes left %d", n)
		}
		if err := s.Deps.MFA.VerifyRecoveryCode(ctx, bobRef, bobCodes[0], mfa.LoginContext{}); err != nil {
			t.Fatalf("bob's code: %v", err)
		}

		// The factor switched off: 400, nothing changes.
		st, _ := s.Deps.MFA.Settings(ctx)
		st.Factors = slices.DeleteFunc(st.Factors, func(f mfa.Factor) bool { return f == mfa.FactorRecoveryCode })
		if _, err := s.Deps.MFA.UpdateSettings(ctx, st); err != nil {
			t.Fatal(err)
		}
		_, err = m.User.RegenerateRecoveryCode(ctx, alice)
		expectStatus(t, err, http.StatusBadRequest, "recovery codes disabled")

		_, err = scopedSDK(t, s, everyScopeBut("update:users")...).User.RegenerateRecoveryCode(ctx, alice)
		expectStatus(t, err, http.StatusForbidden, "without update:users")
		if got := audits(t, s)[before:]; !slices.Equal(got, []string{"regenerateRecoveryCode", "regenerateRecoveryCode"}) {
			t.Fatalf("audits %v", got)
		}
	})
}

func TestInvalidateRememberBrowser(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		st, err := s.Deps.MFA.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st.RememberBrowserDays = 30
		if _, err := s.Deps.MFA.UpdateSettings(ctx, st); err != nil {
			t.Fatal(err)
		}
		alice := createUser(t, m, "alice-remember@example.com")
		bob := createUser(t, m, "bob-remember@example.com")
		mfaEnroll(t, s, alice)
		mfaEnroll(t, s, bob)
		ref, bobRef := userRef(t, s, alice), userRef(t, s, bob)
		remember := func(id pulid.ID) string {
			t.Helper()
			v, err := s.Deps.MFA.RememberBrowser(ctx, id, 30)
			if err != nil || !s.Deps.MFA.Remembered(ctx, id, v) {
				t.Fatalf("remembering: %q, %v", v, err)
			}
			return v
		}
		laptop, phone, bobs := remember(ref), remember(ref), remember(bobRef)
		before := len(audits(t, s))

		expectStatus(t, scopedSDK(t, s, everyScopeBut("update:users")...).User.InvalidateRememberBrowser(ctx, alice),
			http.StatusForbidden, "without update:users")
		if !s.Deps.MFA.Remembered(ctx, ref, laptop) {
			t.Fatal("a refused request forgot the browser")
		}
		if err := m.User.InvalidateRememberBrowser(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if s.Deps.MFA.Remembered(ctx, ref, laptop) || s.Deps.MFA.Remembered(ctx, ref, phone) {
			t.Fatal("a browser remembered before is still remembered")
		}
		if !s.Deps.MFA.Remembered(ctx, bobRef, bobs) {
			t.Fatal("another user's browser was forgotten")
		}
		// A browser remembered afterwards is; the factors stay.
		remember(ref)
		if ok, err := s.Deps.MFA.Enrolled(ctx, ref); err != nil || !ok {
			t.Fatalf("enrolled %v, %v", ok, err)
		}

		r := call(t, s, http.MethodPost, "/api/v2/users/"+alice+"/multifactor/actions/invalidate-remember-browser", s.AdminToken(t), nil)
		if r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("invalidate: %d %q", r.Status, r.Body)
		}
		expectStatus(t, m.User.InvalidateRememberBrowser(ctx, "auth0|nobody"), http.StatusNotFound, "unknown user")
		r = call(t, s, http.MethodPost, "/api/v2/users/auth0|nobody/multifactor/actions/invalidate-remember-browser", s.AdminToken(t), nil)
		r.expectError(t, http.StatusNotFound, "inexistent_user")
		if got := audits(t, s)[before:]; !slices.Equal(got, []string{"invalidateRememberBrowser", "invalidateRememberBrowser"}) {
			t.Fatalf("audits %v", got)
		}
	})
}
