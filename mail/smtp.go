package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// SMTP sends through an SMTP server. The password stays in this struct: it
// is never logged and String() leaves it out.
type SMTP struct {
	Host     string // host name (TLS server name)
	Port     string
	Implicit bool // smtps: TLS from the first byte
	Username string
	password string
	From     string
	// TLSConfig overrides the TLS settings (tests; private CAs).
	TLSConfig *tls.Config
	// Timeout bounds one delivery (default 30 s).
	Timeout time.Duration
}

// NewSMTP parses smtp://user:pass@host:port or smtps://…; the `from` query
// parameter sets the sender (default no-reply@host).
func NewSMTP(rawURL string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's error would quote the URL, password included.
		return nil, fmt.Errorf("mail: %s is not a valid smtp:// or smtps:// URL", EnvSMTPURL)
	}
	s := &SMTP{Host: u.Hostname(), Port: u.Port()}
	switch u.Scheme {
	case "smtp":
		if s.Port == "" {
			s.Port = "587"
		}
	case "smtps":
		s.Implicit = true
		if s.Port == "" {
			s.Port = "465"
		}
	default:
		return nil, fmt.Errorf("mail: %s must start with smtp:// or smtps://", EnvSMTPURL)
	}
	if s.Host == "" {
		return nil, fmt.Errorf("mail: %s has no host", EnvSMTPURL)
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.password, _ = u.User.Password()
	}
	s.From = u.Query().Get("from")
	if s.From == "" {
		s.From = "no-reply@" + s.Host
	}
	if _, err := cleanAddress(s.From); err != nil {
		return nil, fmt.Errorf("mail: from address: %w", err)
	}
	return s, nil
}

// String describes the sender without its password.
func (s *SMTP) String() string {
	scheme := "smtp"
	if s.Implicit {
		scheme = "smtps"
	}
	user := ""
	if s.Username != "" {
		user = s.Username + ":***@"
	}
	return fmt.Sprintf("%s://%s%s", scheme, user, net.JoinHostPort(s.Host, s.Port))
}

// Send implements Sender: STARTTLS when the server offers it, AUTH PLAIN
// when credentials are configured (net/smtp refuses to send them unencrypted
// except to localhost).
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, err := cleanAddress(m.To)
	if err != nil {
		return err
	}
	from, _ := cleanAddress(s.From)
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(s.Host, s.Port)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("mail: connecting to %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if s.Implicit {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("mail: TLS with %s: %w", addr, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("mail: EHLO: %w", err)
	}
	if !s.Implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return fmt.Errorf("mail: STARTTLS: %w", err)
			}
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.password, s.Host)); err != nil {
			return fmt.Errorf("mail: AUTH: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("mail: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := w.Write(compose(from, to, m)); err != nil {
		return fmt.Errorf("mail: writing message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: sending message: %w", err)
	}
	return c.Quit()
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.TLSConfig != nil {
		c := s.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = s.Host
		}
		return c
	}
	return &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

// cleanAddress accepts one bare address, refusing anything that could break
// out of a header line.
func cleanAddress(a string) (string, error) {
	if strings.ContainsAny(a, "\r\n<>") {
		return "", ErrBadAddress
	}
	p, err := mail.ParseAddress(a)
	if err != nil || p.Name != "" {
		return "", ErrBadAddress
	}
	return p.Address, nil
}

// compose builds a multipart/alternative (text + HTML) message.
func compose(from, to string, m Message) []byte {
	var b bytes.Buffer
	boundary := randomHex(16)
	subject := strings.NewReplacer("\r", " ", "\n", " ").Replace(m.Subject)
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from)
	hdr("To", to)
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", time.Now().UTC().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+randomHex(16)+"@"+domainOf(from)+">")
	hdr("MIME-Version", "1.0")
	hdr("Auto-Submitted", "auto-generated")
	if m.HTML == "" {
		hdr("Content-Type", `text/plain; charset="utf-8"`)
		hdr("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		writeQP(&b, m.Text)
		return b.Bytes()
	}
	hdr("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ ctype, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		fmt.Fprintf(&b, "--%s\r\n", boundary)
		fmt.Fprintf(&b, "Content-Type: %s; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", part.ctype)
		writeQP(&b, part.body)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

func writeQP(b *bytes.Buffer, s string) {
	w := quotedprintable.NewWriter(b)
	_, _ = w.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")))
	_ = w.Close()
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
