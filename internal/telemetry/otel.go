package telemetry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// InstrumentationName names storybot's tracer.
const InstrumentationName = "github.com/storybot/storybot"

// Propagator is the W3C Trace Context (traceparent, tracestate) and
// Baggage propagator, installed whether or not tracing is on: an incoming
// traceparent is honoured and passed on either way.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// TracingConfig is what the standard OTEL_* variables say about traces.
type TracingConfig struct {
	Exporter    string // OTEL_TRACES_EXPORTER: "otlp" (default) or "none"
	Endpoint    string // OTEL_EXPORTER_OTLP_ENDPOINT: base URL, /v1/traces is appended for HTTP
	TracesURL   string // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the full URL, used as it is
	Protocol    string // OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL: "http/protobuf" (default) or "grpc"
	ServiceName string // OTEL_SERVICE_NAME, default "storybot"
	Attributes  string // OTEL_RESOURCE_ATTRIBUTES: key=value,key=value (percent-encoded values)
	Sampler     string // OTEL_TRACES_SAMPLER, default parentbased_always_on
	SamplerArg  string // OTEL_TRACES_SAMPLER_ARG: the ratio of the traceidratio samplers
}

// TracingConfigFromEnv reads the OTEL_* variables through getenv.
func TracingConfigFromEnv(getenv func(string) string) TracingConfig {
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	return TracingConfig{
		Exporter: getenv("OTEL_TRACES_EXPORTER"), Endpoint: getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
		TracesURL: getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), Protocol: protocol,
		ServiceName: getenv("OTEL_SERVICE_NAME"), Attributes: getenv("OTEL_RESOURCE_ATTRIBUTES"),
		Sampler: getenv("OTEL_TRACES_SAMPLER"), SamplerArg: getenv("OTEL_TRACES_SAMPLER_ARG"),
	}
}

// Enabled reports whether c asks for traces to be exported: an endpoint is
// set and the exporter is not "none".
func (c TracingConfig) Enabled() bool {
	return c.Exporter != "none" && (c.Endpoint != "" || c.TracesURL != "")
}

// Tracing is storybot's tracer provider. A nil *Tracing, or one made from a
// configuration that exports nothing, is off: it starts no span, runs no
// goroutine and only carries trace IDs (see ContextWithTraceID).
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// NewTracing returns the tracing that c asks for. When c is not Enabled the
// result is off and costs nothing.
func NewTracing(ctx context.Context, c TracingConfig, serviceVersion string) (*Tracing, error) {
	switch c.Exporter {
	case "", "otlp", "none":
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: storybot exports traces by OTLP (otlp) or not at all (none)", c.Exporter)
	}
	if !c.Enabled() {
		return &Tracing{}, nil
	}
	sampler, err := c.sampler()
	if err != nil {
		return nil, err
	}
	res, err := c.resource(serviceVersion)
	if err != nil {
		return nil, err
	}
	exporter, err := c.exporter(ctx)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
		sdktrace.WithIDGenerator(idGenerator{}),
	)
	return &Tracing{provider: tp, tracer: tp.Tracer(InstrumentationName)}, nil
}

// NewTracingWith returns a tracing that hands each span to exporter (a
// test's) as it ends, sampling every trace.
func NewTracingWith(exporter sdktrace.SpanExporter, serviceName string) *Tracing {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exporter),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(serviceName))),
		sdktrace.WithIDGenerator(idGenerator{}),
	)
	return &Tracing{provider: tp, tracer: tp.Tracer(InstrumentationName)}
}

// Enabled reports whether t records spans.
func (t *Tracing) Enabled() bool { return t != nil && t.provider != nil }

// TracerProvider returns t's provider, a no-op one when t is off.
func (t *Tracing) TracerProvider() trace.TracerProvider {
	if !t.Enabled() {
		return tracenoop.NewTracerProvider()
	}
	return t.provider
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Start starts a span named name as a child of ctx's span. When ctx's span
// context is one that only carries a trace ID (see ContextWithTraceID), the
// span starts a new local root in that trace. When t is off, ctx is returned
// as it is with a span that does nothing.
func (t *Tracing) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !t.Enabled() {
		return ctx, noopSpan
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && isCarrier(ctx, sc) {
		ctx = context.WithValue(ctx, wantTraceIDKey{}, sc.TraceID())
		opts = append(opts, trace.WithNewRoot())
		if link, ok := ctx.Value(linkKey{}).(trace.SpanContext); ok {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: link}))
		}
	}
	return t.tracer.Start(ctx, name, opts...)
}

