package logstream

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/server/apiv2"
)

// TailOptions say what Tail prints.
type TailOptions struct {
	Filter
	// Since starts the tail this long ago (0: from now).
	Since time.Duration
	// Text prints one human-readable line per event instead of Auth0's
	// JSON object.
	Text bool
	// Poll is how often the log is read (default 1s); Lag as DefaultLag.
	Poll, Lag time.Duration
}

// Tail prints the events of the last o.Since, then each new event as it
// is written, until ctx ends (then it returns nil).
func Tail(ctx context.Context, db *ent.Client, o TailOptions, out io.Writer) error {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Lag <= 0 {
		o.Lag = DefaultLag
	}
	after := IDAt(time.Now().Add(-o.Since - o.Lag))
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for {
		rows, err := Batch(ctx, db, after, o.Filter, o.Lag, 500)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range rows {
			if err := printEvent(enc, out, e, o.Text); err != nil {
				return err
			}
			after = string(e.ID)
		}
		if len(rows) == 500 {
			continue // more already waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.Poll):
		}
	}
}

func printEvent(enc *json.Encoder, out io.Writer, e *ent.LogEvent, text bool) error {
	if !text {
		return enc.Encode(apiv2.LogJSON(e))
	}
	user := e.UserName
	if user == "" {
		user = e.UserID
	}
	if user == "" {
		user = "-"
	}
	_, err := fmt.Fprintf(out, "%s %-6s %s %s %q\n", e.Date.UTC().Format("2006-01-02T15:04:05.000Z"), e.Type, user, e.ID, e.Description)
	return err
}
