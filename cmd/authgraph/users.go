package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/bulkimport"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/server"
)

const usersUsage = `usage: authgraph users import FILE --connection NAME [--upsert] [--external-id ID]
  imports Auth0's bulk-import file (a JSON array or NDJSON, plain or gzip-compressed) into a database connection`

// cmdUsers runs user commands directly against the configured database.
func cmdUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "import" {
		return errors.New(usersUsage)
	}
	fs := flag.NewFlagSet("users import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := server.FlagSet(fs)
	connName := fs.String("connection", "", "the database connection to import into (name or id)")
	upsert := fs.Bool("upsert", false, "update users whose email exists in the connection")
	external := fs.String("external-id", "", "your reference, kept with the job")
	// Accept flags before or after FILE.
	var path string
	rest := args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		path, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if path == "" && fs.NArg() > 0 {
		path = fs.Arg(0)
	}
	if path == "" || *connName == "" {
		return errors.New(usersUsage)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg, err := load()
	if err != nil {
		return err
	}
	deps, err := server.Prepare(ctx, cfg, server.NewLogger(cfg.LogFormat), stderr, server.MigrateIfEmpty)
	if err != nil {
		return err
	}
	defer deps.Close()
	// The command line holds the database itself: it acts as the system,
	// as `authgraph admins` does.
	sys := authz.SystemContext(ctx)
	j, err := deps.Imports.CreateImport(sys, bulkimport.ImportInput{
		Connection: *connName, Upsert: *upsert, ExternalID: *external, File: f,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "job %s: %d rows to import into %s\n", j.ID, j.TotalRows, j.Connection)
	// Run the job here; a server on the same database may claim it
	// first, and then this only follows its progress.
	runCtx, stopRunner := context.WithCancel(ctx)
	runner := &bulkimport.Runner{DB: deps.DB.Ent, Only: j.ID, Dialect: deps.DB.Dialect, Logger: deps.Logger,
		Owner: fmt.Sprintf("cli/%d", os.Getpid()), Poll: time.Second}
	runnerDone := make(chan struct{})
	go func() {
		defer close(runnerDone)
		_ = runner.Run(runCtx)
	}()
	defer func() {
		stopRunner()
		<-runnerDone
	}()
	p := newProgress(stdout)
	for {
		cur, err := deps.Imports.Job(sys, string(j.ID))
		if err != nil {
			return err
		}
		p.show(cur)
		switch cur.Status {
		case job.StatusCompleted:
			p.done()
			s := cur.Summary()
			fmt.Fprintf(stdout, "job %s completed: %d inserted, %d updated, %d failed of %d\n",
				cur.ID, s.Inserted, s.Updated, s.Failed, s.Total)
			if s.Failed > 0 {
				errs, err := deps.Imports.Errors(sys, string(cur.ID), -1, 20)
				if err != nil {
					return err
				}
				for _, e := range errs {
					for _, x := range e.Errors {
						fmt.Fprintf(stdout, "  row %d: %s %s: %s\n", e.Row, x.Code, x.Path, x.Message)
					}
				}
				if s.Failed > len(errs) {
					fmt.Fprintf(stdout, "  … and %d more refused rows: GET /api/v2/jobs/%s/errors\n", s.Failed-len(errs), cur.ID)
				}
			}
			return nil
		case job.StatusFailed:
			p.done()
			return fmt.Errorf("job %s failed: %s", cur.ID, cur.Job.Error)
		}
		select {
		case <-ctx.Done():
			p.done()
			fmt.Fprintf(stdout, "interrupted: job %s stays %s and resumes where it stopped on the next run of a server\n", j.ID, cur.Status)
			return ctx.Err()
		case <-time.After(p.interval):
		}
	}
}

// progress shows a job's progress: a bar redrawn in place on a terminal,
// a line every few seconds otherwise (logs, CI).
type progress struct {
	w        io.Writer
	tty      bool
	interval time.Duration
	start    time.Time
	lastRows int
	drawn    bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now(), interval: 2 * time.Second}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty, p.interval = true, 200*time.Millisecond
		}
	}
	return p
}

func (p *progress) show(j *bulkimport.Job) {
	if j.Status == job.StatusPending {
		return
	}
	elapsed := time.Since(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(j.RowsDone) / elapsed
	}
	eta := "?"
	if rate > 0 && j.TotalRows >= j.RowsDone {
		eta = (time.Duration(float64(j.TotalRows-j.RowsDone)/rate) * time.Second).Round(time.Second).String()
	}
	pct := j.PercentageDone
	if p.tty {
		const width = 30
		bar := strings.Repeat("#", pct*width/100) + strings.Repeat(".", width-pct*width/100)
		fmt.Fprintf(p.w, "\r[%s] %3d%% %d/%d rows  %.0f rows/s  ETA %s   ", bar, pct, j.RowsDone, j.TotalRows, rate, eta)
		p.drawn = true
		return
	}
	if j.RowsDone == p.lastRows && j.Status != job.StatusCompleted {
		return
	}
	p.lastRows = j.RowsDone
	fmt.Fprintf(p.w, "imported %d/%d rows (%d%%), %.0f rows/s, ETA %s\n", j.RowsDone, j.TotalRows, pct, rate, eta)
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
