// Package logstream reads the tenant log as it grows: `authgraph logs tail`
// prints it, and a webhook stream (Auth0's "http" log stream) posts it to
// a receiver, signed, in order and at least once.
//
// Both read the log_events table itself rather than hooking the code that
// writes it: several writers insert rows (package logs, and the login
// store's own statement), and other nodes write to the same database.
package logstream

import (
	"context"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/predicate"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// Position in the log. Event ids are prefixed ULIDs made when the event is
// written (pulid.MustNew): they sort by the millisecond of creation, so the
// log is read in id order, which is write order (the management API's
// checkpoint paging reads it so too).
//
// An event can commit after another that was made later (its transaction
// was slower, or another node's clock is a little behind). A reader that
// took everything up to the newest id would then pass it over. So a reader
// only takes the events made more than Lag ago: an event still uncommitted
// Lag after it was made, or made on a node whose clock runs more than Lag
// behind, can be missed. The log's writers keep their transactions short.
const DefaultLag = 2 * time.Second

// IDAt is the smallest event id made at t: every event made at or after t
// sorts at or after it.
func IDAt(t time.Time) string {
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(t))
	return "log_" + u.String()
}

// Filter narrows what a reader returns.
type Filter struct {
	// Types are event type codes ("s", "fp", …); empty: all.
	Types []string
	// UserID is one user's events; empty: everyone's.
	UserID string
}

func (f Filter) predicates() []predicate.LogEvent {
	var ps []predicate.LogEvent
	if len(f.Types) > 0 {
		ps = append(ps, logevent.TypeIn(f.Types...))
	}
	if f.UserID != "" {
		ps = append(ps, logevent.UserID(f.UserID))
	}
	return ps
}

// Batch reads up to n events after the id after, made before now-lag, in
// id order.
func Batch(ctx context.Context, db *ent.Client, after string, f Filter, lag time.Duration, n int) ([]*ent.LogEvent, error) {
	q := db.LogEvent.Query().Where(logevent.IDLT(pulid.ID(IDAt(time.Now().Add(-lag)))))
	if after != "" {
		q.Where(logevent.IDGT(pulid.ID(after)))
	}
	q.Where(f.predicates()...)
	return q.Order(ent.Asc(logevent.FieldID)).Limit(n).All(authz.SystemContext(ctx))
}

// ParseTypes splits a comma-separated list of type codes.
func ParseTypes(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
