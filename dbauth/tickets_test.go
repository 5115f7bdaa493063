package dbauth

import (
	"context"
	"errors"
	"io"
	"mime/quotedprintable"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/dbauth/policy"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/ticket"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/sessions"
)

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("ticket")
}

func newSession(t *testing.T, e *env, userID pulid.ID) *sessions.Manager {
	t.Helper()
	m := &sessions.Manager{DB: e.db}
	if _, err := m.Create(context.Background(), httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil),
		sessions.Params{UserID: userID, AuthTime: time.Now(), AMR: []string{"pwd"}}); err != nil {
		t.Fatal(err)
	}
	return m
}

func liveSessions(t *testing.T, e *env, userID pulid.ID) int {
	t.Helper()
	n := 0
	for _, s := range e.db.User.GetX(sys, userID).QuerySessions().AllX(sys) {
		if s.RevokedAt == nil {
			n++
		}
	}
	return n
}

func TestPasswordChangeTickets(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", map[string]any{"passwordPolicy": "fair"})
		u := e.user("db", "tk@example.com", goodPW)
		newSession(t, e, u.ID)
		newSession(t, e, u.ID)

		link1, exp1, err := e.svc.CreatePasswordChangeTicket(sys, u.UserID, TicketOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(link1, "http://127.0.0.1:9999/login/reset?ticket=") || exp1.Sub(*e.now) != 432000*time.Second {
			t.Fatalf("link %s expires %v", link1, exp1)
		}
		if len(tokenOf(t, link1)) != 43 { // 256 bits, base64url
			t.Fatalf("token %q", tokenOf(t, link1))
		}
		stored := e.db.Ticket.Query().OnlyX(sys)
		if strings.Contains(stored.TokenHash, tokenOf(t, link1)) || len(stored.TokenHash) != 64 {
			t.Fatal("token must be stored as its SHA-256 only")
		}
		// Only the newest is valid.
		link2, _, err := e.svc.CreatePasswordChangeTicket(sys, string(u.ID), TicketOptions{ResultURL: "https://app.example/done", MarkEmailVerified: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ResetPassword(sys, tokenOf(t, link1), "Brand-n3w-pass"); !errors.Is(err, ErrTicketInvalid) {
			t.Fatalf("older ticket: %v", err)
		}
		// A refused password leaves the ticket usable.
		var pe *policy.Error
		if _, err := e.svc.ResetPassword(sys, tokenOf(t, link2), "weak"); !errors.As(err, &pe) || pe.Code != policy.CodeStrength {
			t.Fatalf("weak password: %v", err)
		}
		if e.lastLog("fcp") == nil {
			t.Fatal("no fcp")
		}
		result, err := e.svc.ResetPassword(sys, tokenOf(t, link2), "Brand-n3w-pass")
		if err != nil || result != "https://app.example/done" {
			t.Fatalf("reset: %q, %v", result, err)
		}
		if e.lastLog("scp").UserID != u.UserID {
			t.Fatal("scp")
		}
		// Single use.
		if _, err := e.svc.ResetPassword(sys, tokenOf(t, link2), "Another-n3w-pass"); !errors.Is(err, ErrTicketInvalid) {
			t.Fatalf("second use: %v", err)
		}
		// The reset ended the sessions, set email_verified and last_password_reset.
		if n := liveSessions(t, e, u.ID); n != 0 {
			t.Fatalf("%d sessions survived the reset", n)
		}
		got := e.reload(u)
		if !got.EmailVerified || got.LastPasswordReset == nil {
			t.Fatalf("after reset: %+v", got)
		}
		if _, err := e.login(ipCtx("192.0.2.1"), LoginInput{Connection: "db", Identifier: "tk@example.com", Password: "Brand-n3w-pass"}); err != nil {
			t.Fatal(err)
		}
		// Expiry.
		link3, _, _ := e.svc.CreatePasswordChangeTicket(sys, u.UserID, TicketOptions{TTL: time.Hour})
		*e.now = e.now.Add(time.Hour + time.Second)
		if _, err := e.svc.LookupTicket(sys, ticket.KindPasswordChange, tokenOf(t, link3)); !errors.Is(err, ErrTicketInvalid) {
			t.Fatalf("expired ticket: %v", err)
		}
		if _, err := e.svc.ResetPassword(sys, tokenOf(t, link3), "Yet-an0ther-pass"); !errors.Is(err, ErrTicketInvalid) {
			t.Fatalf("expired ticket used: %v", err)
		}
		// A ticket of one kind is not one of the other.
		link4, _, _ := e.svc.CreateEmailVerificationTicket(sys, u.UserID, TicketOptions{})
		if _, err := e.svc.ResetPassword(sys, tokenOf(t, link4), "Yet-an0ther-pass"); !errors.Is(err, ErrTicketInvalid) {
			t.Fatalf("verification ticket used as a reset: %v", err)
		}
		if _, _, err := e.svc.CreatePasswordChangeTicket(sys, u.UserID, TicketOptions{ResultURL: "javascript:alert(1)"}); err == nil {
			t.Fatal("javascript: result URL accepted")
		}
	})
}

func TestEmailVerificationTicket(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", nil)
		u := e.user("db", "ev@example.com", goodPW)
		link, _, err := e.svc.CreateEmailVerificationTicket(sys, u.UserID, TicketOptions{ResultURL: "https://app.example/verified"})
		if err != nil || !strings.HasPrefix(link, "http://127.0.0.1:9999/login/verify?ticket=") {
			t.Fatalf("%s %v", link, err)
		}
		res, err := e.svc.VerifyEmail(sys, tokenOf(t, link))
		if err != nil || res != "https://app.example/verified" {
			t.Fatalf("%q %v", res, err)
		}
		if !e.reload(u).EmailVerified || e.lastLog("sv").UserID != u.UserID {
			t.Fatal("not verified / no sv")
		}
		if _, err := e.svc.VerifyEmail(sys, tokenOf(t, link)); !errors.Is(err, ErrTicketInvalid) {
			t.Fatalf("second use: %v", err)
		}
	})
}

