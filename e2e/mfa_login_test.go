package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/server"
)

const multiFactor = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"

var (
	secretRE       = regexp.MustCompile(`id="totp-secret"[^>]*>([A-Z2-7=]+)<`)
	qrRE           = regexp.MustCompile(`<img src="data:image/png;base64,[A-Za-z0-9+/=]+"`)
	recoveryCodeRE = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)
	continueRE     = regexp.MustCompile(`<a class="button" href="([^"]+)">Continue</a>`)
)

// submit posts the page's form (they share action, req and CSRF token)
// with fields.
func (b *browser) submit(p page, fields url.Values) page {
	b.t.Helper()
	csrf, act := csrfRE.FindStringSubmatch(p.body), actionRE.FindStringSubmatch(p.body)
	if csrf == nil || act == nil {
		b.t.Fatalf("no form on the page (status %d, %s): %.600s", p.status, p.url, p.body)
	}
	action, _ := p.url.Parse(html.UnescapeString(act[1]))
	form := url.Values{"csrf_token": {html.UnescapeString(csrf[1])}}
	if req := reqRE.FindStringSubmatch(p.body); req != nil {
		form.Set("req", html.UnescapeString(req[1]))
	}
	for _, name := range []string{"authenticator_id", "secret", "qr", "ticket", "method"} {
		if m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(p.body); m != nil {
			form.Set(name, html.UnescapeString(m[1]))
		}
	}
	for k, v := range fields {
		form[k] = v
	}
	r, _ := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

// mfaEnv is one server with a client and a user.
type mfaEnv struct {
	t        *testing.T
	s        *apitest.Server
	ctx      context.Context
	relying  *rp
	userID   string // user_id (sub)
	userNode pulid.ID
	email    string
	password string
}

func newMFAEnv(t *testing.T, s *apitest.Server, settings mfa.Settings) *mfaEnv {
	t.Helper()
	e := &mfaEnv{t: t, s: s, ctx: oidc.ClientContext(context.Background(), s.HTTP), email: "ada@example.com", password: "Analytical-Engine-1843"}
	e.userNode, e.userID = e.createUser(e.email)
	if _, err := s.Deps.MFA.UpdateSettings(context.Background(), settings); err != nil {
		t.Fatal(err)
	}
	id, secret := registerClient(t, s, "--name", "Notebook", "--type", "regular_web", "--redirect-uri", redirectURI)
	e.relying = newRP(t, s, id, secret, oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess)
	return e
}

func (e *mfaEnv) createUser(email string) (pulid.ID, string) {
	var created struct{ CreateUser struct{ ID, UserID string } }
	e.s.MustGraphQL(e.t, e.s.AdminToken(e.t), `mutation($email: String!, $pw: String!) { createUser(input: {connection: "Username-Password-Authentication",
		email: $email, password: $pw}) { id userId } }`, map[string]any{"email": email, "pw": e.password}, &created)
	return pulid.ID(created.CreateUser.ID), created.CreateUser.UserID
}

// authorize starts an authorization request in b.
func (e *mfaEnv) authorize(b *browser, verifier string, opts ...oauth2.AuthCodeOption) page {
	e.t.Helper()
	return b.get(e.relying.conf.AuthCodeURL("st", append(opts, oauth2.S256ChallengeOption(verifier))...))
}

// tokens exchanges the code at p's redirect and verifies the ID token.
func (e *mfaEnv) tokens(p page, verifier string) (*oauth2.Token, map[string]any) {
	e.t.Helper()
	if p.location == nil || p.location.Query().Get("code") == "" {
		e.t.Fatalf("no code at the redirect URI: %d %s %v %.600s", p.status, p.url, p.location, p.body)
	}
	tok, err := e.relying.conf.Exchange(e.ctx, p.location.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok, e.idClaims(tok)
}

func (e *mfaEnv) idClaims(tok *oauth2.Token) map[string]any {
	e.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.relying.verifier.Verify(e.ctx, raw)
	if err != nil {
		e.t.Fatalf("ID token: %v", err)
	}
	var claims map[string]any
	_ = idt.Claims(&claims)
	return claims
}

func amrOf(claims map[string]any) []string {
	var out []string
	raw, _ := json.Marshal(claims["amr"])
	_ = json.Unmarshal(raw, &out)
	return out
}

func assertMFAClaims(t *testing.T, claims map[string]any) {
	t.Helper()
	amr := amrOf(claims)
	if !slices.Contains(amr, "pwd") || !slices.Contains(amr, "otp") || !slices.Contains(amr, "mfa") || claims["acr"] != multiFactor {
		t.Fatalf("ID token after a second factor: amr %v acr %v", claims["amr"], claims["acr"])
	}
}

func isChallenge(p page) bool {
	return p.status == http.StatusOK && strings.HasSuffix(p.url.Path, "/login/mfa") && strings.Contains(p.body, `name="code"`) &&
		!strings.Contains(p.body, `id="totp-secret"`)
}

// startTOTP presses "Set up authenticator app" on the offer page p (a GET
// shows no key and stores nothing) and returns the page with the key.
func startTOTP(t *testing.T, b *browser, p page) page {
	t.Helper()
	if p.status != http.StatusOK || secretRE.MatchString(p.body) || !strings.Contains(p.body, `value="start_totp"`) {
		t.Fatalf("expected the offer to set up an authenticator app (no key yet), got %d %s %.800s", p.status, p.url, p.body)
	}
	return b.submit(p, url.Values{"action": {"start_totp"}})
}

// enroll completes the TOTP enrollment from the offer page p: a wrong first
// code shows the same key again, the right one the recovery codes, Continue
// the code.
func (e *mfaEnv) enroll(b *browser, p page) (secret string, recovery []string, done page) {
	e.t.Helper()
	p = startTOTP(e.t, b, p)
	m := secretRE.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil || !qrRE.MatchString(html.UnescapeString(p.body)) {
		e.t.Fatalf("expected the TOTP enrollment page with key and QR code, got %d %s %.800s", p.status, p.url, p.body)
	}
	secret = m[1]
	bad := b.submit(p, url.Values{"action": {"enroll"}, "code": {"000000"}})
	if again := secretRE.FindStringSubmatch(bad.body); bad.status != http.StatusUnauthorized || again == nil || again[1] != secret || errorText(bad.body) == "" {
		e.t.Fatalf("a wrong first code: %d %.600s", bad.status, bad.body)
	}
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	shown := b.submit(bad, url.Values{"action": {"enroll"}, "code": {code}})
	for _, c := range recoveryCodeRE.FindAllStringSubmatch(shown.body, -1) {
		recovery = append(recovery, html.UnescapeString(c[1]))
	}
	cont := continueRE.FindStringSubmatch(shown.body)
	if shown.status != http.StatusOK || len(recovery) == 0 || cont == nil {
		e.t.Fatalf("expected the recovery codes once enrolled: %d %.800s", shown.status, shown.body)
	}
	next, _ := shown.url.Parse(html.UnescapeString(cont[1]))
	return secret, recovery, b.get(next.String())
}

// An ALWAYS policy enrolls the user at the first login and challenges every
// later login; codes are single use, recovery codes too, and an SSO session
// that passed a factor is not challenged again.
func TestMFAAlwaysEnrollsThenChallenges(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorRecoveryCode}})
		verifier := oauth2.GenerateVerifier()

		// First login: password, then enrollment.
		b := newBrowser(t)
		enrollPage := b.login(e.authorize(b, verifier), e.email, e.password)
		if !strings.HasSuffix(enrollPage.url.Path, "/login/mfa") {
			t.Fatalf("a password alone got past an ALWAYS policy: %d %s %v", enrollPage.status, enrollPage.url, enrollPage.location)
		}
		// Another browser cannot answer for this login.
		intruder := newBrowser(t)
		if p := intruder.get(enrollPage.url.String()); p.status != http.StatusBadRequest {
			t.Fatalf("another browser opened the second-factor page: %d", p.status)
		}
		secret, recovery, done := e.enroll(b, enrollPage)
		tok, claims := e.tokens(done, verifier)
		assertMFAClaims(t, claims)
		if claims["sub"] != e.userID {
			t.Fatalf("sub %v", claims["sub"])
		}

		// The refresh token grant keeps the login's amr.
		refreshed, err := e.relying.conf.TokenSource(e.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		assertMFAClaims(t, e.idClaims(refreshed))

		// The SSO session passed the factor: no new challenge, not even
		// for prompt=none or acr_values.
		for _, opts := range [][]oauth2.AuthCodeOption{nil,
			{oauth2.SetAuthURLParam("prompt", "none")},
			{oauth2.SetAuthURLParam("acr_values", multiFactor)}} {
			_, claims := e.tokens(e.authorize(b, verifier, opts...), verifier)
			assertMFAClaims(t, claims)
		}

		// Another browser logs in: challenged (not enrolled again).
		b2 := newBrowser(t)
		ch := b2.login(e.authorize(b2, verifier), e.email, e.password)
		if !isChallenge(ch) || !strings.Contains(ch.body, `name="recovery_code"`) || strings.Contains(ch.body, "remember_browser") {
			t.Fatalf("expected the challenge (recovery codes offered, no remember option): %d %s %.800s", ch.status, ch.url, ch.body)
		}
		// Silent SSO with this session (no factor yet) must not skip it.
		silent := b2.get(e.relying.conf.AuthCodeURL("silent", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none")))
		if silent.location == nil || silent.location.Query().Get("error") != "interaction_required" {
			t.Fatalf("prompt=none without the factor: %d %v", silent.status, silent.location)
		}
		// A non-silent SSO attempt is sent to the challenge too.
		if p := e.authorize(b2, verifier); !isChallenge(p) {
			t.Fatalf("SSO skipped the factor: %d %s %v", p.status, p.url, p.location)
		}
		next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		wrong := b2.submit(ch, url.Values{"code": {"123456"}})
		if wrong.status != http.StatusUnauthorized || errorText(wrong.body) == "" || !isChallengeBody(wrong.body) {
			t.Fatalf("wrong code: %d %.600s", wrong.status, wrong.body)
		}
		_, claims = e.tokens(b2.submit(wrong, url.Values{"code": {next}}), verifier)
		assertMFAClaims(t, claims)

		// The same code again, in a third browser: refused.
		b3 := newBrowser(t)
		ch3 := b3.login(e.authorize(b3, verifier), e.email, e.password)
		replay := b3.submit(ch3, url.Values{"code": {next}})
		if replay.status != http.StatusUnauthorized || replay.location != nil {
			t.Fatalf("a replayed code was accepted: %d %v", replay.status, replay.location)
		}
		// A recovery code works, once.
		_, claims = e.tokens(b3.submit(replay, url.Values{"recovery_code": {recovery[0]}}), verifier)
		assertMFAClaims(t, claims)
		b4 := newBrowser(t)
		ch4 := b4.login(e.authorize(b4, verifier), e.email, e.password)
		if again := b4.submit(ch4, url.Values{"recovery_code": {recovery[0]}}); again.status != http.StatusUnauthorized || again.location != nil {
			t.Fatalf("a used recovery code was accepted again: %d %v", again.status, again.location)
		}
	})
}

