package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/authgraph/authgraph/internal/tracing"
	"github.com/authgraph/authgraph/logstream"
	"github.com/authgraph/authgraph/server"
)

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := server.FlagSet(fs)
	streamURL := fs.String("log-stream-url", "", "POST the tenant log to this webhook, signed with AUTHGRAPH_LOG_STREAM_SECRET (AUTHGRAPH_LOG_STREAM_URL, default off)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	logger := server.NewLogger(cfg.LogFormat)
	cfg.Serving = true
	stream, err := logStreamConfig(*streamURL, logger)
	if err != nil {
		return err
	}
	// Traces, when the OTEL_* variables ask for them (docs/TRACING.md);
	// pending spans are flushed at exit.
	stopTracing, err := tracing.Setup(ctx, logger)
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			logger.Warn("tracing: flushing spans at exit", "err", err)
		}
	}()
	deps, err := server.Prepare(ctx, cfg, logger, stderr, server.MigrateIfEmpty)
	if err != nil {
		return err
	}
	defer deps.Close()
	if stream != nil {
		// Every node runs a streamer; one at a time holds the stream
		// (package logstream).
		stream.DB = deps.DB
		st, err := logstream.New(*stream)
		if err != nil {
			return err
		}
		sctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := st.Run(sctx); err != nil {
				logger.Error("log stream stopped", "err", err)
			}
		}()
		defer func() { stop(); <-done }()
	}
	return server.Serve(ctx, deps, nil)
}

// logStreamConfig reads the webhook log stream's settings: the URL from
// the flag or AUTHGRAPH_LOG_STREAM_URL, the signing secret from
// AUTHGRAPH_LOG_STREAM_SECRET only (a flag would show in ps). nil: off.
func logStreamConfig(flagURL string, logger *slog.Logger) (*logstream.Config, error) {
	u := flagURL
	if u == "" {
		u = os.Getenv("AUTHGRAPH_LOG_STREAM_URL")
	}
	if u == "" {
		return nil, nil
	}
	if err := logstream.Validate(u); err != nil {
		return nil, fmt.Errorf("AUTHGRAPH_LOG_STREAM_URL: %w", err)
	}
	secret := os.Getenv("AUTHGRAPH_LOG_STREAM_SECRET")
	if secret == "" {
		logger.Warn("log stream: AUTHGRAPH_LOG_STREAM_SECRET is not set, deliveries are not signed")
	}
	return &logstream.Config{URL: u, Secret: secret, Logger: logger}, nil
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := server.FlagSet(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	deps, err := server.Prepare(ctx, cfg, server.NewLogger(cfg.LogFormat), stderr, server.MigrateAlways)
	if err != nil {
		return err
	}
	defer deps.Close()
	v, err := deps.DB.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database schema at version %d\n", v)
	return nil
}
