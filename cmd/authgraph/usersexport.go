package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/bulkexport"
	"github.com/authgraph/authgraph/connections/manageconn"
	"github.com/authgraph/authgraph/server"
)

const usersExportUsage = `usage: authgraph users export --format ndjson|csv -o FILE [--fields F,…] [--connection NAME] [--limit N] [--include-password-hashes]

Writes users to FILE, gzip-compressed, in Auth0's export format (FILE "-" is standard output).
--fields lists paths, each optionally renamed: user_id,email,identities[0].connection=connection,app_metadata.plan
--include-password-hashes adds password_hash / custom_password_hash (Auth0's import form) so that
the file re-imports with working passwords; only this command offers it, never the API.`

// cmdUsersExport exports users straight from the configured database.
func cmdUsersExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usersExportUsage); fs.PrintDefaults() }
	load := server.FlagSet(fs)
	format := fs.String("format", "ndjson", "ndjson (Auth0's json) or csv")
	out := fs.String("o", "", "output file (gzip); - for standard output")
	fields := fs.String("fields", "", "comma-separated field paths, each optionally NAME=EXPORT_AS (default: Auth0's re-importable set)")
	connName := fs.String("connection", "", "export only the users with an identity at this connection (name or id)")
	limit := fs.Int("limit", 0, "export at most this many users (0: all)")
	hashes := fs.Bool("include-password-hashes", false, "include password hashes, for a lossless re-import")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return errors.New(usersExportUsage)
	}
	f, err := bulkexport.ParseFormat(*format)
	if err != nil {
		return err
	}
	o := bulkexport.Options{Format: f, Limit: *limit, IncludePasswordHashes: *hashes}
	if *fields != "" {
		for _, p := range strings.Split(*fields, ",") {
			name, as, _ := strings.Cut(strings.TrimSpace(p), "=")
			o.Fields = append(o.Fields, bulkexport.Field{Name: name, ExportAs: as})
		}
	}
	// Check the options before touching the database or the file.
	if _, err := bulkexport.Prepare(o); err != nil {
		return err
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
	sys := authz.SystemContext(ctx)
	db := deps.DB.Ent
	if *connName != "" {
		c, err := manageconn.Find(sys, db, *connName)
		if err != nil {
			return err
		}
		o.ConnectionID = c.ID
	}
	total, err := bulkexport.Count(sys, db, o)
	if err != nil {
		return err
	}
	p := newExportProgress(stderr, total)
	o.Progress = p.update

	var w io.Writer = stdout
	var tmp *os.File
	if *out != "-" {
		// Written beside FILE and renamed at the end: FILE is never left
		// half-written. 0600: the file holds personal data (and maybe hashes).
		tmp, err = os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		w = tmp
	}
	res, err := bulkexport.Export(sys, db, w, o)
	if err != nil {
		if tmp != nil {
			tmp.Close()
		}
		return err
	}
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), *out); err != nil {
			return err
		}
	}
	p.done(res.Rows, *out)
	if *hashes {
		fmt.Fprintln(stderr, "warning: the file contains password hashes: keep it as secret as the database")
	}
	return nil
}

// exportProgress reports an export's rate: one rewritten line on a terminal,
// plain lines (at most every two seconds) otherwise.
type exportProgress struct {
	w     io.Writer
	tty   bool
	total int
	start time.Time
	last  time.Time
}

func newExportProgress(w io.Writer, total int) *exportProgress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	now := time.Now()
	return &exportProgress{w: w, tty: tty, total: total, start: now, last: now}
}

func (p *exportProgress) rate(n int) float64 {
	el := time.Since(p.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(n) / el
}

func (p *exportProgress) update(n int) {
	now := time.Now()
	if p.tty {
		if now.Sub(p.last) < 100*time.Millisecond && n < p.total {
			return
		}
		pct := 100
		if p.total > 0 {
			pct = n * 100 / p.total
		}
		fmt.Fprintf(p.w, "\rexporting: %d/%d users (%d%%), %.0f rows/s ", n, p.total, pct, p.rate(n))
	} else {
		if now.Sub(p.last) < 2*time.Second {
			return
		}
		fmt.Fprintf(p.w, "exported %d/%d users, %.0f rows/s\n", n, p.total, p.rate(n))
	}
	p.last = now
}

func (p *exportProgress) done(n int, out string) {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "exported %d users to %s in %s (%.0f rows/s)\n", n, out, time.Since(p.start).Round(time.Millisecond), p.rate(n))
}
