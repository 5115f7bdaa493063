package e2e

// Security keys and passkeys in headless Chromium with a virtual
// authenticator (DevTools WebAuthn domain). WebAuthn needs a domain name
// as relying party id, so these servers' issuer is http://localhost:PORT/.

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/passkeys"
	"github.com/authgraph/authgraph/server"
)

// startLocalhost runs a server on the database dsn whose issuer is
// http://localhost:PORT/.
func startLocalhost(t *testing.T, dsn string) *apitest.Server {
	s := apitest.StartWith(t, dsn, func(c *server.Config) {
		_, port, _ := net.SplitHostPort(c.Listen)
		c.Issuer = "http://localhost:" + port + "/"
	})
	s.URL = strings.TrimSuffix(s.Issuer, "/")
	if s.Deps.Passkeys == nil {
		t.Fatal("passkeys not available with a localhost issuer")
	}
	return s
}

// forEachLocalhost runs fn, as a subtest per database backend (SQLite,
// Postgres), against a server whose issuer is http://localhost:PORT/.
func forEachLocalhost(t *testing.T, fn func(t *testing.T, s *apitest.Server)) {
	for _, b := range apitest.Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, startLocalhost(t, b.DSN(t))) })
	}
}

// addAuthenticator attaches a virtual authenticator to the browser.
func (c *chrome) addAuthenticator(transport webauthn.AuthenticatorTransport) webauthn.AuthenticatorID {
	c.t.Helper()
	_, err := chromedp.Call(c.ctx, webauthn.Enable, webauthn.EnableParams{})
	c.check(err)
	res, err := chromedp.Call(c.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport: transport, HasResidentKey: true, HasUserVerification: true, IsUserVerified: true,
			AutomaticPresenceSimulation: true,
		},
	})
	c.check(err)
	return res.AuthenticatorID
}

// callback waits for the browser to reach the client's redirect URI (which
// the test's network refuses) and returns that URL.
func (c *chrome) callback() *url.URL {
	c.t.Helper()
	deadline := time.Now().Add(browserStepTimeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		i := slices.IndexFunc(c.blocked, func(u string) bool { return strings.HasPrefix(u, redirectURI) })
		var got string
		if i >= 0 {
			got = c.blocked[i]
			c.blocked = slices.Delete(c.blocked, i, i+1)
		}
		c.mu.Unlock()
		if got != "" {
			u, err := url.Parse(got)
			if err != nil {
				c.t.Fatal(err)
			}
			return u
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.check(context.DeadlineExceeded)
	return nil
}

// passwordLogin starts an authorization request and logs in with the
// password.
func (c *chrome) passwordLogin(e *mfaEnv, verifier string, opts ...oauth2.AuthCodeOption) {
	c.t.Helper()
	c.run(
		chromedp.Navigate(e.relying.conf.AuthCodeURL("st", append(opts, oauth2.S256ChallengeOption(verifier))...)),
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#username"), e.email),
		chromedp.SendKeys(chromedp.CSS("#password"), e.password+kb.Enter),
	)
}

// idTokenAMR exchanges the code of a callback and returns the ID token's
// amr (verified with go-oidc).
func (e *mfaEnv) idTokenAMR(cb *url.URL, verifier string) []string {
	e.t.Helper()
	code := cb.Query().Get("code")
	if code == "" {
		e.t.Fatalf("no code at the redirect URI: %s", cb)
	}
	tok, err := e.relying.conf.Exchange(e.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return amrOf(e.idClaims(tok))
}

func (e *mfaEnv) keyRow() (signCount int64, n int) {
	e.t.Helper()
	rows, err := e.s.Deps.DB.Ent.Authenticator.Query().Where(authenticator.UserRef(e.userNode),
		authenticator.TypeEQ(authenticator.TypeWebauthn)).All(authz.SystemContext(context.Background()))
	if err != nil || len(rows) == 0 {
		e.t.Fatalf("webauthn authenticators: %d, %v", len(rows), err)
	}
	return rows[0].SignCount, len(rows)
}

// With policy ALWAYS and WEBAUTHN enabled, a user enrolls a security key
// at the first login, passes the next login's challenge with it, and a
// credential whose sign count goes back (a clone) is refused.
func TestSecurityKeyInBrowser(t *testing.T) {
	forEachLocalhost(t, func(t *testing.T, s *apitest.Server) {
		e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyAlways,
			Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorWebAuthn, mfa.FactorRecoveryCode}})
		c := newChrome(t, s)
		c.addAuthenticator(webauthn.AuthenticatorTransportUsb)

		// First login: the enrollment page offers a security key beside the
		// authenticator app.
		verifier := oauth2.GenerateVerifier()
		c.passwordLogin(e, verifier)
		c.waitJS(`!!document.querySelector("#enroll-key-form") && !document.querySelector("#enroll-key-form").hidden`)
		if main := c.text("main"); !strings.Contains(main, "Set up authenticator app") || strings.Contains(main, "Scan this QR code") {
			t.Fatal("the authenticator app is not offered (by a button, no key yet) beside the security key")
		}
		c.run(chromedp.Click(chromedp.CSS("#enroll-key-button")))
		c.waitJS(`document.body.innerText.includes("Save your recovery codes")`)
		c.run(chromedp.Click(chromedp.CSS("a.button")))
		amr := e.idTokenAMR(c.callback(), verifier)
		if !slices.Contains(amr, "pwd") || !slices.Contains(amr, "hwk") || !slices.Contains(amr, "mfa") {
			t.Fatalf("amr after enrolling a security key: %v", amr)
		}
		count, n := e.keyRow()
		if n != 1 {
			t.Fatalf("%d webauthn authenticators", n)
		}

		// Next login: the challenge, answered with the key.
		verifier = oauth2.GenerateVerifier()
		c.passwordLogin(e, verifier, oauth2.SetAuthURLParam("prompt", "login"))
		c.waitJS(`!!document.querySelector("#security-key-form") && !document.querySelector("#security-key-form").hidden`)
		if strings.Contains(c.text("main"), "Scan this QR code") {
			t.Fatal("enrollment again instead of the challenge")
		}
		c.run(chromedp.Click(chromedp.CSS("#security-key-button")))
		amr = e.idTokenAMR(c.callback(), verifier)
		if !slices.Equal(amr, []string{"pwd", "hwk", "mfa"}) {
			t.Fatalf("amr after the security key: %v", amr)
		}
		if got, _ := e.keyRow(); got <= count {
			t.Fatalf("sign count %d after a use, was %d", got, count)
		}

		// A clone: the stored count is ahead of the authenticator's.
		ctx := authz.SystemContext(context.Background())
		if _, err := s.Deps.DB.Ent.Authenticator.Update().Where(authenticator.UserRef(e.userNode)).
			SetSignCount(1000).Save(ctx); err != nil {
			t.Fatal(err)
		}
		verifier = oauth2.GenerateVerifier()
		c.passwordLogin(e, verifier, oauth2.SetAuthURLParam("prompt", "login"))
		c.waitJS(`!!document.querySelector("#security-key-form") && !document.querySelector("#security-key-form").hidden`)
		c.run(chromedp.Click(chromedp.CSS("#security-key-button")))
		c.waitJS(`document.body.innerText.includes("This security key was refused")`)
		if got, _ := e.keyRow(); got != 1000 {
			t.Fatalf("a refused clone changed the count to %d", got)
		}
		if n, _ := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type(passkeys.TypeCloneDetected)).Count(ctx); n != 1 {
			t.Fatalf("%d %s events", n, passkeys.TypeCloneDetected)
		}
		c.mu.Lock()
		reached := slices.ContainsFunc(c.blocked, func(u string) bool { return strings.HasPrefix(u, redirectURI) })
		c.mu.Unlock()
		if reached {
			t.Fatal("the login completed with a cloned credential")
		}
	})
}

