package apitest

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/server"
)

// StartWith is Start with the configuration changed by configure before the
// server is prepared: a low API rate limit, an issuer with a path
// (cfg.Listen holds the address the server listens on). s.Issuer is the
// configured issuer; s.URL stays the listener's root.
func StartWith(t testing.TB, dsn string, configure func(*server.Config)) *Server {
	t.Helper()
	var h http.Handler = http.NotFoundHandler()
	var hmu sync.RWMutex
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.RLock()
		defer hmu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	addr := ts.Listener.Addr().String()
	cfg := &server.Config{
		Listen:            addr,
		DatabaseURL:       dsn,
		Issuer:            "http://" + addr + "/",
		MasterKey:         base64.StdEncoding.EncodeToString(secretbox.NewKey()),
		AdminClientID:     "apitest-admin",
		AdminClientSecret: AdminSecretForTests,
		LogFormat:         "text",
		Serving:           true,
		RulesCacheDir:     testenv.RulesCacheDir(), // compiled modules shared by all tests
	}
	if configure != nil {
		configure(cfg)
	}
	logs := &logRecorder{}
	logger := slog.New(slog.NewTextHandler(testWriter{t, logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	deps, err := server.Prepare(context.Background(), cfg, logger, io.Discard, server.MigrateIfEmpty)
	if err != nil {
		t.Fatalf("preparing server: %v", err)
	}
	handler, err := server.Handler(deps)
	if err != nil {
		t.Fatalf("building handler: %v", err)
	}
	hmu.Lock()
	h = handler
	hmu.Unlock()
	ts.Start()
	// The metrics listener, on a port of its own like Serve's (the
	// configured address is not bound: tests choose none).
	var metricsURL string
	if mh := server.MetricsHandler(deps); mh != nil {
		ms := httptest.NewServer(mh)
		t.Cleanup(ms.Close)
		metricsURL = ms.URL
	}
	stopJobs := sync.OnceFunc(server.StartJobs(context.Background(), deps))
	t.Cleanup(func() {
		ts.Close()
		stopJobs()
		deps.Close()
	})
	return &Server{
		URL: ts.URL, Issuer: cfg.Issuer, Deps: deps,
		AdminID: cfg.AdminClientID, AdminSecret: cfg.AdminClientSecret,
		HTTP: ts.Client(), tokens: map[string]string{}, logs: logs, stopJobs: stopJobs, MetricsURL: metricsURL,
	}
}
