package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/authgraph/authgraph/metrics"
	"github.com/authgraph/authgraph/server/oidc"
	"github.com/authgraph/authgraph/store"
)

// checkMetricsListen validates --metrics-listen: empty (off) or a host:port
// other than --listen's.
func (c *Config) checkMetricsListen() error {
	if c.MetricsListen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
		return fmt.Errorf("--metrics-listen %q: %w", c.MetricsListen, err)
	}
	if c.MetricsListen == c.Listen {
		return errors.New("--metrics-listen must differ from --listen: the metrics listener is a separate one")
	}
	return nil
}

// newMetrics makes the server's registry when a metrics listener is
// configured (nil otherwise: nothing is measured), with the database
// pools and the read caches.
func newMetrics(cfg *Config, db *store.DB) *metrics.Registry {
	if cfg.MetricsListen == "" {
		return nil
	}
	m := metrics.New()
	m.WatchDB("main", db.SQL)
	if t := db.TransientSQL(); t != nil && t != db.SQL {
		m.WatchDB("transient", t)
	}
	m.MustRegister(metrics.CacheCollector(store.EachCacheStat))
	return m
}

// MetricsHandler is the metrics listener's handler: GET /metrics and
// nothing else. Nil without metrics.
func MetricsHandler(d *Deps) http.Handler {
	if d.Metrics == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", d.Metrics.Handler())
	return mux
}

// oidcRoutes maps the full paths of the OpenID Provider's endpoints,
// which it serves under the "/" pattern without a mux of its own, to their
// route labels.
func oidcRoutes(base string) map[string]string {
	exact := map[string]string{}
	for _, p := range []string{oidc.DiscoveryPath, oidc.JWKSPath, oidc.AuthorizePath, oidc.TokenPath, oidc.UserinfoPath,
		oidc.RevokePath, oidc.IntrospectPath, oidc.EndSessionPath} {
		exact[base+p[1:]] = p
	}
	return exact
}

// serveMetrics runs the metrics listener until ctx ends; it returns once
// listening (or failing to), and stop waits for its shutdown.
func serveMetrics(ctx context.Context, d *Deps) (stop func(), err error) {
	h := MetricsHandler(d)
	if h == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", d.Config.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(d.Logger.Handler(), slog.LevelWarn),
	}
	d.Logger.Info("metrics listening", "addr", ln.Addr().String())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.Logger.Error("metrics listener", "err", err)
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}
