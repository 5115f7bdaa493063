package main

import (
	"context"
	"flag"
	"fmt"
	"io"

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
