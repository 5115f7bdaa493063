package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/authgraph/authgraph/reencrypt"
	"github.com/authgraph/authgraph/server"
)

const keysUsage = `usage:
  authgraph keys reencrypt [--batch-size N] [server flags]   re-seal every stored secret with the first key of AUTHGRAPH_MASTER_KEY
`

// cmdKeys dispatches `authgraph keys reencrypt`.
func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "reencrypt" {
		fmt.Fprint(stderr, keysUsage)
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("keys reencrypt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := server.FlagSet(fs)
	batch := fs.Int("batch-size", reencrypt.DefaultBatchSize, "rows re-sealed per transaction")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *batch < 1 || *batch > 100000 {
		return fmt.Errorf("--batch-size must be 1 to 100000")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	deps, err := server.Prepare(ctx, cfg, server.NewLogger(cfg.LogFormat), stderr, server.MigrateIfEmpty)
	if err != nil {
		return err
	}
	defer deps.Close()
	if deps.Box.Keys() == 1 {
		fmt.Fprintln(stderr, "AUTHGRAPH_MASTER_KEY holds one key: checking that every value opens with it")
	}
	counts, err := reencrypt.Run(ctx, deps.DB.SQL, deps.DB.Dialect, deps.Box, reencrypt.Options{
		BatchSize: *batch,
		Progress: func(c reencrypt.Counts) {
			fmt.Fprintf(stderr, "%s: %d re-sealed, %d already current, %d rewritten meanwhile\n", c.Kind, c.Resealed, c.Current, c.Changed)
		},
	})
	for _, c := range counts {
		fmt.Fprintf(stdout, "%-20s %6d re-sealed %6d already current %6d rewritten by the server meanwhile\n", c.Kind+":", c.Resealed, c.Current, c.Changed)
	}
	if err != nil {
		return fmt.Errorf("reencrypt stopped (run it again to continue): %w", err)
	}
	fmt.Fprintln(stdout, "done: every secret is sealed with the first master key; the others can be removed")
	return nil
}
