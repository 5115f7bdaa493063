package store

import (
	"context"
	"strings"

	"entgo.io/ent/dialect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgraph/authgraph/internal/tracing"
)

// startSpan starts a client span for one statement when tracing is on and
// ctx carries a request's span (background loops are not traced
// statement by statement). The span carries the statement's text (ent's and
// the hand-written statements are parameterized) and never its arguments.
func (d *cachingDriver) startSpan(ctx context.Context, query string) (context.Context, trace.Span) {
	op := operation(query)
	return tracing.StartChild(ctx, op, trace.SpanKindClient,
		attribute.String("db.system", dbSystem(d.Dialect())),
		attribute.String("db.operation", op),
		attribute.String("db.statement", query))
}

func dbSystem(dia string) string {
	switch dia {
	case dialect.Postgres:
		return "postgresql"
	case dialect.SQLite:
		return "sqlite"
	}
	return dia
}

// operation is the statement's first keyword (SELECT, INSERT, …).
func operation(query string) string {
	q := strings.TrimLeft(query, " \t\r\n(")
	end := strings.IndexAny(q, " \t\r\n(")
	if end < 0 {
		end = len(q)
	}
	return strings.ToUpper(q[:end])
}
