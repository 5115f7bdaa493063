// Package tracing sets up OpenTelemetry traces from the standard OTEL_*
// environment variables and gives the rest of Authgraph cheap helpers to
// start spans.
//
// Tracing is off unless an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER=otlp is set,
// and always off with OTEL_SDK_DISABLED=true. Off, no exporter runs, the
// handler is not wrapped and Start returns the caller's context with a no-op
// span: instrumented code pays one atomic load.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of Authgraph's own spans.
const ScopeName = "github.com/authgraph/authgraph"

// DefaultServiceName is service.name unless OTEL_SERVICE_NAME (or
// OTEL_RESOURCE_ATTRIBUTES) names another.
const DefaultServiceName = "authgraph"

// state is the tracer provider in force: nil while tracing is off.
type state struct {
	tp     trace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

var current atomic.Pointer[state]

// Enabled reports whether spans are recorded and exported.
func Enabled() bool { return current.Load() != nil }

// Setup configures tracing from the environment and returns the function
// that flushes pending spans and stops the exporter (call it at exit; it is
// a no-op when tracing is off). An unusable configuration (an unknown
// exporter or protocol) is an error: an operator who asked for traces
// should not silently get none.
func Setup(ctx context.Context, logger *slog.Logger) (shutdown func(context.Context) error, err error) {
	noopShutdown := func(context.Context) error { return nil }
	if !wanted() {
		return noopShutdown, nil
	}
	exp, err := newExporter(ctx)
	if err != nil {
		return noopShutdown, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", DefaultServiceName)),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && res == nil {
		return noopShutdown, fmt.Errorf("tracing resource: %w", err)
	}
	// The sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG
	// (the SDK reads them; parentbased_always_on by default) and the batch
	// processor from OTEL_BSP_*.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	if logger != nil {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			logger.Warn("tracing: exporting spans", "err", err)
		}))
	}
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(prop)
	current.Store(&state{tp: tp, tracer: tp.Tracer(ScopeName), prop: prop})
	return func(ctx context.Context) error {
		current.Store(nil)
		otel.SetTracerProvider(noop.NewTracerProvider())
		return tp.Shutdown(ctx) // flushes the batch
	}, nil
}

// wanted reports whether the environment asks for traces.
func wanted() bool {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))) {
	case "none":
		return false
	case "otlp":
		return true
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// newExporter builds the OTLP exporter named by OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL.
// Both exporters read their endpoint, headers, timeout, compression and TLS
// settings from the standard variables themselves.
func newExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	if e := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))); e != "" && e != "otlp" {
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp (or none) is supported", e)
	}
	proto := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch strings.ToLower(strings.TrimSpace(proto)) {
	case "", "http/protobuf":
		return otlptracehttp.New(ctx)
	case "grpc":
		return otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: use http/protobuf or grpc", proto)
	}
}

// noSpan is what Start returns while tracing is off.
var noSpan = trace.SpanFromContext(context.Background())

// Start starts a span named name as a child of ctx's span. Off, it returns
// ctx unchanged and a no-op span.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	st := current.Load()
	if st == nil {
		return ctx, noSpan
	}
	return st.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
}

// StartChild is Start for fine-grained work (database statements): it
// starts a span only when ctx already carries a recording one, so that
// background loops do not each produce a trace.
func StartChild(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	st := current.Load()
	if st == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, noSpan
	}
	return st.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// End records err (when not nil) on span and ends it.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Handler wraps the server's handler: one server span per request, a child
// of the incoming W3C traceparent when there is one, first named by
// route(r) (a route pattern, never the raw path: ids stay out of span names)
// and renamed by SetRoute where a handler routes further. Off, it returns h.
func Handler(h http.Handler, route func(*http.Request) string) http.Handler {
	st := current.Load()
	if st == nil {
		return h
	}
	named := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r, route(r))
		h.ServeHTTP(w, r)
	})
	return otelhttp.NewHandler(named, "http.server",
		otelhttp.WithTracerProvider(st.tp),
		otelhttp.WithPropagators(st.prop),
		// Renamed by SetRoute once the route is known.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
}

// SetRoute names the request's server span after route, for handlers that
// route below the server's mux (the management API). Off, it does nothing.
func SetRoute(r *http.Request, route string) {
	if current.Load() == nil {
		return
	}
	span := trace.SpanFromContext(r.Context())
	if !span.IsRecording() {
		return
	}
	span.SetName(r.Method + " " + route)
	span.SetAttributes(attribute.String("http.route", route))
}

// Transport wraps an outbound HTTP transport so each call gets a client
// span and carries traceparent. Off, it returns rt.
func Transport(rt http.RoundTripper) http.RoundTripper {
	st := current.Load()
	if st == nil {
		return rt
	}
	return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(st.tp), otelhttp.WithPropagators(st.prop))
}
