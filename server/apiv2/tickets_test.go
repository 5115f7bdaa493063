package apiv2_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/mail"
)

// btOpen GETs a ticket link and returns the status.
func btOpen(t testing.TB, s *apitest.Server, link string) int {
	t.Helper()
	if !strings.HasPrefix(link, s.Issuer) {
		t.Fatalf("link %q is not under the issuer %s", link, s.Issuer)
	}
	resp, err := s.HTTP.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func btTickets(t testing.TB, s *apitest.Server) int {
	t.Helper()
	return s.Deps.DB.Ent.Ticket.Query().CountX(btSys)
}

func TestTickets(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		admin := scopedSDK(t, s)
		uid := btUser(t, s, "carol@example.com")
		conn := s.Deps.DB.Ent.Connection.Query().Where(connection.Name(btConn)).OnlyX(btSys)

		t.Run("password change", func(t *testing.T) {
			tk := &management.Ticket{UserID: &uid, ResultURL: btStr("https://app.example.com/done"),
				TTLSec: btInt(3600), MarkEmailAsVerified: btBool(true)}
			if err := admin.Ticket.ChangePassword(ctx, tk); err != nil {
				t.Fatal(err)
			}
			first := tk.GetTicket()
			if !strings.Contains(first, "/login/reset?ticket=") {
				t.Fatalf("ticket %q", first)
			}
			if st := btOpen(t, s, first); st != http.StatusOK {
				t.Fatalf("opening the ticket: %d", st)
			}
			// By email and connection_id; the newer ticket replaces the first.
			tk2 := &management.Ticket{Email: btStr("Carol@Example.com"), ConnectionID: btStr(string(conn.ID)), TTLSec: btInt(0)}
			if err := admin.Ticket.ChangePassword(ctx, tk2); err != nil {
				t.Fatal(err)
			}
			if st := btOpen(t, s, tk2.GetTicket()); st != http.StatusOK {
				t.Fatalf("opening the second ticket: %d", st)
			}
			if st := btOpen(t, s, first); st != http.StatusBadRequest {
				t.Fatalf("the replaced ticket opened: %d", st)
			}
			if n := btAudits(t, s, "createPasswordChangeTicket"); n != 2 {
				t.Fatalf("%d audit entries", n)
			}
		})

		t.Run("email verification", func(t *testing.T) {
			tk := &management.Ticket{UserID: &uid, ResultURL: btStr("http://app.example.com/verified")}
			if err := admin.Ticket.VerifyEmail(ctx, tk); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(tk.GetTicket(), "/login/verify?ticket=") {
				t.Fatalf("ticket %q", tk.GetTicket())
			}
			if st := btOpen(t, s, tk.GetTicket()); st != http.StatusOK {
				t.Fatalf("opening the ticket: %d", st)
			}
			if n := btAudits(t, s, "createEmailVerificationTicket"); n != 1 {
				t.Fatalf("%d audit entries", n)
			}
			// identity: the user's own only.
			status, raw := btRaw(t, s, "", http.MethodPost, "/tickets/email-verification",
				`{"user_id":"`+uid+`","identity":{"user_id":"`+strings.TrimPrefix(uid, "auth0|")+`","provider":"auth0"}}`)
			if status != http.StatusCreated || !strings.Contains(string(raw), `"ticket":"`) {
				t.Fatalf("with identity: %d %s", status, raw)
			}
		})

		t.Run("refused", func(t *testing.T) {
			tickets := btTickets(t, s)
			audits := btAudits(t, s, "createPasswordChangeTicket") + btAudits(t, s, "createEmailVerificationTicket")
			noScope := scopedSDK(t, s, "read:users", "update:users")
			expectStatus(t, noScope.Ticket.ChangePassword(ctx, &management.Ticket{UserID: &uid}), http.StatusForbidden, "password change without create:user_tickets")
			expectStatus(t, noScope.Ticket.VerifyEmail(ctx, &management.Ticket{UserID: &uid}), http.StatusForbidden, "verification without create:user_tickets")
			bad := map[string]*management.Ticket{
				"no user":                  {},
				"email without connection": {Email: btStr("carol@example.com")},
				"user and email":           {UserID: &uid, Email: btStr("carol@example.com"), ConnectionID: btStr(string(conn.ID))},
				"ttl too short":            {UserID: &uid, TTLSec: btInt(59)},
				"ttl too long":             {UserID: &uid, TTLSec: btInt(30*86400 + 1)},
				"negative ttl":             {UserID: &uid, TTLSec: btInt(-1)},
				"relative result_url":      {UserID: &uid, ResultURL: btStr("/done")},
				"javascript result_url":    {UserID: &uid, ResultURL: btStr("javascript:alert(1)")},
				"includeEmailInRedirect":   {UserID: &uid, IncludeEmailInRedirect: btBool(true)},
				"organization":             {UserID: &uid, OrganizationID: btStr("org_1")},
			}
			for name, tk := range bad {
				expectStatus(t, admin.Ticket.ChangePassword(ctx, tk), http.StatusBadRequest, "password change, "+name)
			}
			for _, name := range []string{"no user", "ttl too short", "relative result_url", "organization"} {
				expectStatus(t, admin.Ticket.VerifyEmail(ctx, bad[name]), http.StatusBadRequest, "verification, "+name)
			}
			expectStatus(t, admin.Ticket.VerifyEmail(ctx, &management.Ticket{UserID: &uid, MarkEmailAsVerified: btBool(true)}),
				http.StatusBadRequest, "verification with mark_email_as_verified")
			for _, body := range []string{`{"user_id":"` + uid + `","extra":1}`, `{"user_id":5}`, `{"user_id":"` + uid + `"`, ``} {
				status, raw := btRaw(t, s, "", http.MethodPost, "/tickets/password-change", body)
				btRawError(t, status, raw, http.StatusBadRequest, "invalid_body")
			}
			status, raw := btRaw(t, s, "", http.MethodPost, "/tickets/email-verification",
				`{"user_id":"`+uid+`","identity":{"user_id":"other","provider":"google-oauth2"}}`)
			btRawError(t, status, raw, http.StatusBadRequest, "invalid_body")
			expectStatus(t, admin.Ticket.ChangePassword(ctx, &management.Ticket{UserID: btStr("auth0|nobody")}), http.StatusNotFound, "unknown user")
			expectStatus(t, admin.Ticket.VerifyEmail(ctx, &management.Ticket{UserID: btStr("auth0|nobody")}), http.StatusNotFound, "unknown user")
			expectStatus(t, admin.Ticket.ChangePassword(ctx, &management.Ticket{Email: btStr("nobody@example.com"), ConnectionID: btStr(string(conn.ID))}),
				http.StatusNotFound, "unknown email")
			expectStatus(t, admin.Ticket.ChangePassword(ctx, &management.Ticket{Email: btStr("carol@example.com"), ConnectionID: btStr("con_01JNOPE0000000000000000000")}),
				http.StatusNotFound, "unknown connection")
			now := btTickets(t, s)
			nowAudits := btAudits(t, s, "createPasswordChangeTicket") + btAudits(t, s, "createEmailVerificationTicket")
			if now != tickets || nowAudits != audits {
				t.Fatalf("refused requests wrote: tickets %d→%d, audits %d→%d", tickets, now, audits, nowAudits)
			}
		})
	})
}

