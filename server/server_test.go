package server

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/resourceserver"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/secretbox"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testConfig(dsn string) *Config {
	return &Config{Listen: "127.0.0.1:0", DatabaseURL: dsn, Issuer: "http://127.0.0.1:1/", LogFormat: "text"}
}

func TestSQLiteGeneratesAMasterKeyFileOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig("sqlite:" + filepath.Join(dir, "a.db"))
	cfg.Serving = true // a server's first start and restart
	var console strings.Builder
	d, err := Prepare(context.Background(), cfg, quiet, &console, MigrateIfEmpty)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	keyFile := filepath.Join(dir, "a.db.key")
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, st.Mode())
	}
	if !strings.Contains(console.String(), "client_secret:") {
		t.Fatalf("bootstrap did not print the admin secret: %q", console.String())
	}
	// A restart reuses the key (sealed signing keys still open) and does not
	// bootstrap again.
	console.Reset()
	d, err = Prepare(context.Background(), cfg, quiet, &console, MigrateIfEmpty)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer d.Close()
	if console.Len() != 0 {
		t.Fatalf("second start printed %q", console.String())
	}
	// The admin client and the built-in dashboard and account clients,
	// once each.
	n := d.DB.Ent.Application.Query().CountX(authz.SystemContext(context.Background()))
	if n != 3 {
		t.Fatalf("%d clients after restart, want 3 (admin, dashboard and account)", n)
	}
}

func TestPostgresRequiresAWellFormedMasterKey(t *testing.T) {
	dsn := testenv.Postgres(t)
	if _, err := Prepare(context.Background(), testConfig(dsn), quiet, io.Discard, MigrateIfEmpty); err == nil ||
		!strings.Contains(err.Error(), "AUTHGRAPH_MASTER_KEY") {
		t.Fatalf("Postgres without a key: %v", err)
	}
	cfg := testConfig(dsn)
	cfg.MasterKey = base64.StdEncoding.EncodeToString(make([]byte, 16))
	if _, err := Prepare(context.Background(), cfg, quiet, io.Discard, MigrateIfEmpty); err == nil {
		t.Fatal("short key accepted")
	}
	cfg.MasterKey = "%%%"
	if _, err := Prepare(context.Background(), cfg, quiet, io.Discard, MigrateIfEmpty); err == nil {
		t.Fatal("malformed key accepted")
	}
}

func TestAdminSecretFromEnvironmentMustBeLong(t *testing.T) {
	cfg := testConfig(testenv.SQLite(t))
	cfg.AdminClientID, cfg.AdminClientSecret = "admin", "too-short"
	if _, err := Prepare(context.Background(), cfg, quiet, io.Discard, MigrateIfEmpty); err == nil {
		t.Fatal("short admin secret accepted")
	}
}

