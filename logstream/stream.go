package logstream

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/server/apiv2"
	"github.com/authgraph/authgraph/store"
)

// Headers of a delivery. The signature is HMAC-SHA256, keyed with the
// stream's secret, of "<timestamp>.<body>": a receiver recomputes it,
// compares in constant time and refuses a timestamp too far from its clock,
// so a captured delivery cannot be replayed later (docs/LOGS.md).
const (
	SignatureHeader = "X-Authgraph-Signature"
	TimestampHeader = "X-Authgraph-Timestamp"
)

// Config configures a webhook stream.
type Config struct {
	DB *store.DB
	// URL receives the POSTs (http or https).
	URL string
	// Secret keys the signature; empty sends no signature header.
	Secret string
	// Name keys the stream's cursor (default "default").
	Name string
	// StartAt is where a stream without a cursor starts (zero: now).
	StartAt time.Time
	// BatchSize is the most events per POST (default 100).
	BatchSize int
	// Poll is how often the log is read when idle (default 1s); Lag as
	// DefaultLag.
	Poll, Lag time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed deliveries
	// (defaults 1s and 30s); Timeout bounds one POST (default 10s).
	MinBackoff, MaxBackoff, Timeout time.Duration
	// Lease is how long a node holds the stream without renewing it
	// (default 60s); another node takes over after it.
	Lease time.Duration
	// HTTP sends the POSTs (default: a client without redirects).
	HTTP   *http.Client
	Logger *slog.Logger
	// Holder names this node in the lease (default host/pid/random).
	Holder string
}

// Item is one event in a delivery: Auth0's log-stream body shape.
type Item struct {
	LogID string         `json:"log_id"`
	Data  apiv2.LogEvent `json:"data"`
}

// ErrBadURL is returned by Validate for a URL that cannot receive a stream.
var ErrBadURL = errors.New("log stream URL must be an absolute http:// or https:// URL")

// Validate checks the stream's URL.
func Validate(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ErrBadURL
	}
	return nil
}

// Streamer posts the log to a webhook.
type Streamer struct {
	c Config
}

// New checks c and fills its defaults.
func New(c Config) (*Streamer, error) {
	if err := Validate(c.URL); err != nil {
		return nil, err
	}
	if c.Name == "" {
		c.Name = "default"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Lag <= 0 {
		c.Lag = DefaultLag
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(30*time.Second, c.MinBackoff)
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Lease <= 0 {
		c.Lease = 60 * time.Second
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Holder == "" {
		host, _ := os.Hostname()
		c.Holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), pulid.MustNew("lss_")[4:])
	}
	return &Streamer{c: c}, nil
}

// errLeaseLost stops a delivery loop whose node no longer holds the stream.
var errLeaseLost = errors.New("log stream lease lost")

// Run streams until ctx ends. While another node holds the stream it
// waits, and takes over when that node's lease lapses.
func (s *Streamer) Run(ctx context.Context) error {
	if err := s.ensureTable(ctx); err != nil {
		return err
	}
	defer s.release()
	holding := false
	for ctx.Err() == nil {
		cursor, ok, err := s.claim(ctx)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.c.Logger.Warn("log stream: claiming the stream", "err", err)
			}
		case !ok:
			if holding {
				s.c.Logger.Info("log stream: another node took over the stream")
				holding = false
			}
		default:
			if !holding {
				s.c.Logger.Info("log stream: streaming", "url", redactedURL(s.c.URL), "after", cursor)
				holding = true
			}
			n, err := s.step(ctx, cursor)
			if err != nil && ctx.Err() == nil {
				s.c.Logger.Warn("log stream: stopped delivering", "err", err)
			}
			if n == s.c.BatchSize && err == nil {
				continue // more waiting
			}
		}
		wait := s.c.Poll
		if !holding {
			// A standby node checks the lease less often.
			wait = max(s.c.Poll, s.c.Lease/4)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

// step delivers one batch after cursor and moves the cursor past it.
func (s *Streamer) step(ctx context.Context, cursor string) (int, error) {
	rows, err := Batch(ctx, s.c.DB.Ent, cursor, Filter{}, s.c.Lag, s.c.BatchSize)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	body, err := encode(rows)
	if err != nil {
		return 0, err
	}
	if err := s.deliver(ctx, body); err != nil {
		return 0, err
	}
	// Once the receiver has the batch, record it even if the node is
	// stopping (ctx cancelled right after the delivery): otherwise a
	// graceful restart would send the batch again.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return len(rows), s.advance(actx, string(rows[len(rows)-1].ID))
}

func encode(rows []*ent.LogEvent) ([]byte, error) {
	items := make([]Item, len(rows))
	for i, e := range rows {
		items[i] = Item{LogID: string(e.ID), Data: apiv2.LogJSON(e)}
	}
	return json.Marshal(items)
}

// deliver posts body until the receiver answers 2xx, backing off
// exponentially (with jitter) between attempts. The lease is renewed
// before each attempt, so a long outage does not hand the stream to
// another node that would send the same batch at the same time.
func (s *Streamer) deliver(ctx context.Context, body []byte) error {
	wait := s.c.MinBackoff
	for attempt := 1; ; attempt++ {
		if ok, err := s.renew(ctx); err != nil {
			return err
		} else if !ok {
			return errLeaseLost
		}
		err := s.post(ctx, body)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.c.Logger.Warn("log stream: delivery failed, retrying", "attempt", attempt, "in", wait.String(), "err", err)
		jitter := time.Duration(rand.Int64N(int64(wait)/5 + 1))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait + jitter):
		}
		wait = min(wait*2, s.c.MaxBackoff)
	}
}

// Sign returns the signature header's value for body sent at ts.
func Sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (s *Streamer) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.c.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	now := time.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Authgraph-LogStream/1")
	req.Header.Set(TimestampHeader, strconv.FormatInt(now.Unix(), 10))
	if s.c.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(s.c.Secret, now, body))
	}
	resp, err := s.c.HTTP.Do(req)
	if err != nil {
		// The client's error quotes the URL, query included, and it is
		// logged: a token in the webhook's query must not be.
		if ue := new(url.Error); errors.As(err, &ue) {
			ue.URL = redactedURL(s.c.URL)
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// redactedURL drops a URL's user info and query (they may hold a token).
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