func isChallengeBody(body string) bool {
	return strings.Contains(body, `name="code"`) && !strings.Contains(body, `id="totp-secret"`)
}

// Five wrong codes lock the step: even the right code is refused, with the
// time the lock ends.
func TestMFALockoutAfterWrongCodes(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorRecoveryCode}})
		verifier := oauth2.GenerateVerifier()
		b := newBrowser(t)
		secret, _, done := e.enroll(b, b.login(e.authorize(b, verifier), e.email, e.password))
		e.tokens(done, verifier)

		b2 := newBrowser(t)
		p := b2.login(e.authorize(b2, verifier), e.email, e.password)
		if !isChallenge(p) {
			t.Fatalf("expected the challenge: %d %s", p.status, p.url)
		}
		for i := range 5 {
			p = b2.submit(p, url.Values{"code": {"00000" + string(rune('0'+i))}})
			if p.status != http.StatusUnauthorized && !(i == 4 && p.status == http.StatusTooManyRequests) {
				t.Fatalf("wrong code %d: %d %.400s", i+1, p.status, p.body)
			}
		}
		right, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
		locked := b2.submit(p, url.Values{"code": {right}})
		if locked.status != http.StatusTooManyRequests || locked.location != nil || !strings.Contains(errorText(locked.body), "try again after") {
			t.Fatalf("after five wrong codes: %d %v %q", locked.status, locked.location, errorText(locked.body))
		}
	})
}

