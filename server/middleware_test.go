package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authgraph/authgraph/internal/testenv"
)

// TestHSTSOnlyWithAnHTTPSIssuer: Strict-Transport-Security is sent on every
// response of an https issuer, and never by an http one (a development host
// on loopback must not be pinned to https).
func TestHSTSOnlyWithAnHTTPSIssuer(t *testing.T) {
	for _, c := range []struct {
		issuer string
		want   string
	}{
		{"https://auth.example.com/", "max-age=31536000"},
		{"http://127.0.0.1:1/", ""},
	} {
		t.Run(c.issuer, func(t *testing.T) {
			cfg := testConfig(testenv.SQLite(t))
			cfg.Issuer = c.issuer
			cfg.Serving = true // a serving node registers the dashboard client
			d, err := Prepare(context.Background(), cfg, quiet, io.Discard, MigrateIfEmpty)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			h, err := Handler(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/healthz", "/.well-known/openid-configuration", "/authorize?client_id=nope", "/dashboard/", "/no-such-page"} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.issuer[:len(c.issuer)-1]+path, nil))
				if got := rec.Header().Get("Strict-Transport-Security"); got != c.want {
					t.Errorf("%s: Strict-Transport-Security %q, want %q", path, got, c.want)
				}
			}
		})
	}
}
