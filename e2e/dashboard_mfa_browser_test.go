package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/mfa"
)

// An administrator sees a user's second factors on the user's page,
// removes one, resets the user's MFA and creates an enrollment link.
func TestDashboardMFAInBrowser(t *testing.T) {
	f := setupDashboard(t)
	s := f.s
	ctx := context.Background()
	en, err := s.Deps.MFA.StartTOTP(ctx, pulid.ID(f.carolID), "carol@example.com")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(en.Secret, time.Now())
	if _, err := s.Deps.MFA.ConfirmTOTP(ctx, pulid.ID(f.carolID), en.AuthenticatorID, code, mfa.LoginContext{}); err != nil {
		t.Fatal(err)
	}

	c := newChrome(t, s)
	c.signIn(s, "ada@example.com", "Analytical-Engine-1843")
	c.waitJS(`!!document.querySelector("#result-count")`)
	c.run(chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`))
	c.run(chromedp.Navigate(s.Issuer + "dashboard/#/users/" + f.carolID))
	c.waitJS(`document.querySelectorAll("#user-mfa tbody tr").length === 2`)
	if got := c.text("#user-mfa tbody"); !strings.Contains(got, "Authenticator app") || !strings.Contains(got, "Recovery codes") {
		t.Fatalf("authenticators: %q", got)
	}
	c.shot("user-mfa")

	// Remove the recovery codes.
	c.click(`#user-mfa tbody tr:nth-child(2) button`)
	c.waitJS(`document.querySelectorAll("#user-mfa tbody tr").length === 1`)
	if as, _ := s.Deps.MFA.Authenticators(ctx, pulid.ID(f.carolID)); len(as) != 1 || as[0].Type != mfa.FactorTOTP {
		t.Fatalf("after remove: %+v", as)
	}

	// Reset.
	c.click(`#mfa-reset`)
	c.waitJS(`document.querySelector("#user-mfa").textContent.includes("No second factor enrolled")`)
	if as, _ := s.Deps.MFA.Authenticators(ctx, pulid.ID(f.carolID)); len(as) != 0 {
		t.Fatalf("after reset: %+v", as)
	}

	// An enrollment link (for a user who has no factor).
	c.click(`#mfa-ticket`)
	c.waitJS(`!!document.querySelector("#user-mfa input[name=mfa-link]")`)
	link := c.eval(`document.querySelector("#user-mfa input[name=mfa-link]").value`)
	token, ok := strings.CutPrefix(link, s.Issuer+"login/mfa/enroll?ticket=")
	if !ok {
		t.Fatalf("link %q", link)
	}
	if uid, err := s.Deps.MFA.EnrollmentTicketUser(ctx, token); err != nil || string(uid) != f.carolID {
		t.Fatalf("ticket user %v, %v", uid, err)
	}
}
