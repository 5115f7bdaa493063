package apiv2

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// maxLogSearchResults is Auth0's search window: a search reaches its first
// 1000 events; checkpoint reads (from/take, Request.Take) are unlimited,
// 100 events per request.
const maxLogSearchResults = 1000

// LogsQuery documents GET /logs's parameters.
type LogsQuery struct {
	Q string `query:"q" doc:"Search, in a subset of Auth0's log query syntax: field:value terms (client_id, client_name, connection, connection_id, description, date, ip, log_id, strategy, strategy_type, type, user_agent, user_id, user_name), quoted values, value* prefixes, date:YYYY-MM-DD and date/log_id ranges [a TO b] / {a TO b} with * open, AND / OR / NOT and parentheses; adjacent terms are ORed. Case sensitive."`
	PageQuery
	Sort          string `query:"sort" doc:"date:-1 (newest first, the default) or date:1."`
	Fields        string `query:"fields" doc:"Comma-separated properties to include or exclude (include_fields); empty: all."`
	IncludeFields bool   `query:"include_fields" doc:"Whether fields are included (true, the default) or excluded."`
	From          string `query:"from" doc:"Checkpoint paging: return the events after this log_id, in log_id order (oldest first). With from or take, the other parameters are ignored, as in Auth0; take alone starts at the oldest event."`
	Take          int    `query:"take" doc:"Checkpoint paging: how many events to return (default 50, at most 100; more is read as 100)."`
	SearchEngine  string `query:"search_engine" doc:"Accepted and ignored (Auth0's SDKs send v3)."`
}

func (a *API) logRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodGet, Path: "/logs", Scopes: []string{"read:logs"},
			Summary: "Search log events",
			Description: "Searches the tenant log (q, page, per_page, sort, fields; the first 1000 matches are " +
				"reachable), or reads it from a checkpoint (from, take) without limit. A bare array unless include_totals " +
				"is true (then {start, limit, length, total, logs}).",
			Query: LogsQuery{}, Response: []LogEvent{},
			Handle: a.listLogs,
		},
		{
			Method: http.MethodGet, Path: "/logs/{id}", Scopes: []string{"read:logs"},
			Summary:  "Get a log event by id",
			Response: LogEvent{},
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				id := r.Param("id")
				if !isLogID(id) {
					return nil, notFound("log")
				}
				e, err := a.cfg.DB.LogEvent.Get(r.Ctx(), pulid.ID(id))
				if ent.IsNotFound(err) {
					return nil, notFound("log")
				}
				if err != nil {
					return nil, err
				}
				return logJSON(e), nil
			},
		},
	}
}

func (a *API) listLogs(r *Request) (any, error) {
	if err := refuseUnknownQuery(r, "q", "page", "per_page", "include_totals", "sort", "fields", "include_fields",
		"from", "take", "search_engine"); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	if q.Has("from") || q.Has("take") {
		return a.logsFromCheckpoint(r)
	}
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	if p.Offset()+p.PerPage > maxLogSearchResults {
		return nil, &httpError{Status: http.StatusBadRequest, ErrorCode: "invalid_paging",
			Message: "You can only page through the first 1000 records"}
	}
	fields, include, err := r.Fields()
	if err != nil {
		return nil, err
	}
	order := ent.Desc
	switch q.Get("sort") {
	case "", "date:-1":
	case "date:1":
		order = ent.Asc
	default:
		return nil, badQuery("sort must be date:1 or date:-1")
	}
	pred, err := parseLogSearch(q.Get("q"))
	if err != nil {
		return nil, badQuery("q: %v", err)
	}
	query := a.cfg.DB.LogEvent.Query()
	if pred != nil {
		query.Where(pred)
	}
	// A search that scans a large log is bounded in time as well as in
	// terms (logsearch.go).
	ctx, cancel := context.WithTimeout(r.Ctx(), logSearchTimeout)
	defer cancel()
	total := 0
	if p.IncludeTotals {
		if total, err = query.Clone().Count(ctx); err != nil {
			return nil, searchTimedOut(ctx, err)
		}
		// As for users: SDK paging loops stop at the last reachable page.
		total = min(total, maxLogSearchResults)
	}
	// Ids are ULIDs, written in order: they break ties between equal dates.
	rows, err := query.Order(order(logevent.FieldDate), order(logevent.FieldID)).
		Offset(p.Offset()).Limit(p.PerPage).All(ctx)
	if err != nil {
		return nil, searchTimedOut(ctx, err)
	}
	return ProjectedList(p, "logs", logsJSON(rows), total, fields, include)
}

// logsFromCheckpoint is Auth0's checkpoint paging: the take events after
// the log id from, in id order. Ids are ULIDs made when the event is
// written, so id order is write order and a reader that passes the last
// id it got as from sees every event once. (An event committed after a
// later-made one — a long transaction — can be passed over; the log's
// writers keep transactions short.)
func (a *API) logsFromCheckpoint(r *Request) (any, error) {
	q := r.URL.Query()
	take, err := r.Take()
	if err != nil {
		return nil, err
	}
	query := a.cfg.DB.LogEvent.Query()
	if from := q.Get("from"); from != "" {
		if !isLogID(from) {
			return nil, badQuery("from must be a log id (log_…)")
		}
		query.Where(logevent.IDGT(pulid.ID(from)))
	}
	rows, err := query.Order(ent.Asc(logevent.FieldID)).Limit(take).All(r.Ctx())
	if err != nil {
		return nil, err
	}
	return logsJSON(rows), nil
}

func logsJSON(rows []*ent.LogEvent) []LogEvent {
	out := make([]LogEvent, len(rows))
	for i, e := range rows {
		out[i] = logJSON(e)
	}
	return out
}

// isLogID reports whether id has the shape of a log event id.
func isLogID(id string) bool {
	raw, ok := strings.CutPrefix(id, "log_")
	if !ok {
		return false
	}
	_, err := ulid.ParseStrict(raw)
	return err == nil
}

// refuseUnknownQuery answers 400 for a query parameter the endpoint does
// not take (Auth0 does too), rather than ignoring what the caller meant.
func refuseUnknownQuery(r *Request, allowed ...string) error {
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return badQuery("Additional properties not allowed: %s", k)
		}
	}
	return nil
}

// logSearchTimeout bounds one log search's statements.
const logSearchTimeout = 10 * time.Second

// searchTimedOut turns a search stopped by its deadline into a 400 that
// asks for a narrower query; other errors pass through.
func searchTimedOut(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return badQuery("q: the search took too long; narrow it (a date range, an exact type or user_id)")
	}
	return err
}
