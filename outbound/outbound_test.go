package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	for addr, want := range map[string]class{
		"8.8.8.8":                public,
		"2606:4700::1111":        public,
		"127.0.0.1":              private,
		"127.1.2.3":              private,
		"::1":                    private,
		"::ffff:127.0.0.1":       private, // IPv4-mapped
		"10.1.2.3":               private,
		"172.31.255.255":         private,
		"192.168.1.1":            private,
		"100.64.0.1":             private, // CGNAT
		"fd12:3456::1":           private, // ULA
		"2002:c0a8:101::1":       private, // 6to4 of 192.168.1.1
		"64:ff9b::7f00:1":        private, // NAT64 of 127.0.0.1
		"169.254.169.254":        refused, // cloud metadata
		"::ffff:169.254.169.254": refused,
		"64:ff9b::a9fe:a9fe":     refused, // NAT64 of the metadata address
		"fd00:ec2::254":          refused, // AWS metadata over IPv6
		"100.100.100.200":        refused, // Alibaba metadata
		"168.63.129.16":          refused, // Azure
		"0.0.0.0":                refused,
		"::":                     refused,
		"224.0.0.1":              refused,
		"ff02::1":                refused,
		"255.255.255.255":        refused,
		"fe80::1":                refused,
		"fe80::1%eth0":           refused,
		"2001:db8::1":            refused,
		"2001:0:4136:e378::1":    refused, // Teredo
	} {
		if got := classify(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: class %d, want %d", addr, got, want)
		}
	}
	// The metadata address stays refused even where private ones are allowed.
	p := policy{allowPrivate: true}
	if err := p.check("169.254.169.254:80"); !errors.Is(err, ErrAddressRefused) {
		t.Fatalf("metadata with allow_private_network: %v", err)
	}
	if err := p.check("10.0.0.1:443"); err != nil {
		t.Fatalf("private with allow_private_network: %v", err)
	}
}

// tlsServer is an https server on loopback and the client options that
// trust its certificate.
func tlsServer(t *testing.T, h http.Handler) (*httptest.Server, Options) {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused dials abort handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tc := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	return srv, Options{tlsConfig: tc}
}

func get(c *http.Client, u string) (string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })

// A loopback server, over http or https, and by name or by address, is
// refused by default and reached with AllowPrivateNetwork.
func TestLoopbackRefusedUnlessAllowed(t *testing.T) {
	plain := httptest.NewServer(hello)
	defer plain.Close()
	secure, o := tlsServer(t, hello)
	byName := strings.Replace(secure.URL, "127.0.0.1", "localhost", 1)

	o.Failures = &FailureCache{}
	strict := New(o)
	if _, err := get(strict, plain.URL); !errors.Is(err, ErrSchemeRefused) {
		t.Fatalf("http loopback: %v", err)
	}
	for _, u := range []string{secure.URL, byName} {
		if _, err := get(strict, u); !errors.Is(err, ErrAddressRefused) {
			t.Fatalf("https loopback %s: %v", u, err)
		}
	}

	// A shared failure cache: the refusals above do not stick to a client
	// that may reach private networks.
	o.AllowPrivateNetwork = true
	open := New(o)
	for _, u := range []string{plain.URL, secure.URL} {
		if body, err := get(open, u); err != nil || body != "hello" {
			t.Fatalf("allowed %s: %q %v", u, body, err)
		}
	}
	// Plain http is for private networks only, even when allowed.
	if err := (policy{allowPrivate: true, privateOnly: true}).check("93.184.215.14:80"); !errors.Is(err, ErrAddressRefused) {
		t.Fatalf("plain http to a public address: %v", err)
	}
}