// OPT_IN challenges only enrolled users; acr_values asks anyone, SSO
// session or not, and a remembered browser does not answer it.
func TestMFAOptInAndACRValues(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyOptIn, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorRecoveryCode}, RememberBrowserDays: 30})
		verifier := oauth2.GenerateVerifier()
		b := newBrowser(t)
		_, claims := e.tokens(b.login(e.authorize(b, verifier), e.email, e.password), verifier)
		if amr := amrOf(claims); !slices.Equal(amr, []string{"pwd"}) || claims["acr"] != nil {
			t.Fatalf("OPT_IN challenged a user without a factor? amr %v acr %v", claims["amr"], claims["acr"])
		}
		// prompt=none asking for a factor the session has not passed.
		silent := e.authorize(b, verifier, oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("acr_values", multiFactor))
		if silent.location == nil || silent.location.Query().Get("error") != "interaction_required" {
			t.Fatalf("prompt=none with acr_values: %d %v", silent.status, silent.location)
		}
		// acr_values on the SSO session: enrollment (no factor yet).
		secret, recovery, done := e.enroll(b, e.authorize(b, verifier, oauth2.SetAuthURLParam("acr_values", multiFactor)))
		_, claims = e.tokens(done, verifier)
		assertMFAClaims(t, claims)

		// Now enrolled: OPT_IN challenges; remember this browser.
		b2 := newBrowser(t)
		ch := b2.login(e.authorize(b2, verifier), e.email, e.password)
		if !isChallenge(ch) || !strings.Contains(ch.body, "Remember this browser for 30 days") {
			t.Fatalf("OPT_IN did not challenge an enrolled user: %d %s %.600s", ch.status, ch.url, ch.body)
		}
		code, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
		e.tokens(b2.submit(ch, url.Values{"code": {code}, "remember_browser": {"1"}}), verifier)
		// A new login in the remembered browser skips the factor…
		_, claims = e.tokens(b2.login(e.authorize(b2, verifier, oauth2.SetAuthURLParam("prompt", "login")), e.email, e.password), verifier)
		if amr := amrOf(claims); slices.Contains(amr, "mfa") || claims["acr"] != nil {
			t.Fatalf("a remembered browser's login claims a factor it did not pass: %v %v", claims["amr"], claims["acr"])
		}
		// …but not when the request asks for one.
		if p := e.authorize(b2, verifier, oauth2.SetAuthURLParam("acr_values", multiFactor)); !isChallenge(p) {
			t.Fatalf("acr_values was answered by a remembered browser: %d %s %v", p.status, p.url, p.location)
		}
		relogin := func(what string, b *browser, password string) page {
			t.Helper()
			p := b.login(e.authorize(b, verifier, oauth2.SetAuthURLParam("prompt", "login")), e.email, password)
			if !isChallenge(p) {
				t.Fatalf("%s: the remembered browser skipped the factor: %d %s %v", what, p.status, p.url, p.location)
			}
			return p
		}
		// The administrator switches the option off: the cookie stops
		// working at once; back on, it works again (still in its period).
		set := func(days int) {
			if _, err := s.Deps.MFA.UpdateSettings(context.Background(), mfa.Settings{Policy: mfa.PolicyOptIn,
				Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorRecoveryCode}, RememberBrowserDays: days}); err != nil {
				t.Fatal(err)
			}
		}
		set(0)
		relogin("option switched off", b2, e.password)
		set(30)
		if _, claims := e.tokens(b2.login(e.authorize(b2, verifier, oauth2.SetAuthURLParam("prompt", "login")), e.email, e.password), verifier); slices.Contains(amrOf(claims), "mfa") {
			t.Fatalf("amr %v", claims["amr"])
		}
		// A password change forgets remembered browsers.
		s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!) { updateUser(id: $id, input: {password: "Difference-Engine-1822"}) { id } }`,
			map[string]any{"id": string(e.userNode)}, nil)
		ch = relogin("password changed", b2, "Difference-Engine-1822")
		_, claims = e.tokens(b2.submit(ch, url.Values{"recovery_code": {recovery[0]}}), verifier)
		assertMFAClaims(t, claims)

		// An administrator's reset ends the sessions that passed a factor:
		// b2's SSO session no longer answers, the user logs in again.
		if _, claims := e.tokens(e.authorize(b2, verifier, oauth2.SetAuthURLParam("acr_values", multiFactor)), verifier); !slices.Contains(amrOf(claims), "mfa") {
			t.Fatalf("SSO before the reset: %v", claims["amr"])
		}
		s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!) { resetMfa(userId: $id) }`, map[string]any{"id": string(e.userNode)}, nil)
		if p := e.authorize(b2, verifier, oauth2.SetAuthURLParam("acr_values", multiFactor)); p.location != nil || !strings.Contains(p.body, `name="password"`) {
			t.Fatalf("the SSO session outlived an MFA reset: %d %s %v", p.status, p.url, p.location)
		}
	})
}

