package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// A nil registry records nothing and wraps nothing.
func TestNilRegistry(t *testing.T) {
	var r *Registry
	r.Login("c", LoginSuccess)
	r.BruteForceBlock("c")
	r.TokenIssued("client_credentials")
	r.TokenRefused("client_credentials", "invalid_client")
	r.RulesRun(RulesOK, time.Millisecond)
	r.RuleFailed("timeout")
	r.Script("login", ScriptOK, time.Millisecond)
	r.ScriptFailed("login", "trap")
	r.WatchDB("main", nil)
	h := http.NotFoundHandler()
	if r.Instrument(h) == nil || r.Routes(h, nil) == nil {
		t.Fatal("nil wrappers")
	}
}

// Routes labels with the innermost pattern (a nested ServeMux that gets
// the same request), the exact map under a subtree pattern, and never the
// raw path; Instrument counts answers of outer middleware as unmatched.
func TestHTTPRoutes(t *testing.T) {
	r := New()
	inner := http.NewServeMux()
	inner.HandleFunc("GET /api/v2/users/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux := http.NewServeMux()
	mux.Handle("/api/v2/", inner)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {}) // a handler without a mux
	outer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == "/too-large" {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
			next.ServeHTTP(w, req.WithContext(req.Context())) // a copy, as middleware makes
		})
	}
	h := r.Instrument(outer(r.Routes(mux, map[string]string{"/oauth/token": "/oauth/token"})))
	for _, u := range []string{"/api/v2/users/auth0|123", "/api/v2/users/auth0|456", "/healthz", "/oauth/token", "/nowhere/secret-id", "/too-large"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, u, nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/healthz", nil))
	for _, c := range []struct {
		route, method, code string
		want                float64
	}{
		{"/api/v2/users/{id}", "GET", "418", 2},
		{"/healthz", "GET", "200", 1},
		{"/oauth/token", "GET", "200", 1},
		{"/", "GET", "200", 1},
		{RouteUnmatched, "GET", "413", 1},
		{"/", "other", "200", 1}, // BREW /healthz matches no GET pattern: "/" serves it
	} {
		if got := testutil.ToFloat64(r.http.requests.WithLabelValues(c.route, c.method, c.code)); got != c.want {
			t.Errorf("requests{%s %s %s} = %v, want %v", c.route, c.method, c.code, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(r.http.requests); n != 6 {
		t.Errorf("%d request series, want 6", n)
	}
	out, _ := testutil.CollectAndFormat(r.http.requests, expfmt.TypeTextPlain)
	if s := string(out); strings.Contains(s, "123") || strings.Contains(s, "secret-id") {
		t.Errorf("a path leaked into a label:\n%s", s)
	}
}

// Connection names beyond the cap are reported as "other".
func TestDynamicLabelCap(t *testing.T) {
	r := New()
	for i := range maxDynamicLabels + 20 {
		r.Login(fmt.Sprintf("conn-%d", i), LoginFailure)
	}
	if n := testutil.CollectAndCount(r.logins); n != maxDynamicLabels+1 {
		t.Errorf("%d login series, want %d", n, maxDynamicLabels+1)
	}
	if got := testutil.ToFloat64(r.logins.WithLabelValues(labelOther, LoginFailure)); got != 20 {
		t.Errorf("other = %v, want 20", got)
	}
}

// Recording on the hot paths allocates nothing once the series exist.
func TestRecordingDoesNotAllocate(t *testing.T) {
	r := New()
	r.Login("Username-Password-Authentication", LoginSuccess)
	r.TokenRefused("client_credentials", "invalid_client")
	r.Script("login", "wrong_credentials", time.Millisecond)
	r.http.child("/graphql", "POST", 200)
	if n := testing.AllocsPerRun(100, func() {
		r.Login("Username-Password-Authentication", LoginSuccess)
		r.TokenIssued("client_credentials")
		r.TokenRefused("client_credentials", "invalid_client")
		r.RulesRun(RulesOK, time.Millisecond)
		r.Script("login", "wrong_credentials", time.Millisecond)
		c := r.http.child("/graphql", method("POST"), 200)
		c.count.Inc()
		c.dur.Observe(0.001)
	}); n != 0 {
		t.Errorf("%v allocations per recording", n)
	}
}

func TestHandlerServesRegistry(t *testing.T) {
	r := New()
	r.TokenIssued("client_credentials")
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`authgraph_tokens_issued_total{grant_type="client_credentials"} 1`,
		`authgraph_tokens_issued_total{grant_type="refresh_token"} 0`, "go_goroutines ", "go_build_info"} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in:\n%.2000s", want, body)
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInstrument is the cost of the request metrics on one request
// through a ServeMux: "off" is the mux alone (metrics off: no wrapper).
func BenchmarkInstrument(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /graphql", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	for _, on := range []bool{false, true} {
		name := "off"
		var h http.Handler = mux
		if on {
			name = "on"
			r := New()
			h = r.Instrument(r.Routes(mux, nil))
		}
		b.Run(name, func(b *testing.B) {
			w := httptest.NewRecorder()
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
			// CPU time, unlike ns/op, does not grow when other processes
			// take the cores.
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
