package e2e

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/webauthntest"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/server"
)

// optionsCall posts to the WebAuthn options endpoint with the page's CSRF
// token and request id.
func optionsCall(t *testing.T, b *browser, s *apitest.Server, p page, ceremony, csrf string) (int, map[string]any) {
	t.Helper()
	if csrf == "" {
		m := csrfRE.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no CSRF token on %s", p.url)
		}
		csrf = html.UnescapeString(m[1])
	}
	form := url.Values{"csrf_token": {csrf}, "ceremony": {ceremony}}
	if m := reqRE.FindStringSubmatch(p.body); m != nil {
		form.Set("req", html.UnescapeString(m[1]))
	}
	resp, err := b.http.PostForm(s.Issuer+"login/webauthn/options", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("options answered %d %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// postForm posts fields with the page's CSRF token and request id to u.
func postForm(t *testing.T, b *browser, u string, p page, fields url.Values) page {
	t.Helper()
	form := url.Values{"csrf_token": {html.UnescapeString(csrfRE.FindStringSubmatch(p.body)[1])},
		"req": {html.UnescapeString(reqRE.FindStringSubmatch(p.body)[1])}}
	for k, v := range fields {
		form[k] = v
	}
	r, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

func csp(t *testing.T, b *browser, u *url.URL) string {
	t.Helper()
	resp, err := b.http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Content-Security-Policy")
}

func publicKey(t *testing.T, out map[string]any) map[string]any {
	t.Helper()
	pk, ok := out["publicKey"].(map[string]any)
	if !ok || pk["challenge"] == "" {
		t.Fatalf("options: %v", out)
	}
	return pk
}

// The pages offer security keys and passkeys only when WEBAUTHN is
// enabled, allow scripts only then, and the options endpoint answers
// each ceremony's options (CSRF-protected, bound to the login).
func TestWebAuthnPagesAndOptions(t *testing.T) {
	for _, be := range apitest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			s := apitest.StartWith(t, be.DSN(t), func(c *server.Config) {
				_, port, _ := net.SplitHostPort(c.Listen)
				c.Issuer = "http://localhost:" + port + "/"
			})
			s.URL = strings.TrimSuffix(s.Issuer, "/")
			on := mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorWebAuthn, mfa.FactorRecoveryCode}}
			e := newMFAEnv(t, s, on)
			b := newBrowser(t)
			verifier := oauth2.GenerateVerifier()

			login := e.authorize(b, verifier)
			if !strings.Contains(login.body, `id="passkey-form"`) || !strings.Contains(login.body, `autocomplete="username webauthn"`) ||
				!strings.Contains(login.body, `webauthn.js`) {
				t.Fatalf("login page without the passkey offer: %.1500s", login.body)
			}
			if got := csp(t, b, login.url); !strings.Contains(got, "script-src 'self'") || strings.Contains(got, "unsafe-inline") {
				t.Fatalf("login page CSP %q", got)
			}
			if status, out := optionsCall(t, b, s, login, "login", "bad"); status != http.StatusForbidden || out["error"] == nil {
				t.Fatalf("bad CSRF: %d %v", status, out)
			}
			status, out := optionsCall(t, b, s, login, "login", "")
			pk := publicKey(t, out)
			if status != http.StatusOK || pk["rpId"] != "localhost" || pk["userVerification"] != "required" {
				t.Fatalf("login options: %d %v", status, out)
			}
			// No second factor is pending: no security key ceremony.
			if status, _ := optionsCall(t, b, s, login, "mfa", ""); status != http.StatusBadRequest {
				t.Fatalf("mfa options before a login: %d", status)
			}
			// A passkey answer that is not one.
			bad := postForm(t, b, s.Issuer+"login/passkey", login, url.Values{"credential": {`{"id":"x"}`}})
			if bad.status != http.StatusUnauthorized || !strings.Contains(bad.body, "Signing in with a passkey did not work") {
				t.Fatalf("garbage passkey: %d %.600s", bad.status, bad.body)
			}

			// The enrollment page offers a key, a passkey and an app (whose
			// key comes with the button's POST).
			enroll := b.submit(login, url.Values{"username": {e.email}, "password": {e.password}})
			if !strings.Contains(enroll.body, `id="enroll-key-form"`) || !strings.Contains(enroll.body, `id="enroll-passkey-form"`) ||
				!strings.Contains(enroll.body, `value="start_totp"`) {
				t.Fatalf("enrollment page: %.1500s", enroll.body)
			}
			if got := csp(t, b, enroll.url); !strings.Contains(got, "script-src 'self'") || !strings.Contains(got, "img-src 'self' data:") {
				t.Fatalf("enrollment CSP %q", got)
			}
			_, out = optionsCall(t, b, s, enroll, "register", "")
			if sel, _ := publicKey(t, out)["authenticatorSelection"].(map[string]any); sel["residentKey"] != "discouraged" {
				t.Fatalf("security key options: %v", out)
			}
			_, out = optionsCall(t, b, s, enroll, "register_passkey", "")
			passkeyOptions, _ := json.Marshal(out)
			pk = publicKey(t, out)
			if sel, _ := pk["authenticatorSelection"].(map[string]any); sel["residentKey"] != "required" || sel["userVerification"] != "required" {
				t.Fatalf("passkey options: %v", out)
			}
			if user, _ := pk["user"].(map[string]any); user["name"] != e.email || strings.Contains(user["id"].(string), "@") {
				t.Fatalf("passkey user: %v", pk["user"])
			}
			// Without a security key, no assertion begins.
			if status, _ := optionsCall(t, b, s, enroll, "mfa", ""); status != http.StatusBadRequest {
				t.Fatalf("mfa options without a key: %d", status)
			}

			// A passkey registered at enrollment passes the step.
			key := webauthntest.New(t, s.URL, "localhost")
			key.UV = true
			codes := postForm(t, b, s.Issuer+"login/mfa", enroll, url.Values{"action": {"webauthn_enroll"},
				"credential": {string(key.Create(passkeyOptions))}})
			if !strings.Contains(codes.body, "Save your recovery codes") {
				t.Fatalf("after registering a passkey: %d %.1000s", codes.status, codes.body)
			}
			done := b.follow(codes, continueRE)
			if _, claims := e.tokens(done, verifier); !slices.Contains(amrOf(claims), "mfa") {
				t.Fatalf("amr after registering: %v", claims["amr"])
			}

			// Sign in with it, in another browser: no password.
			signIn := func(b *browser) page {
				verifier = oauth2.GenerateVerifier()
				login := e.authorize(b, verifier)
				_, out := optionsCall(t, b, s, login, "login", "")
				opts, _ := json.Marshal(out)
				return postForm(t, b, s.Issuer+"login/passkey", login, url.Values{"credential": {string(key.Get(opts))}})
			}
			_, claims := e.tokens(signIn(newBrowser(t)), verifier)
			if amr := amrOf(claims); !slices.Equal(amr, []string{"hwk", "user", "mfa"}) || claims["acr"] != multiFactor {
				t.Fatalf("passkey sign-in: amr %v acr %v", claims["amr"], claims["acr"])
			}
			// A blocked user is refused.
			if _, err := s.Deps.DB.Ent.User.UpdateOneID(e.userNode).SetBlocked(true).Save(authz.SystemContext(context.Background())); err != nil {
				t.Fatal(err)
			}
			if p := signIn(newBrowser(t)); p.location == nil || p.location.Query().Get("error") != "unauthorized" {
				t.Fatalf("blocked user: %d %v %.600s", p.status, p.location, p.body)
			}

			// Turned off: nothing offered, no scripts.
			if _, err := s.Deps.MFA.UpdateSettings(context.Background(), mfa.Settings{Policy: mfa.PolicyNever,
				Factors: []mfa.Factor{mfa.FactorTOTP}}); err != nil {
				t.Fatal(err)
			}
			other := newBrowser(t)
			login = e.authorize(other, verifier)
			if strings.Contains(login.body, "passkey") || strings.Contains(login.body, "webauthn") {
				t.Fatalf("passkey offered while WEBAUTHN is off: %.1500s", login.body)
			}
			if got := csp(t, other, login.url); strings.Contains(got, "script-src") {
				t.Fatalf("scripts allowed while WEBAUTHN is off: %q", got)
			}
			if status, _ := optionsCall(t, other, s, login, "login", ""); status != http.StatusNotFound {
				t.Fatalf("options while off: %d", status)
			}
		})
	}
}