// An administrator's enrollment ticket enrolls without a login, once.
func TestMFAEnrollmentTicket(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyOptIn, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorRecoveryCode}})
		token, _, err := s.Deps.MFA.CreateEnrollmentTicket(context.Background(), e.userNode, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t)
		link := s.Issuer + "login/mfa/enroll?ticket=" + url.QueryEscape(token)
		// Opening the link (twice) changes nothing; the button makes the
		// key. The page allows its own data: image, nothing more, and sends
		// no Referer (the ticket is in its URL).
		b.get(link)
		offer := b.get(link)
		if as, _ := s.Deps.MFA.Authenticators(context.Background(), e.userNode); len(as) != 0 {
			t.Fatalf("a GET of the ticket page stored an authenticator: %+v", as)
		}
		if csp := offer.header.Get("Content-Security-Policy"); offer.status != http.StatusOK ||
			csp != "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'" ||
			offer.header.Get("X-Frame-Options") != "DENY" || offer.header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("enrollment page headers: %d %v", offer.status, offer.header)
		}
		p := startTOTP(t, b, offer)
		m := secretRE.FindStringSubmatch(p.body)
		if p.status != http.StatusOK || m == nil || !qrRE.MatchString(html.UnescapeString(p.body)) {
			t.Fatalf("ticket page: %d %.600s", p.status, p.body)
		}
		code, _ := totp.GenerateCode(m[1], time.Now())
		done := b.submit(p, url.Values{"code": {code}})
		if done.status != http.StatusOK || len(recoveryCodeRE.FindAllString(done.body, -1)) == 0 {
			t.Fatalf("ticket enrollment: %d %.600s", done.status, done.body)
		}
		if again := b.get(link); again.status != http.StatusBadRequest {
			t.Fatalf("a used ticket opened the page again: %d", again.status)
		}
		// An enrolled user gets no ticket (Auth0's tickets are for users
		// who have not enrolled): typed BAD_USER_INPUT.
		if _, _, err := s.Deps.MFA.CreateEnrollmentTicket(context.Background(), e.userNode, time.Hour); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
			t.Fatalf("a ticket for an enrolled user: %v", err)
		}
		resp := s.GraphQL(t, s.AdminToken(t), `mutation($id: ID!) { createMfaEnrollmentTicket(userId: $id) { ticketUrl } }`,
			map[string]any{"id": string(e.userNode)})
		if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
			t.Fatalf("createMfaEnrollmentTicket for an enrolled user: %+v", resp.Errors)
		}
		// The user is now challenged at login.
		verifier := oauth2.GenerateVerifier()
		b2 := newBrowser(t)
		if ch := b2.login(e.authorize(b2, verifier), e.email, e.password); !isChallenge(ch) {
			t.Fatalf("an enrolled user was not challenged: %d %s", ch.status, ch.url)
		}
	})
}

