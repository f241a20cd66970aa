//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Tracing's cost, beside the field-timing scenario: the prompts query on
// storybot with tracing off (no OTEL_* endpoint) and on with every trace
// sampled, exporting by OTLP/HTTP to a sink in the harness, in interleaved
// rounds. With -tracing-before-bin, a storybot built before OpenTelemetry
// came in is measured too, as the reference of tracing off.

const (
	labelTracingOff    = "tracing off"
	labelTracingOn     = "tracing on, 100% sampled"
	labelTracingBefore = "before OpenTelemetry"
)

// tracingReport is what runTracing measured, by label.
type tracingReport struct {
	labels    []string
	results   map[string]loadResult
	exports   int64 // OTLP requests the sink received
	spanBytes int64 // their bytes
}

// otlpSink accepts OTLP/HTTP trace exports and counts them, as a collector
// on the same machine would take them.
type otlpSink struct {
	srv      *http.Server
	addr     string
	requests atomic.Int64
	bytes    atomic.Int64
}

func startOTLPSink() (*otlpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &otlpSink{addr: ln.Addr().String()}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.requests.Add(1)
		s.bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse
	}), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *otlpSink) close() { s.srv.Close() }

// runTracing measures the prompts query (seeded by the query scenario) with
// tracing off and on, and on the -tracing-before-bin storybot when given.
func (b *bench) runTracing(ctx context.Context) (*tracingReport, error) {
	sink, err := startOTLPSink()
	if err != nil {
		return nil, err
	}
	defer sink.close()
	off, err := b.startStorybot(ctx, "tracing-off", "STORYBOT_FIELD_TIMINGS=true")
	if err != nil {
		return nil, err
	}
	defer b.stopChild(off)
	on, err := b.startStorybot(ctx, "tracing-on", "STORYBOT_FIELD_TIMINGS=true",
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://"+sink.addr, "OTEL_TRACES_SAMPLER=always_on", "OTEL_SERVICE_NAME=storybot-bench")
	if err != nil {
		return nil, err
	}
	defer b.stopChild(on)
	targets := []queryTarget{{labelTracingOff, off}, {labelTracingOn, on}}
	if b.cfg.tracingBeforeBin != "" {
		bin := b.bin
		b.bin = b.cfg.tracingBeforeBin
		before, err := b.startStorybot(ctx, "tracing-before", "STORYBOT_FIELD_TIMINGS=true")
		b.bin = bin
		if err != nil {
			return nil, err
		}
		defer b.stopChild(before)
		targets = append(targets, queryTarget{labelTracingBefore, before})
	}
	rep := &tracingReport{results: map[string]loadResult{}}
	for _, t := range targets {
		rep.labels = append(rep.labels, t.label)
	}
	body, _ := json.Marshal(map[string]string{"query": promptsQuery})
	window := b.cfg.queryDuration / time.Duration(b.cfg.queryRounds)
	exportsBefore := sink.requests.Load()
	for round := range b.cfg.queryRounds {
		for _, t := range targets {
			load := &httpLoad{addr: t.c.addr, path: "/graphql", body: body, token: b.token, clients: b.cfg.queryClients, server: t.c, backends: b.db.backends}
			var rtBefore runtimeStats
			var rtErr error
			load.onMeasure = func() { rtBefore, rtErr = readRuntime(ctx, t.c.addr) }
			b.progress("tracing: round %d of %d, %s: %s warm-up, %s measured", round+1, b.cfg.queryRounds, t.label, b.cfg.queryWarmup, window)
			res, err := load.run(ctx, b.cfg.queryWarmup, window)
			if err != nil {
				return nil, err
			}
			if rt, err := readRuntime(ctx, t.c.addr); err == nil && rtErr == nil {
				res.mallocs = rt.mallocs - rtBefore.mallocs
			}
			r := rep.results[t.label]
			r.merge(res)
			rep.results[t.label] = r
			b.progress("tracing: %s: %.0f req/s, p50 %s, %s CPU per request", t.label, res.throughput(), res.latencies.percentile(0.5), micros2(res.cpuPerRequest()))
		}
	}
	// The spans of the last requests leave within the batch timeout.
	time.Sleep(2 * time.Second)
	rep.exports, rep.spanBytes = sink.requests.Load()-exportsBefore, sink.bytes.Load()
	return rep, nil
}

// tracingTable is table 3b, and its rows of the targets table.
func (r *tracingReport) tracingTable(targets *table) *table {
	off, on := r.results[labelTracingOff], r.results[labelTracingOn]
	t := &table{
		title:  "3b. Tracing cost (the prompts query of scenario 1, field timings on)",
		header: []string{"storybot", "req/s", "p50", "p99", "server CPU per request", "vs tracing off", "allocations per request"},
	}
	for _, label := range r.labels {
		res := r.results[label]
		t.add(label, fmt.Sprintf("%.0f", res.throughput()), ms(res.latencies.percentile(0.5)), ms(res.latencies.percentile(0.99)),
			micros2(res.cpuPerRequest()), fmt.Sprintf("%+.1f%%", 100*(float64(res.cpuPerRequest())/float64(off.cpuPerRequest())-1)),
			fmt.Sprintf("%.0f", res.allocsPerRequest()))
	}
	onCost := float64(on.cpuPerRequest())/float64(off.cpuPerRequest()) - 1
	targets.add("tracing on (100% sampled) costs ≤ 10% server CPU per request", fmt.Sprintf("%+.1f%% (%s vs %s off)", 100*onCost, micros2(on.cpuPerRequest()), micros2(off.cpuPerRequest())), verdict(onCost <= 0.10))
	if before, ok := r.results[labelTracingBefore]; ok {
		offCost := float64(off.cpuPerRequest())/float64(before.cpuPerRequest()) - 1
		targets.add("tracing off costs ≤ 2% server CPU per request", fmt.Sprintf("%+.1f%% (%s vs %s before OpenTelemetry)", 100*offCost, micros2(off.cpuPerRequest()), micros2(before.cpuPerRequest())), verdict(offCost <= 0.02))
	} else {
		t.note("Tracing off against a storybot without OpenTelemetry: give -tracing-before-bin.")
	}
	t.note("With tracing on, the sink took %d OTLP exports, %s in all, warm-ups included (spans of the HTTP request, the operation, the resolver field and the statements of each request).",
		r.exports, kib(float64(r.spanBytes)))
	return t
}
