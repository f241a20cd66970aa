package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/storybot/storybot/internal/telemetry"
)

func TestTracingConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		name    string
		getenv  func(string) string
		enabled bool
		err     string
	}{
		{name: "nothing set", getenv: env()},
		{name: "service name only", getenv: env("OTEL_SERVICE_NAME", "x")},
		{name: "endpoint", getenv: env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"), enabled: true},
		{name: "traces endpoint, grpc", getenv: env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), enabled: true},
		{name: "exporter none", getenv: env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER", "none")},
		{name: "ratio sampler", getenv: env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_TRACES_SAMPLER", "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG", "0.25"), enabled: true},
		{name: "unknown exporter", getenv: env("OTEL_TRACES_EXPORTER", "zipkin"), err: "OTEL_TRACES_EXPORTER"},
		{name: "unknown sampler", getenv: env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_TRACES_SAMPLER", "sometimes"), err: "OTEL_TRACES_SAMPLER"},
		{name: "bad ratio", getenv: env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "2"), err: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "unknown protocol", getenv: env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"), err: "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{name: "bad resource attributes", getenv: env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_RESOURCE_ATTRIBUTES", "novalue"), err: "OTEL_RESOURCE_ATTRIBUTES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := telemetry.NewTracing(t.Context(), telemetry.TracingConfigFromEnv(tc.getenv), "test")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("NewTracing: %v, want an error naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Shutdown(context.Background())
			if tr.Enabled() != tc.enabled {
				t.Errorf("Enabled() = %v, want %v", tr.Enabled(), tc.enabled)
			}
		})
	}
}

// TestTracingOffStartsNothing: with tracing off, Start hands back the
// context it got and a span that records nothing.
func TestTracingOffStartsNothing(t *testing.T) {
	tr, err := telemetry.NewTracing(t.Context(), telemetry.TracingConfig{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := telemetry.ContextWithTraceID(context.Background(), "4bf92f3577b34da6a3ce929d0e0e4736")
	got, span := tr.Start(ctx, "x")
	if got != ctx || span.IsRecording() || span.SpanContext().IsValid() {
		t.Errorf("Start with tracing off: a new context %v, recording %v", got != ctx, span.IsRecording())
	}
	if telemetry.TracingFromContext(telemetry.ContextWithTracing(ctx, tr)) != nil {
		t.Error("a context carries tracing that is off")
	}
}

// serve runs one request through h and returns the response and the context
// the handler saw.
func serve(t *testing.T, h func(http.Handler) http.Handler, header http.Header) (*http.Response, context.Context) {
	t.Helper()
	var seen context.Context
	srv := httptest.NewServer(h(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = context.WithoutCancel(r.Context()) })))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	req.Header = header
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp, seen
}

func TestMiddlewareWithTracingOn(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tr := telemetry.NewTracingWith(exporter, "test")
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	w3cHeader := "1234567890abcdef1234567890abcdef"

	resp1, _ := serve(t, tr.Middleware, http.Header{"Traceparent": {"00-" + traceID + "-" + parentID + "-01"}, "Tracestate": {"k=v"}})
	resp2, _ := serve(t, tr.Middleware, http.Header{"X-Trace-Id": {w3cHeader}})
	resp3, _ := serve(t, tr.Middleware, http.Header{})
	resp4, _ := serve(t, tr.Middleware, http.Header{"X-Trace-Id": {"client-own"}})
	spans := exporter.GetSpans()
	defer tr.Shutdown(context.Background())
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 4", len(spans))
	}
	byTrace := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byTrace[s.SpanContext.TraceID().String()] = s
	}
	s1, ok := byTrace[traceID]
	if !ok || s1.Parent.SpanID().String() != parentID || !s1.Parent.IsRemote() || s1.SpanContext.TraceState().String() != "k=v" || s1.SpanKind != trace.SpanKindServer {
		t.Errorf("the traceparent's request: %+v", s1)
	}
	if got := resp1.Header.Get("X-Trace-Id"); got != traceID {
		t.Errorf("X-Trace-Id %q, want %s", got, traceID)
	}
	if s2, ok := byTrace[w3cHeader]; !ok || s2.Parent.IsValid() || resp2.Header.Get("X-Trace-Id") != w3cHeader {
		t.Errorf("a W3C X-Trace-Id is the root span's trace ID: span %v, header %q", ok, resp2.Header.Get("X-Trace-Id"))
	}
	if s3, ok := byTrace[resp3.Header.Get("X-Trace-Id")]; !ok || s3.Parent.IsValid() {
		t.Errorf("a request without trace headers: X-Trace-Id %q is no root span's trace", resp3.Header.Get("X-Trace-Id"))
	}
	if resp4.Header.Get("X-Trace-Id") != "client-own" {
		t.Errorf("a client's own X-Trace-Id came back as %q", resp4.Header.Get("X-Trace-Id"))
	}
}

