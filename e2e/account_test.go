package e2e

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/session"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mfa"
)

var (
	sessionRowRE = regexp.MustCompile(`<tr data-session="([^"]+)"( class="current")?>`)
	authRowRE    = regexp.MustCompile(`<tr data-authenticator="([^"]+)"><td>([^<]*)</td>`)
)

// accountEnv is a server with the account page's users.
type accountEnv struct {
	*mfaEnv
	base string // {issuer}account
}

func newAccountEnv(t *testing.T, s *apitest.Server) *accountEnv {
	e := newMFAEnv(t, s, mfa.Settings{Policy: mfa.PolicyNever, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorRecoveryCode}})
	return &accountEnv{mfaEnv: e, base: s.Issuer + "account"}
}

// signIn opens the account page in b, signs in at the login page it leads
// to, and returns the account page.
func (e *accountEnv) signIn(b *browser, email, password string) page {
	e.t.Helper()
	p := b.get(e.base)
	if !strings.HasSuffix(p.url.Path, "/login") {
		e.t.Fatalf("the account page without a session is not the login page: %d %s", p.status, p.url)
	}
	p = b.login(p, email, password)
	if p.status != http.StatusOK || p.url.Path != "/account" || !strings.Contains(p.body, "Signed in as <strong id=\"account-user\">"+email) {
		e.t.Fatalf("after signing in: %d %s %.800s", p.status, p.url, p.body)
	}
	return p
}

// post submits one of the account page's forms (action relative to
// {issuer}account) with the CSRF token of p.
func (e *accountEnv) post(b *browser, p page, action string, fields url.Values) page {
	e.t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		e.t.Fatalf("no CSRF token on %s: %.600s", p.url, p.body)
	}
	form := url.Values{"csrf_token": {html.UnescapeString(m[1])}}
	for k, v := range fields {
		form[k] = v
	}
	return b.post(e.base+action, form)
}

