package tracing_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgraph/authgraph/internal/tracing"
)

// BenchmarkStartOff is the cost instrumented code pays with tracing off
// (docs/BENCHMARKS.md).
func BenchmarkStartOff(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, span := tracing.Start(ctx, "password.verify")
		tracing.End(span, nil)
	}
}

// BenchmarkStartChildOff is a database statement's cost with tracing off.
func BenchmarkStartChildOff(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if tracing.Enabled() {
			_, span := tracing.StartChild(ctx, "SELECT", trace.SpanKindClient, attribute.String("db.operation", "SELECT"))
			span.End()
		}
	}
}
