package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/authgraph/authgraph/internal/tracing"
)

// TestLogHandlerAddsTraceIDs: a record logged with a span's context carries
// its trace and span ids, also through WithAttrs; one without a span, none.
func TestLogHandlerAddsTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(tracing.LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	logger.InfoContext(ctx, "inside")
	span.End()
	logger.InfoContext(context.Background(), "outside")
	logger.Info("no context")

	dec := json.NewDecoder(&buf)
	var recs []map[string]any
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, m)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	sc := span.SpanContext()
	if recs[0]["trace_id"] != sc.TraceID().String() || recs[0]["span_id"] != sc.SpanID().String() || recs[0]["component"] != "test" {
		t.Errorf("record with a span: %v, want trace_id %s span_id %s", recs[0], sc.TraceID(), sc.SpanID())
	}
	for _, r := range recs[1:] {
		if _, ok := r["trace_id"]; ok {
			t.Errorf("record without a span has a trace_id: %v", r)
		}
	}
}

// TestSetupRefusesUnknownProtocols: asking for traces in a way Authgraph
// cannot honour is an error, not silence.
func TestSetupRefusesUnknownProtocols(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	if _, err := tracing.Setup(context.Background(), nil); err == nil {
		t.Fatal("http/json accepted")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")
	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
	if _, err := tracing.Setup(context.Background(), nil); err == nil {
		t.Fatal("zipkin accepted")
	}
	if tracing.Enabled() {
		t.Fatal("tracing on after refused setups")
	}
}