var linkRE = regexp.MustCompile(`http://127\.0\.0\.1:9999/login/(?:reset|verify)\?ticket=[A-Za-z0-9_-]+`)

// mailLink decodes a message and returns its link.
func mailLink(t *testing.T, m testenv.SMTPMessage) string {
	t.Helper()
	raw := string(m.Data)
	_, body, _ := strings.Cut(raw, "\r\n\r\n")
	dec, err := readQP(body)
	if err != nil {
		t.Fatal(err)
	}
	link := linkRE.FindString(dec)
	if link == "" {
		t.Fatalf("no link in message:\n%s", raw)
	}
	return link
}

func readQP(s string) (string, error) {
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(s)))
	return string(b), err
}

func TestForgotPasswordAnswersIdentically(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", nil)
		u := e.user("db", "fp@example.com", goodPW)
		newSession(t, e, u.ID)
		ctx := ipCtx("192.0.2.10")
		start := time.Now()
		errKnown := e.svc.RequestPasswordReset(ctx, "db", "FP@example.com", "cli_x")
		dKnown := time.Since(start)
		start = time.Now()
		errUnknown := e.svc.RequestPasswordReset(ctx, "db", "nobody@example.com", "cli_x")
		dUnknown := time.Since(start)
		if errKnown != nil || errUnknown != nil {
			t.Fatalf("known: %v, unknown: %v; want nil for both", errKnown, errUnknown)
		}
		if dKnown < e.svc.ResetFloor || dUnknown < e.svc.ResetFloor {
			t.Fatalf("durations %v, %v below the floor %v", dKnown, dUnknown, e.svc.ResetFloor)
		}
		msgs := e.smtp.WaitForMessages(t, 1, 10*time.Second)
		e.svc.Wait()
		if msgs = e.smtp.Messages(); len(msgs) != 1 || msgs[0].To[0] != "fp@example.com" || msgs[0].AuthUser != "mailer" {
			t.Fatalf("messages: %+v", msgs)
		}
		if !strings.Contains(string(msgs[0].Data), "Subject: Reset your password") {
			t.Fatalf("message:\n%s", msgs[0].Data)
		}
		if e.lastLog("scpr").UserID != u.UserID || e.lastLog("fcpr").UserName != "nobody@example.com" {
			t.Fatal("scpr/fcpr")
		}
		link := mailLink(t, msgs[0])
		if _, err := e.svc.ResetPassword(ctx, tokenOf(t, link), "Fr0m-the-mail"); err != nil {
			t.Fatal(err)
		}
		if n := liveSessions(t, e, u.ID); n != 0 {
			t.Fatal("reset kept sessions")
		}
	})
}