func (e *accountEnv) authenticators(p page) map[string]string {
	out := map[string]string{}
	for _, m := range authRowRE.FindAllStringSubmatch(p.body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// sessions returns the session ids listed on p, and the current one.
func sessionsOn(p page) (ids []string, current string) {
	for _, m := range sessionRowRE.FindAllStringSubmatch(p.body, -1) {
		ids = append(ids, m[1])
		if m[2] != "" {
			current = m[1]
		}
	}
	return ids, current
}

// enrollTOTP adds an authenticator app through the page and returns its
// key and the recovery codes shown.
func (e *accountEnv) enrollTOTP(b *browser, p page) (string, []string) {
	e.t.Helper()
	p = e.post(b, p, "/totp", nil)
	sec := secretRE.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || sec == nil || qrRE.FindString(html.UnescapeString(p.body)) == "" {
		e.t.Fatalf("enrollment page: %d %s %.800s", p.status, p.url, p.body)
	}
	shown := url.Values{}
	for _, h := range hiddenInputRE.FindAllStringSubmatch(p.body, -1) {
		shown.Set(h[1], html.UnescapeString(h[2]))
	}
	shown.Del("csrf_token")
	shown.Set("code", "000000")
	wrong := e.post(b, p, "/totp/confirm", shown)
	if wrong.status != http.StatusBadRequest || !strings.Contains(wrong.body, sec[1]) {
		e.t.Fatalf("a wrong first code: %d %.600s", wrong.status, wrong.body)
	}
	code, err := totp.GenerateCode(sec[1], time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	shown.Set("code", code)
	done := e.post(b, wrong, "/totp/confirm", shown)
	var codes []string
	for _, m := range recoveryCodeRE.FindAllStringSubmatch(done.body, -1) {
		codes = append(codes, m[1])
	}
	if done.status != http.StatusOK || len(codes) != 10 {
		e.t.Fatalf("confirming the authenticator app: %d %.800s", done.status, done.body)
	}
	return sec[1], codes
}

func (e *accountEnv) logTypes(userID string) []string {
	evs, err := e.s.Deps.DB.Ent.LogEvent.Query().Where(logevent.UserID(userID)).
		Order(logevent.ByID()).All(authz.SystemContext(context.Background()))
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func TestAccountPage(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newAccountEnv(t, s)
		ctx := context.Background()
		sys := authz.SystemContext(ctx)

		// Without a session the page sends the browser to sign in.
		raw := newBrowser(t)
		raw.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := raw.http.Get(e.base)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account/login" {
			t.Fatalf("unauthenticated: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("CSP %q", csp)
		}

		// The callback completes only in the browser that started the
		// sign-in (its state cookie).
		started := newBrowser(t)
		started.http.CheckRedirect = raw.http.CheckRedirect
		resp, err = started.http.Get(e.base + "/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		start, _ := url.Parse(resp.Header.Get("Location"))
		q := start.Query()
		if resp.StatusCode != http.StatusFound || q.Get("client_id") == "" || q.Get("code_challenge_method") != "S256" ||
			q.Get("redirect_uri") != s.Issuer+"account/callback" || q.Get("state") == "" {
			t.Fatalf("starting the sign-in: %d %s", resp.StatusCode, start)
		}
		if cb := newBrowser(t).get(e.base + "/callback?code=x&state=" + url.QueryEscape(q.Get("state"))); cb.status != http.StatusBadRequest {
			t.Fatalf("a callback in another browser: %d", cb.status)
		}

		// Another user, with an authenticator app and a session of their own.
		bobNode, _ := e.createUser("bob@example.com")
		en, err := s.Deps.MFA.StartTOTP(ctx, bobNode, "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		code, _ := totp.GenerateCode(en.Secret, time.Now())
		if _, err := s.Deps.MFA.ConfirmTOTP(ctx, bobNode, en.AuthenticatorID, code, mfa.LoginContext{}); err != nil {
			t.Fatal(err)
		}
		bob := newBrowser(t)
		bobPage := e.signIn(bob, "bob@example.com", e.password)
		_, bobSession := sessionsOn(bobPage)

		b := newBrowser(t)
		p := e.signIn(b, e.email, e.password)
		ids, current := sessionsOn(p)
		if len(ids) != 1 || current == "" || len(e.authenticators(p)) != 0 {
			t.Fatalf("a new user's page: sessions %v current %q authenticators %v", ids, current, e.authenticators(p))
		}

		// A session signed in long ago must sign in again before adding a
		// factor; the new sign-in replaces it.
		if err := s.Deps.DB.Ent.Session.UpdateOneID(pulid.ID(current)).SetAuthTime(time.Now().Add(-time.Hour)).Exec(sys); err != nil {
			t.Fatal(err)
		}
		stale := e.post(b, p, "/totp", nil)
		if !strings.HasSuffix(stale.url.Path, "/login") || !strings.Contains(stale.body, `name="password"`) {
			t.Fatalf("an old sign-in adding a factor: %d %s", stale.status, stale.url)
		}
		if n, _ := s.Deps.DB.Ent.Authenticator.Query().Count(sys); n != 2 { // bob's app and recovery codes
			t.Fatalf("an authenticator was created for an old sign-in (%d)", n)
		}
		p = b.login(stale, e.email, e.password)
		if _, now := sessionsOn(p); now == "" || now == current {
			t.Fatalf("signing in again kept session %q (now %q)", current, now)
		}

		// An authenticator app, with computed codes.
		_, oldCodes := e.enrollTOTP(b, p)
		p = b.get(e.base)
		mine := e.authenticators(p)
		if len(mine) != 2 || !slices.Contains(mapValues(mine), "Authenticator app") || !slices.Contains(mapValues(mine), "Recovery codes") {
			t.Fatalf("ada's factors: %v", mine)
		}
		if _, ok := mine[en.AuthenticatorID]; ok {
			t.Fatal("another user's authenticator is listed")
		}

		// Another user's authenticator cannot be removed.
		idor := e.post(b, p, "/authenticators/delete", url.Values{"id": {en.AuthenticatorID}})
		if idor.status != http.StatusNotFound {
			t.Fatalf("removing bob's authenticator: %d", idor.status)
		}
		if as, _ := s.Deps.MFA.Authenticators(ctx, bobNode); len(as) != 2 {
			t.Fatalf("bob's authenticators after ada's attempt: %v", as)
		}

		// New recovery codes void the old ones.
		fresh := e.post(b, p, "/recovery-codes", nil)
		var newCodes []string
		for _, m := range recoveryCodeRE.FindAllStringSubmatch(fresh.body, -1) {
			newCodes = append(newCodes, m[1])
		}
		if fresh.status != http.StatusOK || len(newCodes) != 10 || slices.Contains(newCodes, oldCodes[0]) {
			t.Fatalf("new recovery codes: %d %v", fresh.status, newCodes)
		}
		if err := s.Deps.MFA.VerifyRecoveryCode(ctx, e.userNode, oldCodes[0], mfa.LoginContext{}); err == nil {
			t.Fatal("an old recovery code still works")
		}
		if err := s.Deps.MFA.VerifyRecoveryCode(ctx, e.userNode, newCodes[0], mfa.LoginContext{}); err != nil {
			t.Fatalf("a new recovery code: %v", err)
		}

		// Removing the authenticator app.
		p = b.get(e.base)
		var app string
		for id, typ := range e.authenticators(p) {
			if typ == "Authenticator app" {
				app = id
			}
		}
		if gone := e.post(b, p, "/authenticators/delete", url.Values{"id": {app}}); gone.status != http.StatusOK || !strings.Contains(gone.body, "was removed") {
			t.Fatalf("removing the authenticator app: %d %.400s", gone.status, gone.body)
		}
		if _, ok := e.authenticators(b.get(e.base))[app]; ok {
			t.Fatal("the removed authenticator is still listed")
		}

		// A form without its CSRF token is refused, on every route.
		for _, action := range []string{"/sessions/revoke", "/authenticators/delete", "/totp", "/totp/confirm",
			"/recovery-codes", "/password", "/webauthn/options", "/webauthn/register"} {
			for _, form := range []url.Values{{"id": {app}}, {"id": {app}, "csrf_token": {"x"}}} {
				if r := b.post(e.base+action, form); r.status != http.StatusForbidden {
					t.Fatalf("%s without a CSRF token: %d", action, r.status)
				}
			}
		}
		if as, _ := s.Deps.MFA.Authenticators(ctx, e.userNode); len(as) != 1 {
			t.Fatalf("forms without CSRF tokens changed the factors: %v", as)
		}

		// Sessions: a second browser of ada's is listed and ended; bob's
		// cannot be.
		other := newBrowser(t)
		e.signIn(other, e.email, e.password)
		p = b.get(e.base)
		ids, current = sessionsOn(p)
		if len(ids) != 2 || slices.Contains(ids, bobSession) {
			t.Fatalf("ada's sessions: %v (bob's %s)", ids, bobSession)
		}
		if r := e.post(b, p, "/sessions/revoke", url.Values{"id": {bobSession}}); r.status != http.StatusNotFound {
			t.Fatalf("ending bob's session: %d", r.status)
		}
		if still := bob.get(e.base); still.url.Path != "/account" {
			t.Fatalf("bob was signed out by ada: %s", still.url)
		}
		otherID := ids[0]
		if otherID == current {
			otherID = ids[1]
		}
		if r := e.post(b, p, "/sessions/revoke", url.Values{"id": {otherID}}); r.status != http.StatusOK || !strings.Contains(r.body, "session was ended") {
			t.Fatalf("ending the other session: %d", r.status)
		}
		if out := other.get(e.base); !strings.HasSuffix(out.url.Path, "/login") {
			t.Fatalf("the ended session still opens the account page: %s", out.url)
		}
		if s, _ := s.Deps.DB.Ent.Session.Query().Where(session.ID(pulid.ID(otherID))).Only(sys); s == nil || s.RevokedAt == nil {
			t.Fatal("the ended session is not revoked in the database")
		}

		// Password: a wrong current password is refused and counted as a
		// failed login; a weak new one is refused; then the change signs
		// out everywhere.
		p = b.get(e.base)
		wrong := e.post(b, p, "/password", url.Values{"current_password": {"not-my-password"}, "new_password": {"Difference-Engine-1822"}})
		if wrong.status != http.StatusBadRequest || !strings.Contains(wrong.body, "current password is not right") {
			t.Fatalf("a wrong current password: %d %.400s", wrong.status, wrong.body)
		}
		weak := e.post(b, wrong, "/password", url.Values{"current_password": {e.password}, "new_password": {"abc"}})
		if weak.status != http.StatusBadRequest || !strings.Contains(weak.body, `class="error"`) {
			t.Fatalf("a weak new password: %d %.400s", weak.status, weak.body)
		}
		changed := e.post(b, weak, "/password", url.Values{"current_password": {e.password}, "new_password": {"Difference-Engine-1822"}})
		if changed.status != http.StatusOK || !strings.Contains(changed.body, "Password changed") {
			t.Fatalf("changing the password: %d %.400s", changed.status, changed.body)
		}
		if out := b.get(e.base); !strings.HasSuffix(out.url.Path, "/login") {
			t.Fatalf("the session survived the password change: %s", out.url)
		}
		e.signIn(newBrowser(t), e.email, "Difference-Engine-1822")

		types := e.logTypes(e.userID)
		for _, want := range []string{logs.TypeWrongPassword, logs.TypeFailedChangePwd, logs.TypeSuccessChangePwd,
			logs.TypeSuccessLogout, logs.TypeMFAEnrollmentComplete, logs.TypeMFAUnenroll, logs.TypeMFAStartEnroll} {
			if !slices.Contains(types, want) {
				t.Errorf("log types %v lack %s", types, want)
			}
		}
		fp, err := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.UserID(e.userID), logevent.Type(logs.TypeWrongPassword)).Only(sys)
		if err != nil || fp.ClientName != "Authgraph Account" {
			t.Fatalf("the wrong current password's log entry: %v %v", fp, err)
		}
	})
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestAccountPageNeedsACompletedSignIn: the password alone of a user who
// must pass a second factor gives the browser a session (the factor's page
// is bound to it), but not the account page: the page opens only for a
// session in which a sign-in to the account client completed, second
// factor included. A forged callback does not open it either.
func TestAccountPageNeedsACompletedSignIn(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newAccountEnv(t, s)
		ctx := context.Background()
		if _, err := s.Deps.MFA.UpdateSettings(ctx, mfa.Settings{Policy: mfa.PolicyOptIn,
			Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorRecoveryCode}}); err != nil {
			t.Fatal(err)
		}
		en, err := s.Deps.MFA.StartTOTP(ctx, e.userNode, e.email)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := totp.GenerateCode(en.Secret, time.Now())
		if _, err := s.Deps.MFA.ConfirmTOTP(ctx, e.userNode, en.AuthenticatorID, code, mfa.LoginContext{}); err != nil {
			t.Fatal(err)
		}

		b := newBrowser(t)
		p := b.get(e.base)
		p = b.login(p, e.email, e.password)
		if !strings.Contains(p.url.Path, "/login/mfa") {
			t.Fatalf("the password of an enrolled user did not lead to the second factor: %d %s", p.status, p.url)
		}
		// The session exists (the factor's page needs it) …
		if n := s.Deps.DB.Ent.Session.Query().CountX(authz.SystemContext(ctx)); n != 1 {
			t.Fatalf("sessions after the password: %d", n)
		}
		// … but the account page sends the browser back to sign in, which
		// ends at the second factor again.
		if again := b.get(e.base); !strings.Contains(again.url.Path, "/login/mfa") || strings.Contains(again.body, "Signed in as") {
			t.Fatalf("the account page opened before the second factor: %d %s %.300s", again.status, again.url, again.body)
		}
		// A callback with a code the provider never issued in this session
		// is refused and opens nothing.
		raw := &browser{t: t, http: &http.Client{Jar: b.http.Jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
		resp, err := raw.http.Get(e.base + "/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		start, _ := url.Parse(resp.Header.Get("Location"))
		if cb := b.get(e.base + "/callback?code=forged&state=" + url.QueryEscape(start.Query().Get("state"))); cb.status != http.StatusBadRequest {
			t.Fatalf("a forged callback: %d %s", cb.status, cb.url)
		}
		if again := b.get(e.base); strings.Contains(again.body, "Signed in as") {
			t.Fatal("the account page opened after a forged callback")
		}

		// Once the factor is passed, the page opens.
		p = b.get(e.base)
		code, _ = totp.GenerateCode(en.Secret, time.Now().Add(30*time.Second))
		p = b.submit(p, url.Values{"code": {code}})
		if p.url.Path != "/account" || !strings.Contains(p.body, "Signed in as") {
			t.Fatalf("after the second factor: %d %s %.600s", p.status, p.url, p.body)
		}
	})
}