// A rule's require_mfa asks for a factor (enrolling a user who has none)
// even under the NEVER policy; nothing the rule did is kept before the
// factor, and the rules see it once passed.
func TestMFARequiredByRule(t *testing.T) {
	module := wasm(t, "go-requiremfa")
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyNever, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorRecoveryCode}, RememberBrowserDays: 30})
		addRule(t, s, "require-mfa", module)
		s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!) { updateUser(id: $id, input: {appMetadata: {role: "admin"}}) { id } }`,
			map[string]any{"id": string(e.userNode)}, nil)
		verifier := oauth2.GenerateVerifier()

		b := newBrowser(t)
		enrollPage := b.login(e.authorize(b, verifier), e.email, e.password)
		if !strings.HasSuffix(enrollPage.url.Path, "/login/mfa") {
			t.Fatalf("require_mfa did not ask for a factor: %d %s %v", enrollPage.status, enrollPage.url, enrollPage.location)
		}
		if runs := appMetadata(t, s, string(e.userNode))["mfa_rule_runs"]; runs != nil {
			t.Fatalf("the rule's metadata was stored before the factor: %v", runs)
		}
		secret, _, done := e.enroll(b, enrollPage)
		_, claims := e.tokens(done, verifier)
		assertMFAClaims(t, claims)
		methods, _ := claims["https://example.com/methods"].([]any)
		if !slices.Contains(methods, any("mfa")) {
			t.Fatalf("the rule did not see the factor: %v", claims["https://example.com/methods"])
		}
		if runs := appMetadata(t, s, string(e.userNode))["mfa_rule_runs"]; runs != float64(1) {
			t.Fatalf("mfa_rule_runs after the factor: %v", runs)
		}

		// A remembered browser does not answer a rule's require_mfa.
		b3 := newBrowser(t)
		ch := b3.login(e.authorize(b3, verifier), e.email, e.password)
		code, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
		e.tokens(b3.submit(ch, url.Values{"code": {code}, "remember_browser": {"1"}}), verifier)
		if p := b3.login(e.authorize(b3, verifier, oauth2.SetAuthURLParam("prompt", "login")), e.email, e.password); !isChallenge(p) {
			t.Fatalf("a remembered browser answered a rule's require_mfa: %d %s %v", p.status, p.url, p.location)
		}

		// A user the rule does not ask: no challenge.
		e.createUser("grace@example.com")
		b2 := newBrowser(t)
		_, claims = e.tokens(b2.login(e.authorize(b2, verifier), "grace@example.com", e.password), verifier)
		if slices.Contains(amrOf(claims), "mfa") {
			t.Fatalf("amr %v", claims["amr"])
		}
	})
}

var mailedCodeRE = regexp.MustCompile(`Your verification code is:\s+(\d{6})`)

// mailedCode waits for the n-th message to address and returns its code.
func mailedCode(t *testing.T, smtp *testenv.SMTPServer, address string, n int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var found []string
		for _, m := range smtp.Messages() {
			if len(m.To) > 0 && strings.EqualFold(m.To[0], address) {
				if c := mailedCodeRE.FindStringSubmatch(strings.ReplaceAll(string(m.Data), "=\r\n", "")); c != nil {
					found = append(found, c[1])
				}
			}
		}
		if len(found) >= n {
			return found[n-1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no code mailed to %s", address)
	return ""
}

// Email codes: offered instead of setting up an app to a user with a
// verified address, single use, and the factor such a user is then asked
// for. The forms need their CSRF token.
func TestMFAEmailCode(t *testing.T) {
	for _, backend := range apitest.Backends() {
		t.Run(backend.Name, func(t *testing.T) {
			smtp := testenv.StartSMTP(t)
			s := apitest.StartWith(t, backend.DSN(t), func(c *server.Config) { c.SMTPURL = smtp.URL })
			e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorEmail, mfa.FactorRecoveryCode}})
			s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!) { updateUser(id: $id, input: {emailVerified: true}) { id } }`,
				map[string]any{"id": string(e.userNode)}, nil)
			verifier := oauth2.GenerateVerifier()
			b := newBrowser(t)
			enrollPage := b.login(e.authorize(b, verifier), e.email, e.password)
			if !strings.Contains(enrollPage.body, `value="start_totp"`) || !strings.Contains(enrollPage.body, `value="send_email"`) {
				t.Fatalf("expected the enrollment page with the email alternative: %d %.800s", enrollPage.status, enrollPage.body)
			}
			// Without its CSRF token, a form post is refused.
			forged := url.Values{"req": {reqRE.FindStringSubmatch(enrollPage.body)[1]}, "action": {"send_email"}}
			r, _ := http.NewRequest(http.MethodPost, s.Issuer+"login/mfa", strings.NewReader(forged.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if p := b.do(r); p.status != http.StatusForbidden {
				t.Fatalf("a post without CSRF token: %d", p.status)
			}
			sent := b.submit(enrollPage, url.Values{"action": {"send_email"}})
			if sent.status != http.StatusOK || !isChallengeBody(sent.body) || !strings.Contains(sent.body, `name="method" value="email"`) {
				t.Fatalf("after sending a code: %d %.800s", sent.status, sent.body)
			}
			code := mailedCode(t, smtp, e.email, 1)
			_, claims := e.tokens(b.submit(sent, url.Values{"code": {code}}), verifier)
			assertMFAClaims(t, claims)

			// Next login: challenged by email, the used code refused.
			b2 := newBrowser(t)
			ch := b2.login(e.authorize(b2, verifier), e.email, e.password)
			if !isChallenge(ch) || !strings.Contains(ch.body, `name="method" value="email"`) {
				t.Fatalf("a user of email codes was not challenged by email: %d %.800s", ch.status, ch.body)
			}
			if p := b2.submit(ch, url.Values{"code": {code}}); p.status != http.StatusUnauthorized || p.location != nil {
				t.Fatalf("a used email code: %d %v", p.status, p.location)
			}
		})
	}
}