// A public host (a loopback server the test treats as public) redirecting
// to a loopback one, or to plain http, is refused at the redirect; redirect
// chains are capped.
func TestRedirectsAreChecked(t *testing.T) {
	target, o := tlsServer(t, hello)
	plain := httptest.NewServer(hello)
	defer plain.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/to-loopback", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/secret", http.StatusFound)
	})
	mux.HandleFunc("/to-http", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL, http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.Handle("/ok", hello)
	front := httptest.NewUnstartedServer(mux)
	front.Config.ErrorLog = log.New(io.Discard, "", 0)
	front.TLS = &tls.Config{Certificates: target.TLS.Certificates} // the certificate o trusts
	front.StartTLS()
	defer front.Close()
	frontAddr := netip.MustParseAddrPort(front.Listener.Addr().String())
	o.public = func(ap netip.AddrPort) bool { return ap == frontAddr }
	c := New(o)

	if body, err := get(c, front.URL+"/ok"); err != nil || body != "hello" {
		t.Fatalf("public host: %q %v", body, err)
	}
	if _, err := get(c, front.URL+"/to-loopback"); !errors.Is(err, ErrAddressRefused) {
		t.Fatalf("redirect to loopback: %v", err)
	}
	if _, err := get(c, front.URL+"/to-http"); !errors.Is(err, ErrSchemeRefused) {
		t.Fatalf("redirect to http: %v", err)
	}
	if _, err := get(c, front.URL+"/loop"); !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("redirect loop: %v", err)
	}
}

func TestBodyCap(t *testing.T) {
	const limit = 1000
	srv, o := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := limit
		if r.URL.Path != "/exact" {
			n++
		}
		if r.URL.Path == "/declared" {
			w.Header().Set("Content-Length", "1001")
		} else {
			w.(http.Flusher).Flush() // chunked: no length announced
		}
		w.Write([]byte(strings.Repeat("x", n)))
	}))
	o.AllowPrivateNetwork, o.MaxBody = true, limit
	c := New(o)
	if body, err := get(c, srv.URL+"/exact"); err != nil || len(body) != limit {
		t.Fatalf("body of exactly the cap: %d %v", len(body), err)
	}
	for _, p := range []string{"/chunked", "/declared"} {
		if _, err := get(c, srv.URL+p); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s over the cap: %v", p, err)
		}
	}
}

// A slow upstream times out, and the failure is remembered: the same URL
// fails at once without reaching the upstream until the failure expires.
func TestTimeoutAndFailureCache(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	srv, o := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer close(release)
	now := time.Now()
	o.AllowPrivateNetwork, o.Timeout = true, 300*time.Millisecond
	o.Failures = &FailureCache{Now: func() time.Time { return now }}
	c := New(o)

	start := time.Now()
	_, err := get(c, srv.URL+"/slow")
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) > 5*time.Second {
		t.Fatalf("slow upstream: %v after %v", err, time.Since(start))
	}
	if _, err := get(c, srv.URL+"/slow"); !errors.Is(err, ErrRecentFailure) {
		t.Fatalf("second try: %v", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("upstream hit %d times", hits.Load())
	}

	// A 5xx is returned, then remembered; other URLs are unaffected.
	if resp, err := c.Get(srv.URL + "/down"); err != nil || resp.StatusCode != 503 {
		t.Fatalf("first 503: %v", err)
	}
	if _, err := get(c, srv.URL+"/down?other=query"); !errors.Is(err, ErrRecentFailure) {
		t.Fatalf("503 not remembered: %v", err)
	}
	if _, err := get(c, srv.URL+"/fine"); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 3 {
		t.Fatalf("upstream hit %d times, want 3", hits.Load())
	}
	now = now.Add(DefaultFailureTTL)
	if resp, err := c.Get(srv.URL + "/down"); err != nil || resp.StatusCode != 503 || hits.Load() != 4 {
		t.Fatalf("after the TTL: %v, %d hits", err, hits.Load())
	}

	// A caller giving up is not the upstream's failure.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/slow", nil)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := c.Do(req); err == nil {
		t.Fatal("canceled request succeeded")
	}
	n := hits.Load()
	_, _ = get(New(Options{tlsConfig: o.tlsConfig, AllowPrivateNetwork: true, Timeout: 50 * time.Millisecond, Failures: o.Failures}), srv.URL+"/slow")
	if hits.Load() != n+1 {
		t.Fatalf("cancellation was cached: %d -> %d hits", n, hits.Load())
	}
}
