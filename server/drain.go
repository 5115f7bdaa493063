package server

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Graceful shutdown. On SIGTERM a node first fails its readiness check
// (/readyz answers 503 {"status":"draining"}) while it keeps serving for
// Config.ShutdownDrain, so a load balancer polling /readyz stops sending it
// new requests; keep-alive connections are closed after their next
// response, so clients reconnect elsewhere. Then the listener closes and
// in-flight requests have Config.ShutdownTimeout to finish; background jobs
// stop (a batch in flight rolls back and its job is resumed by another
// node) and the process exits 0.

// draining is set once a node has begun to shut down.
type draining struct{ on atomic.Bool }

// drainFor is how long Serve keeps serving after ctx ends.
func (c *Config) drainFor() time.Duration {
	switch {
	case c.ShutdownDrain < 0:
		return 0
	case c.ShutdownDrain == 0:
		return DefaultShutdownDrain
	}
	return c.ShutdownDrain
}

// shutdownFor bounds http.Server.Shutdown.
func (c *Config) shutdownFor() time.Duration {
	switch {
	case c.ShutdownTimeout < 0:
		return 0 // close at once
	case c.ShutdownTimeout == 0:
		return DefaultShutdownTimeout
	}
	return c.ShutdownTimeout
}

// drain marks the node draining and waits for the drain delay (or until
// the server stops by itself).
func drain(d *Deps, srv *http.Server, errc <-chan error) error {
	d.draining.on.Store(true)
	srv.SetKeepAlivesEnabled(false)
	wait := d.Config.drainFor()
	d.Logger.Info("shutting down: draining", "drain", wait.String(), "timeout", d.Config.shutdownFor().String())
	select {
	case err := <-errc:
		return err
	case <-time.After(wait):
	}
	return nil
}

// shutdown closes the listener and waits for in-flight requests, at most
// the shutdown timeout; past it, the remaining connections are closed.
func shutdown(d *Deps, srv *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), d.Config.shutdownFor())
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		d.Logger.Warn("shutdown timeout: closing the remaining connections", "err", err)
		srv.Close()
		return nil
	}
	d.Logger.Info("shut down")
	return nil
}

// withRequestTimeout gives every request's context a deadline of timeout
// (0: DefaultRequestTimeout, negative: none), so work left behind by a
// request that takes too long (a statement waiting for a lock, an upstream
// call) is cancelled. Export downloads and import uploads run as long as
// the transfer takes (the import handler bounds the upload itself): the
// exemption is by route, never by anything else the client sends.
func withRequestTimeout(timeout time.Duration, base string, next http.Handler) http.Handler {
	if timeout < 0 {
		return next
	}
	if timeout == 0 {
		timeout = DefaultRequestTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, base+"exports/") || isImportUpload(base, r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