// A user whose factor is email is never offered a new authenticator app,
// whatever the form says: a wrong TOTP code (or one with no method) is
// answered with the challenge, and start_totp or enroll are refused. A user
// left with recovery codes only is told to ask an administrator. Only the
// password is needed to reach these pages, so these are the ways someone
// who has it might try to add their own factor.
func TestMFANoEnrollmentForEnrolledUser(t *testing.T) {
	for _, backend := range apitest.Backends() {
		t.Run(backend.Name, func(t *testing.T) {
			smtp := testenv.StartSMTP(t)
			s := apitest.StartWith(t, backend.DSN(t), func(c *server.Config) { c.SMTPURL = smtp.URL })
			e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorEmail, mfa.FactorRecoveryCode}})
			s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!) { updateUser(id: $id, input: {emailVerified: true}) { id } }`,
				map[string]any{"id": string(e.userNode)}, nil)
			verifier := oauth2.GenerateVerifier()
			// Enroll the email factor.
			b := newBrowser(t)
			offer := b.login(e.authorize(b, verifier), e.email, e.password)
			if as, _ := s.Deps.MFA.Authenticators(context.Background(), e.userNode); len(as) != 0 {
				t.Fatalf("showing the offer stored an authenticator: %+v", as)
			}
			sent := b.submit(offer, url.Values{"action": {"send_email"}})
			e.tokens(b.submit(sent, url.Values{"code": {mailedCode(t, smtp, e.email, 1)}}), verifier)

			noKey := func(what string, p page) {
				t.Helper()
				if secretRE.MatchString(p.body) || strings.Contains(p.body, `value="start_totp"`) {
					t.Fatalf("%s: an enrolled user was offered a new authenticator: %d %.800s", what, p.status, p.body)
				}
			}
			b2 := newBrowser(t)
			ch := b2.login(e.authorize(b2, verifier), e.email, e.password)
			noKey("challenge", ch)
			for _, fields := range []url.Values{
				{"action": {"verify"}, "method": {"totp"}, "code": {"123456"}},
				{"action": {"verify"}, "code": {"123456"}},
				{"code": {"123456"}},
			} {
				form := url.Values{"method": nil}
				for k, v := range fields {
					form[k] = v
				}
				p := b2.submit(ch, form)
				noKey(fields.Encode(), p)
				if p.status != http.StatusUnauthorized || !isChallengeBody(p.body) || !strings.Contains(p.body, `name="method" value="email"`) {
					t.Fatalf("%s: expected the email challenge with 401: %d %.800s", fields.Encode(), p.status, p.body)
				}
			}
			for _, action := range []string{"start_totp", "enroll"} {
				p := b2.submit(ch, url.Values{"action": {action}, "authenticator_id": {"mfa_x"}, "code": {"123456"}})
				noKey(action, p)
				if p.status != http.StatusBadRequest || p.location != nil {
					t.Fatalf("%s for an enrolled user: %d %v %.600s", action, p.status, p.location, p.body)
				}
			}
			as, err := s.Deps.MFA.Authenticators(context.Background(), e.userNode)
			if err != nil || len(as) != 1 || as[0].Type != mfa.FactorEmail {
				t.Fatalf("authenticators after the attempts: %+v %v", as, err)
			}
			// The service refuses too (the pages' check is not the only one).
			if _, err := s.Deps.MFA.StartFirstTOTP(context.Background(), e.userNode, e.email); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
				t.Fatalf("StartFirstTOTP for an enrolled user: %v", err)
			}

			// The address is no longer verified: no usable factor, no
			// enrollment either.
			s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!) { updateUser(id: $id, input: {emailVerified: false}) { id } }`,
				map[string]any{"id": string(e.userNode)}, nil)
			b3 := newBrowser(t)
			p := b3.login(e.authorize(b3, verifier), e.email, e.password)
			noKey("unverified address", p)
			if p.status != http.StatusForbidden {
				t.Fatalf("a user without a usable factor: %d %.600s", p.status, p.body)
			}
		})
	}
}

