package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/authgraph/authgraph/internal/tracing"
	"github.com/authgraph/authgraph/server"
)

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := server.FlagSet(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	logger := server.NewLogger(cfg.LogFormat)
	cfg.Serving = true
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
	return server.Serve(ctx, deps, nil)
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
