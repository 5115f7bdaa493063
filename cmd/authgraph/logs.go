package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/authgraph/authgraph/logstream"
	"github.com/authgraph/authgraph/server"
	"github.com/authgraph/authgraph/store"
)

const logsTailUsage = `usage: authgraph logs tail [--type T,…] [--user USER_ID] [--format json|text] [--since 10m]

Prints the tenant log's events as they are written, until interrupted: one
Auth0-shaped JSON object per line (as GET /api/v2/logs returns them), or one
line of text each. --since first prints the events of that last period.`

func cmdLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "tail" {
		return errors.New(logsTailUsage)
	}
	return cmdLogsTail(ctx, args[1:], stdout, stderr)
}

// cmdLogsTail follows the log straight from the configured database.
func cmdLogsTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logs tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, logsTailUsage); fs.PrintDefaults() }
	load := server.FlagSet(fs)
	types := fs.String("type", "", "comma-separated event type codes (s, f, fp, sapi, …); default all")
	user := fs.String("user", "", "only this user's events (user_id, e.g. auth0|…)")
	format := fs.String("format", "json", "json (Auth0's log object per line) or text")
	since := fs.Duration("since", 0, "first print the events of this last period (e.g. 10m)")
	poll := fs.Duration("poll", time.Second, "how often to read new events")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New(logsTailUsage)
	}
	if *format != "json" && *format != "text" {
		return fmt.Errorf("--format must be json or text, not %q", *format)
	}
	if *since < 0 || *poll <= 0 {
		return errors.New("--since must not be negative and --poll must be positive")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	// The database alone: tailing needs neither the master key nor a
	// running server.
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	return logstream.Tail(ctx, db.Ent, logstream.TailOptions{
		Filter: logstream.Filter{Types: logstream.ParseTypes(*types), UserID: *user},
		Since:  *since, Text: *format == "text", Poll: *poll,
	}, stdout)
}