// Two nodes starting together on one empty Postgres database must bootstrap
// exactly once (the advisory lock serialises them).
func TestConcurrentStartsBootstrapOnce(t *testing.T) {
	dsn := testenv.Postgres(t)
	key := base64.StdEncoding.EncodeToString(secretbox.NewKey())
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := testConfig(dsn)
			cfg.MasterKey = key
			d, err := Prepare(context.Background(), cfg, quiet, io.Discard, MigrateIfEmpty)
			if err == nil {
				d.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(dsn)
	cfg.MasterKey = key
	d, err := Prepare(context.Background(), cfg, quiet, io.Discard, MigrateIfEmpty)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sys := authz.SystemContext(context.Background())
	admins := d.DB.Ent.Application.Query().Where(application.AllManagementScopes(true)).CountX(sys)
	conns := d.DB.Ent.Connection.Query().CountX(sys)
	keys := d.DB.Ent.SigningKey.Query().CountX(sys)
	if admins != 1 || conns != 1 || keys != 1 {
		t.Fatalf("admins=%d connections=%d keys=%d, want 1 each", admins, conns, keys)
	}
}

func TestServeRefusesAnOutdatedSchema(t *testing.T) {
	dsn := testenv.SQLite(t)
	cfg := testConfig(dsn)
	d, err := Prepare(context.Background(), cfg, quiet, io.Discard, MigrateIfEmpty)
	if err != nil {
		t.Fatal(err)
	}
	// Pretend a newer binary migrated this database.
	if _, err := d.DB.SQL.Exec("INSERT INTO authgraph_schema_migrations (version, name, applied_at) VALUES (999, 'future', CURRENT_TIMESTAMP)"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := Prepare(context.Background(), cfg, quiet, io.Discard, MigrateAlways); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	cfg := testConfig(testenv.SQLite(t))
	cfg.Serving = true // a handler is built only by a serving node
	d, err := Prepare(context.Background(), cfg, quiet, io.Discard, MigrateIfEmpty)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Handler(d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path string) int {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get("/healthz") != 200 || get("/readyz") != 200 {
		t.Fatal("health endpoints not OK")
	}
	d.Close() // database gone: ready fails, health still answers
	if get("/readyz") != http.StatusServiceUnavailable {
		t.Fatal("readyz OK with a closed database")
	}
	if get("/healthz") != 200 {
		t.Fatal("healthz should not depend on the database")
	}
}

func TestClientIPBelievesOnlyTrustedProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct{ remote, xff, want string }{
		{"203.0.113.5:1234", "1.2.3.4", "203.0.113.5"},             // untrusted peer: header ignored
		{"10.0.0.2:1234", "1.2.3.4", "1.2.3.4"},                    // trusted proxy
		{"10.0.0.2:1234", "6.6.6.6, 1.2.3.4, 10.0.0.9", "1.2.3.4"}, // rightmost untrusted hop; spoofed left part ignored
		{"10.0.0.2:1234", "", "10.0.0.2"},
		{"[::ffff:10.0.0.2]:1", "1.2.3.4", "1.2.3.4"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientIP(r, trusted); got != tc.want {
			t.Errorf("remote %s xff %q: got %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

// CLI commands run Prepare with whatever --issuer they were given: they must
// not re-point the issuer-bound records a serving node registered.
func TestCLIPrepareKeepsIssuerBoundRecords(t *testing.T) {
	dsn := testenv.SQLite(t)
	serving := testConfig(dsn)
	serving.Issuer, serving.Serving = "https://id.example.com/", true
	d, err := Prepare(context.Background(), serving, quiet, io.Discard, MigrateIfEmpty)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	cli := testConfig(dsn) // default-looking issuer, not serving
	d, err = Prepare(context.Background(), cli, quiet, io.Discard, MigrateIfEmpty)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sys := authz.SystemContext(context.Background())
	dash, err := d.DB.Ent.Application.Query().Where(application.Name(clients.DashboardClientName)).Only(sys)
	if err != nil || len(dash.RedirectUris) == 0 || !strings.HasPrefix(dash.RedirectUris[0], "https://id.example.com/") {
		t.Fatalf("dashboard client re-pointed by a CLI start: %v %v", dash, err)
	}
	if n := d.DB.Ent.ResourceServer.Query().Where(resourceserver.Identifier("https://id.example.com/api/v2/")).CountX(sys); n != 1 {
		t.Fatalf("management API identifier changed by a CLI start")
	}
}

// A CLI command bootstrapping an empty database does not know the issuer the
// server will run with: it registers no issuer-bound record and prints no
// token URL built from its own (possibly default) issuer.
func TestCLIFirstStartRegistersNoIssuerBoundRecords(t *testing.T) {
	dsn := testenv.SQLite(t)
	var console strings.Builder
	d, err := Prepare(context.Background(), testConfig(dsn), quiet, &console, MigrateIfEmpty)
	if err != nil {
		t.Fatal(err)
	}
	sys := authz.SystemContext(context.Background())
	if n := d.DB.Ent.ResourceServer.Query().Where(resourceserver.System(true)).CountX(sys); n != 0 {
		t.Fatalf("a CLI start registered the management API with its own issuer")
	}
	if n := d.DB.Ent.Application.Query().Where(application.Name(clients.DashboardClientName)).CountX(sys); n != 0 {
		t.Fatalf("a CLI start registered the dashboard client with its own issuer")
	}
	if !strings.Contains(console.String(), "client_secret:") || strings.Contains(console.String(), "http://127.0.0.1:1/") {
		t.Fatalf("console: %q", console.String())
	}
	d.Close()
	// The serving node registers them with its issuer.
	serving := testConfig(dsn)
	serving.Issuer, serving.Serving = "https://id.example.com/", true
	if d, err = Prepare(context.Background(), serving, quiet, io.Discard, MigrateIfEmpty); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if n := d.DB.Ent.ResourceServer.Query().Where(resourceserver.System(true), resourceserver.Identifier("https://id.example.com/api/v2/")).CountX(sys); n != 1 {
		t.Fatalf("the serving node did not register the management API")
	}
}
