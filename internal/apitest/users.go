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

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/server"
)

// StartWith is Start with the server's Config adjusted by configure before
// the server is prepared (e.g. to turn the management API's rate limit off
// for benchmarks: cfg.APIRateLimit.PerSecond = -1).
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
	t.Cleanup(func() {
		ts.Close()
		deps.Close()
	})
	return &Server{
		URL: ts.URL, Issuer: cfg.Issuer, Deps: deps,
		AdminID: cfg.AdminClientID, AdminSecret: cfg.AdminClientSecret,
		HTTP: ts.Client(), tokens: map[string]string{}, logs: logs,
	}
}

// ScopedClient creates a machine-to-machine client holding exactly scopes
// and returns its credentials, for SDKs that fetch their own tokens
// (go-auth0's WithClientCredentials).
func (s *Server) ScopedClient(t testing.TB, scopes ...string) (id, secret string) {
	t.Helper()
	created, err := clients.Create(authz.SystemContext(context.Background()), s.Deps.DB.Ent, clients.Params{
		Name: "apitest scoped client", Type: clients.TypeM2M, Scopes: scopes,
	})
	if err != nil {
		t.Fatalf("creating client: %v", err)
	}
	return created.Client.ClientID, created.Secret
}