func TestVerificationEmailJob(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		smtp := testenv.StartSMTP(t)
		sender, err := mail.New(smtp.URL, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		s.Deps.Auth.Mail = sender
		admin := scopedSDK(t, s)
		uid := btUser(t, s, "dave@example.com")

		var jobID string
		t.Run("send", func(t *testing.T) {
			before := time.Now().Add(-time.Second)
			job := &management.Job{UserID: &uid}
			if err := scopedSDK(t, s, "update:users").Job.VerifyEmail(ctx, job); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(job.GetID(), "job_") || job.GetType() != "verification_email" || job.GetStatus() != "pending" ||
				job.GetCreatedAt().Before(before) || job.GetCreatedAt().After(time.Now()) {
				t.Fatalf("job %+v", job)
			}
			jobID = job.GetID()
			msgs := smtp.WaitForMessages(t, 1, 10*time.Second)
			if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "dave@example.com" {
				t.Fatalf("messages: %+v", msgs)
			}
			link := btMailedLink(t, string(msgs[0].Data), s.Issuer+"login/verify?ticket=")
			if st := btOpen(t, s, link); st != http.StatusOK {
				t.Fatalf("opening the mailed link: %d", st)
			}
			if n := btAudits(t, s, "sendVerificationEmail"); n != 1 {
				t.Fatalf("%d audit entries", n)
			}

			read, err := scopedSDK(t, s, "read:users").Job.Read(ctx, jobID)
			if err != nil {
				t.Fatal(err)
			}
			if read.GetID() != jobID || read.GetStatus() != "completed" || read.GetType() != "verification_email" ||
				!read.GetCreatedAt().Equal(job.GetCreatedAt()) {
				t.Fatalf("read back %+v, created %+v", read, job)
			}
			// With identity (the user's own) and client_id.
			job2 := &management.Job{UserID: &uid, ClientID: btStr(s.AdminID),
				Identity: &management.UserIdentity{UserID: btStr(strings.TrimPrefix(uid, "auth0|")), Provider: btStr("auth0")}}
			if err := admin.Job.VerifyEmail(ctx, job2); err != nil {
				t.Fatal(err)
			}
			smtp.WaitForMessages(t, 2, 10*time.Second)
		})

		t.Run("refused", func(t *testing.T) {
			root := btUser(t, s, "root@example.com")
			s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!) { grantAdmin(userId: $id, scopes: ["read:users", "delete:users"]) { id } }`,
				map[string]any{"id": root}, nil)
			sent, tickets, audits := len(smtp.Messages()), btTickets(t, s), btAudits(t, s, "sendVerificationEmail")
			expectStatus(t, scopedSDK(t, s, "read:users", "create:user_tickets").Job.VerifyEmail(ctx, &management.Job{UserID: &uid}),
				http.StatusForbidden, "without update:users")
			_, err := scopedSDK(t, s, "update:users").Job.Read(ctx, jobID)
			expectStatus(t, err, http.StatusForbidden, "read without read:users")
			expectStatus(t, admin.Job.VerifyEmail(ctx, &management.Job{}), http.StatusBadRequest, "no user_id")
			expectStatus(t, admin.Job.VerifyEmail(ctx, &management.Job{UserID: &uid, OrganizationID: btStr("org_1")}),
				http.StatusBadRequest, "organization_id")
			expectStatus(t, admin.Job.VerifyEmail(ctx, &management.Job{UserID: &uid,
				Identity: &management.UserIdentity{UserID: btStr("123"), Provider: btStr("google-oauth2")}}),
				http.StatusBadRequest, "another identity")
			expectStatus(t, admin.Job.VerifyEmail(ctx, &management.Job{UserID: &uid, Identity: &management.UserIdentity{Provider: btStr("auth0")}}),
				http.StatusBadRequest, "identity without user_id")
			expectStatus(t, admin.Job.VerifyEmail(ctx, &management.Job{UserID: &uid, Format: btStr("csv")}),
				http.StatusBadRequest, "a users-export property")
			expectStatus(t, admin.Job.VerifyEmail(ctx, &management.Job{UserID: btStr("auth0|nobody")}), http.StatusNotFound, "unknown user")
			for _, id := range []string{"job_01JNOPE0000000000000000000", "job_nope", "usr_01JNOPE0000000000000000000"} {
				_, err = admin.Job.Read(ctx, id)
				expectStatus(t, err, http.StatusNotFound, "unknown job "+id)
			}
			// An administrator's mailbox link needs the administrator's scopes.
			expectStatus(t, scopedSDK(t, s, "update:users").Job.VerifyEmail(ctx, &management.Job{UserID: &root}), http.StatusForbidden, "an administrator")
			time.Sleep(200 * time.Millisecond) // a wrongly sent email would have arrived
			if n, tk, a := len(smtp.Messages()), btTickets(t, s), btAudits(t, s, "sendVerificationEmail"); n != sent || tk != tickets || a != audits {
				t.Fatalf("refused requests wrote: mails %d→%d, tickets %d→%d, audits %d→%d", sent, n, tickets, tk, audits, a)
			}
			if v := s.Deps.DB.Ent.User.Query().Where(user.UserID(uid)).OnlyX(btSys).EmailVerified; v {
				t.Fatal("email verified without the link being used")
			}
		})
	})
}

// btMailedLink finds the link starting with prefix in a raw message
// (quoted-printable soft breaks undone).
func btMailedLink(t testing.TB, data, prefix string) string {
	t.Helper()
	data = strings.ReplaceAll(data, "=\r\n", "")
	data = strings.ReplaceAll(data, "=3D", "=")
	i := strings.Index(data, prefix)
	if i < 0 {
		t.Fatalf("no %s link in:\n%s", prefix, data)
	}
	end := strings.IndexAny(data[i:], " \r\n\"<>")
	if end < 0 {
		end = len(data) - i
	}
	return data[i : i+end]
}

func btStr(s string) *string { return &s }
func btInt(n int) *int       { return &n }
func btBool(b bool) *bool    { return &b }
