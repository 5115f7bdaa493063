package e2e

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"golang.org/x/oauth2"
	"google.golang.org/protobuf/proto"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/internal/tracing"
)

// collector is an OTLP/HTTP trace receiver: it decodes each
// ExportTraceServiceRequest the exporter posts to /v1/traces.
type collector struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
	posts    int
}

func startCollector(t *testing.T) (*collector, string) {
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
			t.Errorf("collector: unexpected %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.posts++
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "service.name" {
					c.services = append(c.services, a.GetValue().GetStringValue())
				}
			}
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func (c *collector) snapshot() []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.spans...)
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			if v := a.GetValue().GetStringValue(); v != "" {
				return v
			}
			return a.GetValue().String()
		}
	}
	return ""
}

// TestTracesReachAnOTLPCollector runs a login (with a rule) and a
// management request through a real server with the OTLP exporter pointed
// at an in-process collector, and checks the spans it receives.
func TestTracesReachAnOTLPCollector(t *testing.T) {
	module := wasm(t, "as-counter")
	col, endpoint := startCollector(t)
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "authgraph-test")
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
	shutdown, err := tracing.Setup(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	flushed := false
	t.Cleanup(func() {
		if !flushed {
			_ = shutdown(context.Background())
		}
	})
	if !tracing.Enabled() {
		t.Fatal("tracing is off with OTEL_EXPORTER_OTLP_ENDPOINT set")
	}
	s := apitest.Start(t, testenv.Postgres(t))
	s.StopJobs()
	ctx := oidc.ClientContext(context.Background(), s.HTTP)
	admin := s.AdminToken(t)
	var ada struct{ CreateUser struct{ ID, UserID string } }
	s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
		email: "ada@example.com", emailVerified: true, password: "Analytical-Engine-1843"}) { id userId } }`, nil, &ada)
	addRule(t, s, "counter", module)
	id, secret := registerClient(t, s, "--name", "Traced", "--type", "regular_web", "--redirect-uri", redirectURI)
	relying := newRP(t, s, id, secret, oidc.ScopeOpenID, "email")

	// A login: authorize → hosted login form → code → token.
	done, verifier := signIn(t, relying, "ada@example.com", "Analytical-Engine-1843")
	if done.location == nil || done.location.Query().Get("code") == "" {
		t.Fatalf("no code: %d %s", done.status, done.url)
	}
	if _, err := relying.conf.Exchange(ctx, done.location.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange: %v", err)
	}

	// A management request under an incoming traceparent.
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v2/users/"+url.PathEscape(ada.CreateUser.UserID), nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET user: %d", resp.StatusCode)
	}

	flushCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	flushed = true
	if err := shutdown(flushCtx); err != nil {
		t.Fatalf("flushing: %v", err)
	}
	spans := col.snapshot()
	byID := map[string]*tracepb.Span{}
	for _, sp := range spans {
		byID[hex.EncodeToString(sp.SpanId)] = sp
	}
	parent := func(sp *tracepb.Span) *tracepb.Span { return byID[hex.EncodeToString(sp.ParentSpanId)] }
	// root walks up to the request's server span.
	server := func(sp *tracepb.Span) *tracepb.Span {
		for p := parent(sp); p != nil; p = parent(p) {
			if p.Kind == tracepb.Span_SPAN_KIND_SERVER {
				return p
			}
		}
		return nil
	}
	find := func(pred func(*tracepb.Span) bool) []*tracepb.Span {
		var out []*tracepb.Span
		for _, sp := range spans {
			if pred(sp) {
				out = append(out, sp)
			}
		}
		return out
	}
	names := func(ss []*tracepb.Span) []string {
		var out []string
		for _, sp := range ss {
			out = append(out, sp.Name)
		}
		return out
	}
	t.Logf("%d spans in %d posts; services %v", len(spans), col.posts, col.services)
	if len(col.services) == 0 || col.services[0] != "authgraph-test" {
		t.Errorf("service.name %v, want authgraph-test (OTEL_SERVICE_NAME)", col.services)
	}

	// The login form's POST: a server span named by its route, with the
	// password verification and database statements as children.
	verifies := find(func(sp *tracepb.Span) bool { return sp.Name == "password.verify" })
	if len(verifies) == 0 {
		t.Fatalf("no password.verify span among %v", names(spans))
	}
	loginSpan := server(verifies[0])
	if loginSpan == nil || loginSpan.Name != "POST /login" || attr(loginSpan, "http.route") != "/login" {
		t.Fatalf("password.verify's request span is %+v, want POST /login", loginSpan)
	}
	if dbs := find(func(sp *tracepb.Span) bool {
		return sp.Kind == tracepb.Span_SPAN_KIND_CLIENT && attr(sp, "db.system") == "postgresql" && server(sp) == loginSpan
	}); len(dbs) == 0 {
		t.Errorf("no database spans under the login request")
	} else if op := attr(dbs[0], "db.operation"); op == "" || dbs[0].Name != op {
		t.Errorf("database span %q has db.operation %q", dbs[0].Name, op)
	}
	// No statement argument reaches a span.
	for _, sp := range spans {
		for _, a := range sp.Attributes {
			if v := a.GetValue().GetStringValue(); strings.Contains(v, "Analytical-Engine-1843") || strings.Contains(v, "$argon2id$") {
				t.Errorf("span %s attribute %s holds a secret", sp.Name, a.Key)
			}
		}
	}

	// The rule ran inside a request of the login.
	runs := find(func(sp *tracepb.Span) bool { return sp.Name == "rules.run" })
	if len(runs) == 0 || server(runs[0]) == nil || attr(runs[0], "rules.count") != "int_value:1" {
		t.Fatalf("rules.run spans %v (count %q), want one under a request", names(runs), func() string {
			if len(runs) > 0 {
				return attr(runs[0], "rules.count")
			}
			return ""
		}())
	}

	// The management request kept the caller's trace and is named by its
	// route, not by the user's id.
	mgmt := find(func(sp *tracepb.Span) bool {
		return sp.Kind == tracepb.Span_SPAN_KIND_SERVER && sp.Name == "GET /api/v2/users/{id}"
	})
	if len(mgmt) != 1 {
		t.Fatalf("management request spans %v, want GET /api/v2/users/{id}", names(find(func(sp *tracepb.Span) bool { return sp.Kind == tracepb.Span_SPAN_KIND_SERVER })))
	}
	if got := hex.EncodeToString(mgmt[0].TraceId); got != traceID {
		t.Errorf("management span trace id %s, want the incoming %s", got, traceID)
	}
	if got := hex.EncodeToString(mgmt[0].ParentSpanId); got != parentID {
		t.Errorf("management span parent %s, want the incoming span %s", got, parentID)
	}
	if dbs := find(func(sp *tracepb.Span) bool { return attr(sp, "db.system") != "" && server(sp) == mgmt[0] }); len(dbs) == 0 {
		t.Errorf("no database spans under the management request")
	}
	for _, sp := range spans {
		if sp.Kind == tracepb.Span_SPAN_KIND_SERVER && strings.Contains(sp.Name, ada.CreateUser.UserID) {
			t.Errorf("span name %q holds a raw path", sp.Name)
		}
	}
}

// TestNoTracesWithoutOTELVariables checks that without an endpoint, or with
// OTEL_SDK_DISABLED=true, nothing is exported and the handler is not
// wrapped.
func TestNoTracesWithoutOTELVariables(t *testing.T) {
	col, endpoint := startCollector(t)
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "", "OTEL_TRACES_EXPORTER": ""},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_EXPORTER": "none"},
	} {
		for k, v := range env {
			t.Setenv(k, v)
		}
		shutdown, err := tracing.Setup(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if tracing.Enabled() {
			t.Fatalf("tracing on with %v", env)
		}
		s := apitest.Start(t, testenv.SQLite(t))
		s.StopJobs()
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v2/users", nil)
		req.Header.Set("Authorization", "Bearer "+s.AdminToken(t))
		req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		resp, err := s.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if err := shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		for k := range env {
			t.Setenv(k, "")
		}
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.posts != 0 || len(col.spans) != 0 {
		t.Fatalf("collector received %d posts (%d spans) without tracing configured", col.posts, len(col.spans))
	}
}
