package apiv2

import (
	"time"

	"github.com/authgraph/authgraph/ent"
)

// LogEvent is a tenant log event in Auth0's log object shape (GET /logs,
// GET /logs/{id}, GET /users/{id}/logs). Fields the event does not have are
// omitted rather than sent as "" (Auth0 omits them too; the SDK's pointers
// read an absent field as nil).
type LogEvent struct {
	// ID and LogID are both the event's id ("log_…", a ULID): ids sort
	// lexicographically in the order the events were written, which is
	// what Auth0's checkpoint paging (from/take) relies on.
	ID           string         `json:"_id"`
	LogID        string         `json:"log_id"`
	Date         string         `json:"date"`
	Type         string         `json:"type"`
	Description  string         `json:"description,omitempty"`
	Connection   string         `json:"connection,omitempty"`
	ConnectionID string         `json:"connection_id,omitempty"`
	ClientID     string         `json:"client_id,omitempty"`
	ClientName   string         `json:"client_name,omitempty"`
	IP           string         `json:"ip,omitempty"`
	UserAgent    string         `json:"user_agent,omitempty"`
	UserID       string         `json:"user_id,omitempty"`
	UserName     string         `json:"user_name,omitempty"`
	Strategy     string         `json:"strategy,omitempty"`
	StrategyType string         `json:"strategy_type,omitempty"`
	Details      map[string]any `json:"details,omitempty"`
}

// logJSON is e in Auth0's log object shape.
func logJSON(e *ent.LogEvent) LogEvent {
	return LogEvent{
		ID:           string(e.ID),
		LogID:        string(e.ID),
		Date:         auth0Time(e.Date),
		Type:         e.Type,
		Description:  e.Description,
		Connection:   e.Connection,
		ConnectionID: e.ConnectionID,
		ClientID:     e.ClientID,
		ClientName:   e.ClientName,
		IP:           e.IP,
		UserAgent:    e.UserAgent,
		UserID:       e.UserID,
		UserName:     e.UserName,
		Strategy:     e.Strategy,
		StrategyType: e.StrategyType,
		Details:      e.Details,
	}
}

// auth0Time formats t as Auth0 does: RFC 3339 in UTC with milliseconds,
// "2021-01-01T00:00:00.000Z". Every Auth0 SDK parses it; "" would not parse.
func auth0Time(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
