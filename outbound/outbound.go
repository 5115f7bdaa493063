// Package outbound is the one HTTP client Authgraph reaches other servers
// with: OpenID discovery and JWKS, token and userinfo endpoints, SAML IdP
// metadata and artifact resolution, the GitHub and Google APIs.
//
// The URLs come from connection options, and some fetches are triggered by
// unauthenticated requests (a login page, the SAML SP endpoints), so the
// client defends against server-side request forgery:
//
//   - https only; plain http only with AllowPrivateNetwork, and then only to
//     a private or loopback address;
//   - every address actually dialed (after DNS resolution, for every
//     connection, redirects included) is checked in the dialer's control
//     hook, so DNS rebinding cannot slip a private address past a check on
//     the name: loopback, private (RFC 1918, ULA fc00::/7), CGNAT
//     100.64.0.0/10 are refused unless AllowPrivateNetwork; link-local,
//     cloud metadata (169.254.169.254, fd00:ec2::254, 100.100.100.200,
//     168.63.129.16), unspecified, multicast, broadcast, reserved and
//     documentation addresses are always refused;
//   - environment proxies are ignored (a proxy would be dialed instead of
//     the checked address);
//   - at most MaxRedirects redirects, each checked like the first request;
//   - timeouts on connect, TLS handshake, response headers and the whole
//     request; response headers and bodies are capped (ErrTooLarge);
//   - a failure (transport error or 5xx) is remembered per URL for
//     FailureTTL, during which the same request fails at once with
//     ErrRecentFailure, so that unauthenticated traffic cannot make the
//     server hammer an upstream.
package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/authgraph/authgraph/internal/tracing"
)

// Defaults.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBody      = 1 << 20
	DefaultMaxRedirects = 5
	DefaultFailureTTL   = 30 * time.Second

	dialTimeout         = 5 * time.Second
	tlsHandshakeTimeout = 5 * time.Second
	maxHeaderBytes      = 64 << 10
)

// Errors, wrapped with the details.
var (
	// ErrAddressRefused: the destination resolved to an address the client
	// may not reach.
	ErrAddressRefused = errors.New("outbound: destination address not allowed")
	// ErrSchemeRefused: not https (nor http to a private network when
	// allowed).
	ErrSchemeRefused = errors.New("outbound: only https URLs may be fetched")
	// ErrTooLarge: the response body exceeds the cap.
	ErrTooLarge = errors.New("outbound: response body too large")
	// ErrTooManyRedirects: more than MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("outbound: too many redirects")
	// ErrRecentFailure: the same request failed moments ago; it is not
	// retried before the failure expires.
	ErrRecentFailure = errors.New("outbound: failed recently, not retried yet")
)

// Options configure a client. The zero value is the strict default.
type Options struct {
	// AllowPrivateNetwork lets requests reach loopback, private and CGNAT
	// addresses, and use plain http to them (the connection option
	// allow_private_network: test IdPs, intranets). Link-local and cloud
	// metadata addresses stay refused.
	AllowPrivateNetwork bool
	// Timeout bounds a whole request, body included (DefaultTimeout).
	Timeout time.Duration
	// MaxBody bounds a response body (DefaultMaxBody).
	MaxBody int64
	// MaxRedirects bounds the redirects followed (DefaultMaxRedirects).
	MaxRedirects int
	// Failures remembers recent failures. Share one between the clients of
	// a service, so that a connector rebuilt after a failed start does not
	// forget it; nil gives the client its own.
	Failures *FailureCache

	// Test hooks, set only by tests of this package: trust for httptest TLS
	// servers, and loopback addresses to treat as public ones.
	tlsConfig *tls.Config
	public    func(netip.AddrPort) bool
}

// New returns a client applying o.
func New(o Options) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	if o.Failures == nil {
		o.Failures = &FailureCache{}
	}
	rt := &transport{o: o,
		https: newTransport(o, policy{allowPrivate: o.AllowPrivateNetwork, public: o.public}),
		// Plain http never crosses the internet: private addresses only.
		http: newTransport(o, policy{allowPrivate: true, privateOnly: true, public: o.public}),
	}
	maxRedirects := o.MaxRedirects
	return &http.Client{
		// A client span per call and traceparent on the request, when
		// tracing is on (internal/tracing); rt itself otherwise.
		Transport: tracing.Transport(rt),
		Timeout:   o.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("%w (%d)", ErrTooManyRedirects, maxRedirects)
			}
			return nil
		},
	}
}

func newTransport(o Options, p policy) *http.Transport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second, ControlContext: p.control}
	tc := o.tlsConfig
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		TLSClientConfig:        tc,
		TLSHandshakeTimeout:    tlsHandshakeTimeout,
		ResponseHeaderTimeout:  o.Timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxHeaderBytes,
		MaxIdleConns:           32,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
}

// transport routes each request (redirects included) by scheme, applies the
// failure cache and caps the body.
type transport struct {
	o           Options
	https, http *http.Transport
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var base *http.Transport
	switch {
	case req.URL.Scheme == "https":
		base = t.https
	case req.URL.Scheme == "http" && t.o.AllowPrivateNetwork:
		base = t.http
	default:
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w: %s://%s", ErrSchemeRefused, req.URL.Scheme, req.URL.Host)
	}
	key := failureKey(req)
	if t.o.AllowPrivateNetwork {
		// A refusal under the strict policy says nothing about this one.
		key = "private-network " + key
	}
	if err := t.o.Failures.recent(key); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		// The caller giving up says nothing about the upstream; a timeout
		// (the client's deadline included) does.
		if !errors.Is(err, context.Canceled) && !errors.Is(req.Context().Err(), context.Canceled) {
			t.o.Failures.record(key, err)
		}
		return nil, err
	}
	if resp.StatusCode >= 500 {
		t.o.Failures.record(key, fmt.Errorf("%s %s: %s", req.Method, redact(req), resp.Status))
	}
	if resp.ContentLength > t.o.MaxBody {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrTooLarge, resp.ContentLength, t.o.MaxBody)
	}
	resp.Body = &capped{rc: resp.Body, left: t.o.MaxBody}
	return resp, nil
}

// capped fails with ErrTooLarge once more than left bytes are read.
type capped struct {
	rc   io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One more byte tells a body of exactly the cap from a longer one.
		var one [1]byte
		n, err := c.rc.Read(one[:])
		if n > 0 {
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *capped) Close() error { return c.rc.Close() }
