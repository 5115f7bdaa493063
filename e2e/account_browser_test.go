package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pquerna/otp/totp"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// The account page in headless Chromium: signing in through the hosted
// login, adding an authenticator app from its QR page (the data: image
// loads under the page's CSP), the recovery codes, and the session list.
// Any CSP violation or console error fails the test (checkClean).
func TestAccountPageInBrowser(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
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
}
