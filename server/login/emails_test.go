package login_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestLookAlikeEmailsOnThePages: "alice@example.com" followed by U+200B
// signed up as a new user, as did an address with a Cyrillic "а" in its
// domain. The signup page refuses them with a form error and creates
// nothing; login and forgot-password normalize what is typed the way
// stored addresses are (NFC, ASCII domain), so an address typed in another
// form finds its user.
func TestLookAlikeEmailsOnThePages(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", "database", map[string]any{"passwordPolicy": "fair"})
		e.user("db", "alice@example.com", "Alice-pass-1")
		for name, email := range map[string]string{
			"zero-width space":         "alice@example.com\u200b",
			"Cyrillic а in the domain": "alice@ex\u0430mple.com",
			"Cyrillic а in the local":  "\u0430lice@example.com",
		} {
			t.Run("signup: "+name, func(t *testing.T) {
				users := e.db.User.Query().CountX(sys)
				b := browser()
				page := e.get(b, "/login/signup?connection=db&req="+e.request(nil))
				r := e.submit(b, page, url.Values{"email": {email}, "password": {"Look-alike-pass-1"}})
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, "The email address") {
					t.Fatalf("signup with %q: %d\n%s", email, r.status, r.body)
				}
				if n := e.db.User.Query().CountX(sys); n != users {
					t.Fatalf("signup created %d users", n-users)
				}
			})
		}

		t.Run("login and forgot-password match the stored form", func(t *testing.T) {
			e.user("db", "josé@bücher.de", "Jose-pass-1")
			// Typed decomposed (e + U+0301) and with the domain in punycode.
			typed := "JOSE\u0301@xn--bcher-kva.de"
			b := browser()
			id := e.request(nil)
			if r := e.submit(b, e.get(b, "/login?req="+id), url.Values{"username": {typed}, "password": {"Jose-pass-1"}}); r.status != http.StatusFound {
				t.Fatalf("login as %q: %d\n%s", typed, r.status, r.body)
			}
			if l, _, done := e.op.outcome(id); !done || l.UserID == "" {
				t.Fatalf("login outcome %+v", l)
			}
			forgot := e.get(b, "/login/forgot?connection=db&req="+e.request(nil))
			if r := e.submit(b, forgot, url.Values{"email": {typed}}); r.status != http.StatusOK {
				t.Fatalf("forgot: %d", r.status)
			}
			msgs := e.smtp.WaitForMessages(t, 1, 10*time.Second)
			if msgs[0].To[0] != "josé@xn--bcher-kva.de" {
				t.Fatalf("reset mail to %v", msgs[0].To)
			}
		})
	})
}
