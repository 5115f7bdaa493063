package server

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/secretbox"
)

func TestConfigMetricsListen(t *testing.T) {
	t.Setenv("AUTHGRAPH_METRICS_LISTEN", "")
	c, err := load(t, nil)
	if err != nil || c.MetricsListen != "" {
		t.Fatalf("default: %q %v (want off)", c.MetricsListen, err)
	}
	t.Setenv("AUTHGRAPH_METRICS_LISTEN", "127.0.0.1:9100")
	if c, err = load(t, nil); err != nil || c.MetricsListen != "127.0.0.1:9100" {
		t.Fatalf("env: %q %v", c.MetricsListen, err)
	}
	if c, err = load(t, nil, "--metrics-listen", "0.0.0.0:9200"); err != nil || c.MetricsListen != "0.0.0.0:9200" {
		t.Fatalf("flag over env: %q %v", c.MetricsListen, err)
	}
	t.Setenv("AUTHGRAPH_METRICS_LISTEN", "")
	for _, bad := range []string{"9100", "localhost", "127.0.0.1:8080"} { // the last is --listen's default
		if _, err := load(t, nil, "--metrics-listen", bad); err == nil || !strings.Contains(err.Error(), "--metrics-listen") {
			t.Errorf("--metrics-listen %q: err = %v, want a --metrics-listen error", bad, err)
		}
	}
}

// freeAddr returns a loopback address nothing listens on (for Serve, which
// binds the configured address itself).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serve runs Serve on a fresh SQLite database until the test ends and
// returns the main listener's address.
func serve(t *testing.T, metricsListen string) string {
	t.Helper()
	listen := freeAddr(t)
	cfg := &Config{Listen: listen, DatabaseURL: testenv.SQLite(t), Issuer: "http://" + listen + "/",
		MasterKey: base64.StdEncoding.EncodeToString(secretbox.NewKey()), LogFormat: "text", Serving: true,
		RulesCacheDir: testenv.RulesCacheDir(), MetricsListen: metricsListen,
		SessionIdle: time.Hour, SessionLifetime: time.Hour, ResetTicketTTL: time.Hour}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := Prepare(context.Background(), cfg, logger, io.Discard, MigrateIfEmpty)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, d, func(addr string) { ready <- addr }) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v", err)
		}
		d.Close()
	})
	return addr
}

// The metrics listener serves GET /metrics and nothing else; the main
// listener does not serve /metrics; without --metrics-listen nothing
// listens for metrics and nothing is measured.
func TestServeMetricsListener(t *testing.T) {
	maddr := freeAddr(t)
	addr := serve(t, maddr)
	if code, _ := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
	code, body := get(t, "http://"+maddr+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `authgraph_http_requests_total{code="200",method="GET",route="/healthz"} 1`) ||
		!strings.Contains(body, "go_goroutines ") || !strings.Contains(body, `go_sql_max_open_connections{db_name="main"}`) {
		t.Fatalf("metrics: %d\n%s", code, body)
	}
	if code, _ := get(t, "http://"+maddr+"/healthz"); code != http.StatusNotFound {
		t.Errorf("metrics listener /healthz: %d, want 404", code)
	}
	if code, body := get(t, "http://"+addr+"/metrics"); code == http.StatusOK || strings.Contains(body, "authgraph_") {
		t.Errorf("main listener /metrics: %d %.200s", code, body)
	}
}

func TestServeWithoutMetrics(t *testing.T) {
	addr := serve(t, "")
	if code, body := get(t, "http://"+addr+"/metrics"); code == http.StatusOK || strings.Contains(body, "go_goroutines") {
		t.Errorf("main listener /metrics: %d %.200s", code, body)
	}
}