// noopSpan is the span Start returns when tracing is off.
var noopSpan = trace.SpanFromContext(context.Background())

type tracingKey struct{}

// ContextWithTracing returns a copy of ctx carrying t, for Start.
func ContextWithTracing(ctx context.Context, t *Tracing) context.Context {
	if !t.Enabled() {
		return ctx
	}
	return context.WithValue(ctx, tracingKey{}, t)
}

// TracingFromContext returns the tracing ctx carries, nil (off) when none.
func TracingFromContext(ctx context.Context) *Tracing {
	t, _ := ctx.Value(tracingKey{}).(*Tracing)
	return t
}

// Start starts a span with the tracing that ctx carries (see
// [Tracing.Start]); without one it does nothing.
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return TracingFromContext(ctx).Start(ctx, name, opts...)
}

// Transport returns base (http.DefaultTransport when nil) sending
// traceparent, tracestate and baggage from each request's context; when t
// is on, each request is also a client span.
func (t *Tracing) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if !t.Enabled() {
		return propagatingTransport{base}
	}
	return otelhttp.NewTransport(base, otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(Propagator), otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()))
}

// propagatingTransport sends the trace context without a span of its own.
type propagatingTransport struct{ base http.RoundTripper }

func (p propagatingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !trace.SpanContextFromContext(r.Context()).IsValid() {
		return p.base.RoundTrip(r)
	}
	r = r.Clone(r.Context()) // a RoundTripper must not change its request
	Propagator.Inject(r.Context(), propagation.HeaderCarrier(r.Header))
	return p.base.RoundTrip(r)
}

// EndSpan records err (when not nil) on span as its error status, then ends
// it.
func EndSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func (c TracingConfig) exporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	switch c.Protocol {
	case "", "http/protobuf":
		target := c.TracesURL
		if target == "" {
			target = strings.TrimSuffix(c.Endpoint, "/") + "/v1/traces"
		}
		return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(target))
	case "grpc":
		target := c.TracesURL
		if target == "" {
			target = c.Endpoint
		}
		return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(target))
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: want http/protobuf or grpc", c.Protocol)
	}
}

func (c TracingConfig) resource(serviceVersion string) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{}
	for _, kv := range strings.Split(c.Attributes, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %q is not key=value", kv)
		}
		v, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %q: %w", kv, err)
		}
		attrs = append(attrs, attribute.String(strings.TrimSpace(k), v))
	}
	name := c.ServiceName
	if name == "" {
		name = "storybot"
	}
	// The service's name and version come last, so that they win.
	attrs = append(attrs, semconv.ServiceName(name), semconv.ServiceVersion(serviceVersion))
	return resource.NewSchemaless(attrs...), nil
}

func (c TracingConfig) sampler() (sdktrace.Sampler, error) {
	ratio := 1.0
	if c.SamplerArg != "" {
		r, err := strconv.ParseFloat(c.SamplerArg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio from 0 to 1", c.SamplerArg)
		}
		ratio = r
	}
	switch c.Sampler {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	}
	return nil, errors.New("OTEL_TRACES_SAMPLER=" + strconv.Quote(c.Sampler) + ": not a sampler storybot knows")
}

// wantTraceIDKey holds the trace ID a new root span is to have.
type wantTraceIDKey struct{}

// idGenerator makes random IDs, except that a root span started by Start
// keeps the trace ID its context carried.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	tid, ok := ctx.Value(wantTraceIDKey{}).(trace.TraceID)
	if !ok || !tid.IsValid() {
		tid = randomTraceID()
	}
	return tid, randomSpanID()
}

func (idGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return randomSpanID() }

func randomTraceID() trace.TraceID {
	var id trace.TraceID
	for !id.IsValid() {
		putUint64(id[:8], rand.Uint64())
		putUint64(id[8:], rand.Uint64())
	}
	return id
}

func randomSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		putUint64(id[:], rand.Uint64())
	}
	return id
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}