// TestTracingOffPassesTraceparentOn: with tracing off, the handler's
// context carries the incoming traceparent, and Transport sends it on as
// it came; without one, it sends the request's new trace ID.
func TestTracingOffPassesTraceparentOn(t *testing.T) {
	var got []http.Header
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = append(got, r.Header.Clone()) }))
	defer upstream.Close()
	client := &http.Client{Transport: (*telemetry.Tracing)(nil).Transport(nil)}
	call := func(ctx context.Context) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, upstream.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	resp, ctx := serve(t, telemetry.TraceMiddleware, http.Header{"Traceparent": {tp}, "Tracestate": {"k=v"}})
	call(ctx)
	_, ctx2 := serve(t, telemetry.TraceMiddleware, http.Header{})
	call(ctx2)
	call(context.Background())
	client.CloseIdleConnections()
	if resp.Header.Get("X-Trace-Id") != "4bf92f3577b34da6a3ce929d0e0e4736" || telemetry.SpanIDFromContext(ctx) != "00f067aa0ba902b7" {
		t.Errorf("X-Trace-Id %q, span ID %q", resp.Header.Get("X-Trace-Id"), telemetry.SpanIDFromContext(ctx))
	}
	if got[0].Get("Traceparent") != tp || got[0].Get("Tracestate") != "k=v" {
		t.Errorf("sent on: traceparent %q, tracestate %q; want them as they came", got[0].Get("Traceparent"), got[0].Get("Tracestate"))
	}
	if id := telemetry.TraceIDFromContext(ctx2); !strings.HasPrefix(got[1].Get("Traceparent"), "00-"+id+"-") || !strings.HasSuffix(got[1].Get("Traceparent"), "-00") {
		t.Errorf("a new trace %s went on as %q, want it unsampled", id, got[1].Get("Traceparent"))
	}
	if got[2].Get("Traceparent") != "" {
		t.Errorf("a request outside any trace sent traceparent %q", got[2].Get("Traceparent"))
	}
}

// TestContextWithTraceOf: work detached from a request (a story's run) is
// a child of the request's span; from a carrier, a root in its trace.
func TestContextWithTraceOf(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tr := telemetry.NewTracingWith(exporter, "test")
	req, reqSpan := tr.Start(context.Background(), "request")
	_, child := tr.Start(telemetry.ContextWithTraceOf(context.Background(), req), "run")
	child.End()
	reqSpan.End()
	carrier := telemetry.ContextWithTraceID(context.Background(), "1234567890abcdef1234567890abcdef")
	_, root := tr.Start(telemetry.ContextWithTraceOf(context.Background(), carrier), "resumed")
	root.End()
	defer tr.Shutdown(context.Background())
	spans := map[string]tracetest.SpanStub{}
	for _, s := range exporter.GetSpans() {
		spans[s.Name] = s
	}
	if len(spans) != 3 {
		t.Fatalf("spans %v, want request, run and resumed", spans)
	}
	if spans["run"].Parent.SpanID() != spans["request"].SpanContext.SpanID() || spans["run"].SpanContext.TraceID() != spans["request"].SpanContext.TraceID() {
		t.Errorf("run's parent %s, want the request's span %s", spans["run"].Parent.SpanID(), spans["request"].SpanContext.SpanID())
	}
	if r := spans["resumed"]; r.Parent.IsValid() || r.SpanContext.TraceID().String() != "1234567890abcdef1234567890abcdef" {
		t.Errorf("from a carrier: parent %v, trace %s", r.Parent, r.SpanContext.TraceID())
	}
}

func TestObserveGeneration(t *testing.T) {
	m := telemetry.NewMetrics(telemetry.MetricsOptions{Models: []string{"known"}})
	ctx := telemetry.ContextWithTraceID(context.Background(), "4bf92f3577b34da6a3ce929d0e0e4736")
	m.ObserveGeneration(ctx, telemetry.Generation{Model: "known", Outcome: telemetry.StoryCompleted, QueueWait: time.Second,
		FirstToken: 2 * time.Second, Duration: 4 * time.Second, InputTokens: 10, OutputTokens: 40})
	m.ObserveGeneration(ctx, telemetry.Generation{Model: "a client's", Outcome: "weird", Duration: time.Second, InputTokens: 3})
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	find := func(name string) *dto.MetricFamily {
		for _, f := range families {
			if f.GetName() == name {
				return f
			}
		}
		t.Fatalf("no %s", name)
		return nil
	}
	labels := func(mt *dto.Metric) string {
		var parts []string
		for _, l := range mt.GetLabel() {
			parts = append(parts, l.GetName()+"="+l.GetValue())
		}
		return strings.Join(parts, ",")
	}
	durations := map[string]*dto.Metric{}
	for _, mt := range find("storybot_model_story_duration_seconds").GetMetric() {
		durations[labels(mt)] = mt
	}
	known := durations["model=known,outcome=completed"]
	if known == nil || durations["model=other,outcome=failed"] == nil || len(durations) != 2 {
		t.Fatalf("duration series %v, want known/completed and other/failed", durations)
	}
	var exemplar string
	for _, b := range known.GetHistogram().GetBucket() {
		if e := b.GetExemplar(); e != nil {
			for _, l := range e.GetLabel() {
				if l.GetName() == "trace_id" {
					exemplar = l.GetValue()
				}
			}
		}
	}
	if exemplar != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("the duration's exemplar trace_id %q", exemplar)
	}
	rate := find("storybot_model_tokens_per_second").GetMetric()
	if len(rate) != 1 || rate[0].GetHistogram().GetSampleSum() != 20 {
		t.Errorf("tokens per second: %v, want one observation of 40 tokens over 2 s", rate)
	}
	tokens := map[string]float64{}
	for _, mt := range find("storybot_model_tokens_total").GetMetric() {
		tokens[labels(mt)] = mt.GetCounter().GetValue()
	}
	if tokens["kind=input,model=known"] != 10 || tokens["kind=output,model=known"] != 40 || tokens["kind=input,model=other"] != 3 {
		t.Errorf("tokens %v", tokens)
	}
}