func TestSignup(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", map[string]any{"passwordPolicy": "good", "password_no_personal_info": map[string]any{"enable": true},
			"password_dictionary": map[string]any{"enable": true, "dictionary": []any{"Acme-Corp-2024"}}})
		e.conn("closed", map[string]any{"disable_signup": true})
		ctx := ipCtx("192.0.2.20")
		var pe *policy.Error
		for pw, code := range map[string]string{"short": policy.CodeStrength, "acme-corp-2024": policy.CodeDictionary, "Password1": policy.CodeDictionary, "Newbie-1234": policy.CodeNoPersonal} {
			if _, err := e.svc.Signup(ctx, SignupInput{Connection: "db", Email: "newbie@example.com", Password: pw}); !errors.As(err, &pe) || pe.Code != code {
				t.Errorf("signup with %q: %v, want %s", pw, err, code)
			}
		}
		if e.lastLog("fs") == nil {
			t.Fatal("no fs")
		}
		if _, err := e.svc.Signup(ctx, SignupInput{Connection: "closed", Email: "x@example.com", Password: goodPW}); !errors.Is(err, ErrSignupDisabled) {
			t.Fatalf("disable_signup: %v", err)
		}
		u, err := e.svc.Signup(ctx, SignupInput{Connection: "db", Email: "Newbie@Example.com", Password: goodPW, ClientID: "cli_s"})
		if err != nil {
			t.Fatal(err)
		}
		if *u.Email != "newbie@example.com" || u.EmailVerified || !strings.HasPrefix(u.UserID, "auth0|") {
			t.Fatalf("user: %+v", u)
		}
		if e.lastLog("ss").UserID != u.UserID {
			t.Fatal("ss")
		}
		// A taken address: the same hash work as a signup that goes on to
		// log in (one verification more), and a notice to the owner.
		dummy := countDummy(t)
		if _, err := e.svc.Signup(ctx, SignupInput{Connection: "db", Email: "newbie@example.com", Password: goodPW}); !errors.Is(err, ErrUserExists) {
			t.Fatalf("duplicate: %v", err)
		}
		if dummy.Load() != 1 {
			t.Fatalf("hash verifications for a taken address: %d, want 1", dummy.Load())
		}
		msgs := e.smtp.WaitForMessages(t, 2, 10*time.Second)
		var verify, notice int
		for i, m := range msgs {
			switch {
			case strings.Contains(string(m.Data), "Subject: Verify your email address"):
				verify = i
			case strings.Contains(string(m.Data), "Subject: Someone tried to sign up with your email address"):
				notice = i
			}
		}
		if verify == notice || msgs[notice].To[0] != "newbie@example.com" {
			t.Fatalf("want a verification and a notice: %v", msgs)
		}
		if _, err := e.svc.VerifyEmail(ctx, tokenOf(t, mailLink(t, msgs[verify]))); err != nil {
			t.Fatal(err)
		}
		if !e.reload(u).EmailVerified {
			t.Fatal("not verified")
		}
	})
}

func TestChangePasswordPolicyAndHistory(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", map[string]any{"passwordPolicy": "low", "password_history": map[string]any{"enable": true, "size": 3},
			"password_no_personal_info": map[string]any{"enable": true}})
		u := e.user("db", "hist@example.com", "first-pass")
		e.db.User.UpdateOne(u).SetName("Hildegard Stone").SetUserMetadata(map[string]any{"first": "Hilde"}).ExecX(sys)
		u = e.reload(u)
		newSession(t, e, u.ID)
		var pe *policy.Error
		change := func(pw string) error { return e.svc.ChangePassword(sys, e.db, e.reload(u), pw) }
		if err := change("first-pass"); !errors.As(err, &pe) || pe.Code != policy.CodeHistory || pe.Message != "Password has previously been used" {
			t.Fatalf("current password reused: %v", err)
		}
		if err := change("stone-cold-99"); !errors.As(err, &pe) || pe.Code != policy.CodeNoPersonal {
			t.Fatalf("personal info: %v", err)
		}
		if err := change("x"); !errors.As(err, &pe) || pe.Code != policy.CodeStrength {
			t.Fatalf("too short: %v", err)
		}
		for _, pw := range []string{"second-pass", "third-pass"} {
			if err := change(pw); err != nil {
				t.Fatal(err)
			}
		}
		if n := liveSessions(t, e, u.ID); n != 0 {
			t.Fatal("password change kept sessions")
		}
		// History of 3: the current and the two before it.
		for _, pw := range []string{"first-pass", "second-pass", "third-pass"} {
			if err := change(pw); !errors.As(err, &pe) || pe.Code != policy.CodeHistory {
				t.Fatalf("%q reused: %v", pw, err)
			}
		}
		if err := change("fourth-pass"); err != nil {
			t.Fatal(err)
		}
		// first-pass has left the window of 3.
		if err := change("first-pass"); err != nil {
			t.Fatalf("first-pass after 3 changes: %v", err)
		}
		idn := u.QueryIdentities().OnlyX(sys)
		if len(idn.PasswordHistory) != 2 {
			t.Fatalf("history keeps %d hashes, want 2", len(idn.PasswordHistory))
		}
		if e.lastLog("scp").UserID != u.UserID || e.lastLog("fcp").UserID != u.UserID {
			t.Fatal("scp/fcp")
		}
	})
}
