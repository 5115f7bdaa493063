// Package mail sends Authgraph's emails (address verification, password
// reset) through one Sender: SMTP in production (AUTHGRAPH_SMTP_URL), or a
// log-only sender for development.
package mail

import (
	"context"
	"errors"
	"log/slog"
	"strings"
)

// EnvSMTPURL names the variable configuring SMTP:
//
//	smtp://user:pass@host:587?from=no-reply@example.com   (STARTTLS when offered)
//	smtps://user:pass@host:465?from=no-reply@example.com  (implicit TLS)
//
// Without it, email is only logged (development).
const EnvSMTPURL = "AUTHGRAPH_SMTP_URL"

// Message is one email. Link is the action URL the message carries (a
// verification or reset link); only the log-only sender ever logs it.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
	Link    string
}

// Sender delivers messages.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrBadAddress is returned for a recipient or sender that could inject
// headers or is not an address.
var ErrBadAddress = errors.New("mail: invalid address")

// New returns the SMTP sender for rawURL, or a LogSender when rawURL is
// empty.
func New(rawURL string, logger *slog.Logger) (Sender, error) {
	if strings.TrimSpace(rawURL) == "" {
		return &LogSender{Logger: logger}, nil
	}
	return NewSMTP(rawURL)
}

// LogSender writes messages to the log instead of sending them: for
// development, where no mail server exists. It deliberately logs the
// message's Link at Info level, because the developer needs it to finish a
// signup or reset; no other sender ever logs a link, and LogSender must not be
// used in production (New picks it only when AUTHGRAPH_SMTP_URL is unset).
type LogSender struct{ Logger *slog.Logger }

// Send implements Sender.
func (s *LogSender) Send(_ context.Context, m Message) error {
	l := s.Logger
	if l == nil {
		l = slog.Default()
	}
	l.Info("email not sent (no AUTHGRAPH_SMTP_URL): development log-only sender",
		"to", m.To, "subject", m.Subject, "link", m.Link)
	return nil
}