// A user left with recovery codes only (the app removed) is not offered a
// new app at login: the recovery code form, nothing else.
func TestMFARecoveryCodesOnlyNoEnrollment(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorRecoveryCode}})
		verifier := oauth2.GenerateVerifier()
		b := newBrowser(t)
		_, recovery, done := e.enroll(b, b.login(e.authorize(b, verifier), e.email, e.password))
		e.tokens(done, verifier)
		as, _ := s.Deps.MFA.Authenticators(context.Background(), e.userNode)
		for _, a := range as {
			if a.Type == mfa.FactorTOTP {
				if err := s.Deps.MFA.Delete(context.Background(), e.userNode, a.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		b2 := newBrowser(t)
		p := b2.login(e.authorize(b2, verifier), e.email, e.password)
		if p.status != http.StatusOK || secretRE.MatchString(p.body) || strings.Contains(p.body, `value="start_totp"`) ||
			!strings.Contains(p.body, `name="recovery_code"`) {
			t.Fatalf("recovery codes only: %d %.800s", p.status, p.body)
		}
		if p := b2.submit(p, url.Values{"action": {"start_totp"}}); p.status != http.StatusBadRequest || secretRE.MatchString(p.body) {
			t.Fatalf("start_totp with recovery codes: %d %.600s", p.status, p.body)
		}
		_, claims := e.tokens(b2.submit(p, url.Values{"recovery_code": {recovery[0]}}), verifier)
		assertMFAClaims(t, claims)
	})
}
