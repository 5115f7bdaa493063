package testenv

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// SMTPServer is a real SMTP server (the RFC 5321 subset a submission client
// uses: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) running
// in-process on 127.0.0.1 and keeping every accepted message in memory. It
// offers no STARTTLS, so clients exercise their plaintext path; net/smtp sends
// credentials in clear only to localhost, which this is.
type SMTPServer struct {
	// Addr is host:port; URL is smtp://user:pass@Addr for AUTHGRAPH_SMTP_URL.
	Addr     string
	URL      string
	Username string
	Password string

	ln       net.Listener
	mu       sync.Mutex
	messages []SMTPMessage
	notify   chan struct{}
	wg       sync.WaitGroup
}

// SMTPMessage is one accepted message.
type SMTPMessage struct {
	From string
	To   []string
	// AuthUser is the user that authenticated, empty without AUTH.
	AuthUser string
	// Data is the raw message (headers and body), dot-unstuffed, CRLF lines.
	Data []byte
}

// StartSMTP starts a server requiring AUTH PLAIN with user "mailer" and a
// random password, stopped when the test ends.
func StartSMTP(t testing.TB) *SMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: smtp listen: %v", err)
	}
	s := &SMTPServer{
		Addr:     ln.Addr().String(),
		Username: "mailer",
		Password: "pw-" + NewDatabaseName()[3:],
		ln:       ln,
		notify:   make(chan struct{}, 1),
	}
	s.URL = (&url.URL{Scheme: "smtp", User: url.UserPassword(s.Username, s.Password), Host: s.Addr,
		RawQuery: "from=authgraph%40example.test"}).String()
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// Messages returns the messages accepted so far.
func (s *SMTPServer) Messages() []SMTPMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPMessage(nil), s.messages...)
}

// WaitForMessages waits until at least n messages were accepted and returns
// them; it fails the test after timeout.
func (s *SMTPServer) WaitForMessages(t testing.TB, n int, timeout time.Duration) []SMTPMessage {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("testenv: smtp: %d message(s) after %v, want %d", len(s.Messages()), timeout, n)
		}
	}
}

func (s *SMTPServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(time.Minute))
			s.session(c)
		}()
	}
}

func (s *SMTPServer) session(c net.Conn) {
	r := bufio.NewReader(c)
	reply := func(format string, args ...any) { fmt.Fprintf(c, format+"\r\n", args...) }
	reply("220 testenv ESMTP ready")
	var (
		authed string
		from   string
		to     []string
		inTx   bool
	)
	readLine := func() (string, bool) {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", false
		}
		return strings.TrimRight(line, "\r\n"), true
	}
	for {
		line, ok := readLine()
		if !ok {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			reply("250-testenv greets %s", arg)
			reply("250-8BITMIME")
			reply("250 AUTH PLAIN")
		case "HELO":
			reply("250 testenv")
		case "AUTH":
			mech, initial, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				reply("504 5.5.4 unrecognized authentication type")
				continue
			}
			if initial == "" {
				reply("334 ")
				if initial, ok = readLine(); !ok {
					return
				}
			}
			raw, err := base64.StdEncoding.DecodeString(initial)
			parts := bytes.Split(raw, []byte{0})
			if err != nil || len(parts) != 3 || string(parts[1]) != s.Username || string(parts[2]) != s.Password {
				reply("535 5.7.8 authentication credentials invalid")
				continue
			}
			authed = string(parts[1])
			reply("235 2.7.0 authentication successful")
		case "MAIL":
			if authed == "" {
				reply("530 5.7.0 authentication required")
				continue
			}
			from, to, inTx = addrOf(arg), nil, true
			reply("250 2.1.0 ok")
		case "RCPT":
			if !inTx {
				reply("503 5.5.1 need MAIL first")
				continue
			}
			to = append(to, addrOf(arg))
			reply("250 2.1.5 ok")
		case "DATA":
			if !inTx || len(to) == 0 {
				reply("503 5.5.1 need RCPT first")
				continue
			}
			reply("354 end data with <CR><LF>.<CR><LF>")
			var data bytes.Buffer
			for {
				l, ok := readLine()
				if !ok {
					return
				}
				if l == "." {
					break
				}
				data.WriteString(strings.TrimPrefix(l, ".")) // dot-unstuffing
				data.WriteString("\r\n")
			}
			s.mu.Lock()
			s.messages = append(s.messages, SMTPMessage{From: from, To: to, AuthUser: authed, Data: data.Bytes()})
			s.mu.Unlock()
			select {
			case s.notify <- struct{}{}:
			default:
			}
			inTx, from, to = false, "", nil
			reply("250 2.0.0 queued")
		case "RSET":
			inTx, from, to = false, "", nil
			reply("250 2.0.0 ok")
		case "NOOP":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 command not implemented")
		}
	}
}

// addrOf extracts the address from "FROM:<a@b> SIZE=…" or "TO:<a@b>".
func addrOf(arg string) string {
	if i := strings.IndexByte(arg, '<'); i >= 0 {
		if j := strings.IndexByte(arg[i:], '>'); j > 0 {
			return arg[i+1 : i+j]
		}
	}
	_, a, _ := strings.Cut(arg, ":")
	return strings.TrimSpace(a)
}
