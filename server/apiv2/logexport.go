package apiv2

import "github.com/authgraph/authgraph/ent"

// LogJSON is e in Auth0's log object shape, as GET /api/v2/logs returns it:
// `authgraph logs tail` and log streams print and send the same objects.
func LogJSON(e *ent.LogEvent) LogEvent { return logJSON(e) }
