package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pquerna/otp/totp"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/mfa"
)

// The account page in headless Chromium: signing in through the hosted
// login, adding an authenticator app from its QR page (the data: image
// loads under the page's CSP), the recovery codes, and the session list.
// Any CSP violation or console error fails the test (checkClean).
func TestAccountPageInBrowser(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newAccountEnv(t, s)
		c := newChrome(t, s)
		c.run(
			chromedp.Navigate(s.Issuer+"account"),
			chromedp.WaitVisible(chromedp.CSS("#username")),
			chromedp.SendKeys(chromedp.CSS("#username"), e.email),
			chromedp.SendKeys(chromedp.CSS("#password"), e.password+kb.Enter),
		)
		c.waitJS(`!!document.querySelector("#account-user")`)
		if got := c.text("#account-user"); got != e.email {
			t.Fatalf("signed in as %q", got)
		}
		if !strings.Contains(c.text("#sessions"), "(this browser)") {
			t.Fatal("the current session is not marked")
		}
		c.click("#add-totp")
		c.waitJS(`!!document.querySelector("#totp-secret") && document.querySelector(".qr img").complete`)
		if w := c.eval(`String(document.querySelector(".qr img").naturalWidth)`); w == "0" {
			t.Fatal("the QR code did not load")
		}
		c.shot("account-totp")
		code, err := totp.GenerateCode(c.text("#totp-secret"), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c.run(chromedp.SendKeys(chromedp.CSS("#code"), code+kb.Enter))
		c.waitJS(`document.querySelectorAll(".recovery-codes li").length === 10`)
		c.click("a.button")
		c.waitJS(`!!document.querySelector("#factors table")`)
		if txt := c.text("#factors"); !strings.Contains(txt, "Authenticator app") || !strings.Contains(txt, "Recovery codes") {
			t.Fatalf("factors after enrolling: %q", txt)
		}
		c.shot("account")
	})
}

// A security key added from the account page (a virtual authenticator on
// a localhost issuer: WebAuthn needs a domain name), then listed.
func TestAccountPageSecurityKeyInBrowser(t *testing.T) {
	forEachLocalhost(t, func(t *testing.T, s *apitest.Server) {
		e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyNever, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorWebAuthn, mfa.FactorRecoveryCode}})
		c := newChrome(t, s)
		c.addAuthenticator(webauthn.AuthenticatorTransportUsb)
		c.run(
			chromedp.Navigate(s.Issuer+"account"),
			chromedp.WaitVisible(chromedp.CSS("#username")),
			chromedp.SendKeys(chromedp.CSS("#username"), e.email),
			chromedp.SendKeys(chromedp.CSS("#password"), e.password+kb.Enter),
		)
		c.waitJS(`!!document.querySelector("#add-key") && !document.querySelector("#add-key-form").hidden`)
		c.click("#add-key")
		c.waitJS(`!!document.querySelector("#factors table") && document.body.textContent.includes("security key was added")`)
		if txt := c.text("#factors"); !strings.Contains(txt, "Security key or passkey") {
			t.Fatalf("factors after adding a security key: %q", txt)
		}
		as, err := s.Deps.MFA.Authenticators(context.Background(), e.userNode)
		if err != nil || !slices.ContainsFunc(as, func(a mfa.Authenticator) bool { return a.Type == mfa.FactorWebAuthn && a.Confirmed }) {
			t.Fatalf("authenticators: %v %v", as, err)
		}
		c.shot("account-security-key")
	})
}
