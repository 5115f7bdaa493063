package mail_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/mail"
)

func TestSMTPDeliversMultipartMessage(t *testing.T) {
	srv := testenv.StartSMTP(t)
	s, err := mail.NewSMTP(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.String(), srv.Password) || !strings.Contains(s.String(), "mailer:***@") {
		t.Fatalf("String() = %q leaks or hides too much", s.String())
	}
	m := mail.ResetEmail(mail.LinkData{Email: "ünï@example.com", Link: "https://id.example/login/reset?ticket=abc", Expires: time.Now().Add(time.Hour)})
	m.To = "user@example.com"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitForMessages(t, 1, 5*time.Second)[0]
	if got.From != "authgraph@example.test" || len(got.To) != 1 || got.To[0] != "user@example.com" || got.AuthUser != "mailer" {
		t.Fatalf("envelope: %+v", got)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Subject") != "Reset your password" || msg.Header.Get("To") != "user@example.com" {
		t.Fatalf("headers: %v", msg.Header)
	}
	_, params, _ := strings.Cut(msg.Header.Get("Content-Type"), "boundary=")
	mr := multipart.NewReader(msg.Body, strings.Trim(params, `"`))
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // multipart decodes quoted-printable itself
		parts = append(parts, p.Header.Get("Content-Type")+"\n"+string(b))
	}
	if len(parts) != 2 || !strings.HasPrefix(parts[0], "text/plain") || !strings.HasPrefix(parts[1], "text/html") {
		t.Fatalf("parts: %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(p, "https://id.example/login/reset?ticket=abc") {
			t.Fatalf("link missing from part:\n%s", p)
		}
	}
	if !strings.Contains(parts[1], "ünï@example.com") {
		t.Fatal("utf-8 lost")
	}
}

func TestSMTPRefusesBadCredentialsAndHeaderInjection(t *testing.T) {
	srv := testenv.StartSMTP(t)
	bad, err := mail.NewSMTP("smtp://mailer:wrong@" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "x", Text: "y"})
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad credentials: %v", err)
	}
	good, _ := mail.NewSMTP(srv.URL)
	if err := good.Send(context.Background(), mail.Message{To: "a@example.com\r\nBcc: victim@example.com", Subject: "x"}); !errors.Is(err, mail.ErrBadAddress) {
		t.Fatalf("injection: %v", err)
	}
	if err := good.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "hi\r\nBcc: victim@example.com", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	m := srv.WaitForMessages(t, 1, 5*time.Second)[0]
	if len(m.To) != 1 || strings.Contains(string(m.Data), "\r\nBcc:") {
		t.Fatalf("subject injection reached the headers:\n%s", m.Data)
	}
	if len(srv.Messages()) != 1 {
		t.Fatal("unexpected messages")
	}
}

func TestNewSMTPURLs(t *testing.T) {
	for _, c := range []struct {
		url, want string
		ok        bool
	}{
		{"smtp://u:p@mail.example", "smtp://u:***@mail.example:587", true},
		{"smtps://mail.example", "smtps://mail.example:465", true},
		{"smtp://mail.example:2525?from=me@example.com", "smtp://mail.example:2525", true},
		{"http://mail.example", "", false},
		{"smtp://", "", false},
		{"smtp://u:secret@mail.example?from=bad%0D%0Ax", "", false},
	} {
		s, err := mail.NewSMTP(c.url)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error leaks the password: %v", c.url, err)
		}
		if err == nil && s.String() != c.want {
			t.Errorf("%s: String() = %s", c.url, s.String())
		}
	}
}

func TestLogSenderLogsTheLinkForDevelopers(t *testing.T) {
	var buf bytes.Buffer
	s, err := mail.New("", slog.New(slog.NewJSONHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m := mail.VerificationEmail(mail.LinkData{Email: "dev@example.com", Link: "http://127.0.0.1/login/verify?ticket=T", Expires: time.Now()})
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"level":"INFO"`, `"to":"dev@example.com"`, `"subject":"Verify your email address"`, `ticket=T`} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("log %s lacks %s", buf.String(), want)
		}
	}
}