// A user creates a passkey at enrollment, then signs in with it alone: no
// password, and the passkey (with user verification) satisfies the
// policy's second factor.
func TestPasskeyInBrowser(t *testing.T) {
	forEachLocalhost(t, func(t *testing.T, s *apitest.Server) {
		e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyAlways,
			Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorWebAuthn, mfa.FactorRecoveryCode}})
		c := newChrome(t, s)
		c.addAuthenticator(webauthn.AuthenticatorTransportInternal)

		verifier := oauth2.GenerateVerifier()
		c.passwordLogin(e, verifier)
		c.waitJS(`!!document.querySelector("#enroll-passkey-form") && !document.querySelector("#enroll-passkey-form").hidden`)
		c.run(chromedp.Click(chromedp.CSS("#enroll-passkey-button")))
		c.waitJS(`document.body.innerText.includes("Save your recovery codes")`)
		c.run(chromedp.Click(chromedp.CSS("a.button")))
		if amr := e.idTokenAMR(c.callback(), verifier); !slices.Contains(amr, "mfa") {
			t.Fatalf("amr after creating a passkey: %v", amr)
		}

		// Sign in with the passkey: nothing typed.
		verifier = oauth2.GenerateVerifier()
		c.run(chromedp.Navigate(e.relying.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "login"))))
		c.waitJS(`!!document.querySelector("#passkey-form") && !document.querySelector("#passkey-form").hidden`)
		if got := c.eval(`document.querySelector("#username").getAttribute("autocomplete")`); got != "username webauthn" {
			t.Fatalf("username autocomplete %q", got)
		}
		// The browser's autofill may already have offered the passkey
		// (conditional mediation); otherwise the button.
		_, _ = chromedp.Run(c.ctx, chromedp.Evaluate[chromedp.Void](`(() => { const b = document.querySelector("#passkey-button"); if (b) b.click(); })()`))
		amr := e.idTokenAMR(c.callback(), verifier)
		if !slices.Equal(amr, []string{"hwk", "user", "mfa"}) {
			t.Fatalf("amr after a passkey: %v", amr)
		}
		// The browser's autofill and the button may each have completed a
		// sign-in of its own (two ceremonies, two logins): one event per
		// login, at least this one.
		if n, _ := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("s"), logevent.Description("Successful login with a passkey")).
			Count(authz.SystemContext(context.Background())); n < 1 || n > 2 {
			t.Fatalf("%d passkey login events", n)
		}
	})
}
