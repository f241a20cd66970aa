package telemetry_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/internal/telemetry/internal/testgql"
)

// syncBuffer is a bytes.Buffer safe for one writer and readers at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logLine is one decoded JSON log line.
type logLine map[string]any

func (l logLine) str(key string) string {
	s, _ := l[key].(string)
	return s
}

// lines decodes the JSON lines written so far.
func (b *syncBuffer) lines(t *testing.T) []logLine {
	t.Helper()
	return decodeLines(t, b.String())
}

func decodeLines(t *testing.T, s string) []logLine {
	t.Helper()
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		out = append(out, l)
	}
	return out
}

// find returns the lines with the given message.
func find(lines []logLine, message string) []logLine {
	var out []logLine
	for _, l := range lines {
		if l.str("message") == message {
			out = append(out, l)
		}
	}
	return out
}

// env is a GraphQL server with telemetry behind a real HTTP server.
type env struct {
	metrics *telemetry.Metrics
	logs    *syncBuffer
	server  *httptest.Server
	client  *http.Client
}

// newEnv starts the test schema behind TraceMiddleware and InstrumentHTTP,
// with the extension added, as server.go is meant to wire it.
func newEnv(t *testing.T, opts ...telemetry.ExtensionOption) *env {
	t.Helper()
	m := telemetry.NewMetrics(telemetry.MetricsOptions{})
	logs := &syncBuffer{}
	logger, closeLogs, err := telemetry.NewLogger(telemetry.LogConfig{Level: "debug"}, logs, m)
	if err != nil {
		t.Fatal(err)
	}
	ext := telemetry.NewGraphQLExtension(m, logger, opts...)

	srv := handler.New(testgql.NewSchema())
	srv.AddTransport(transport.Websocket{
		InitFunc:              ext.WebsocketInit,
		CloseFunc:             ext.WebsocketClose,
		KeepAlivePingInterval: 10 * time.Second,
	})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.Use(ext)

	mux := http.NewServeMux()
	mux.Handle("/graphql", telemetry.TraceMiddleware(m.InstrumentHTTP("graphql", srv)))
	mux.Handle("/metrics", m.InstrumentHTTP("metrics", m.Handler()))
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ts.Close()
		if err := closeLogs(t.Context()); err != nil {
			t.Errorf("closing logs: %v", err)
		}
	})
	return &env{metrics: m, logs: logs, server: ts, client: ts.Client()}
}

// gqlResponse is a decoded GraphQL response.
type gqlResponse struct {
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// httpResult is what a request returned.
type httpResult struct {
	status int
	header http.Header
	body   string
	resp   gqlResponse
}

// post sends body to /graphql as JSON with the given headers.
func (e *env) post(t *testing.T, body string, header map[string]string) httpResult {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.server.URL+"/graphql", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return e.do(t, req)
}

// query posts a GraphQL query.
func (e *env) query(t *testing.T, query string, header map[string]string) httpResult {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query})
	if err != nil {
		t.Fatal(err)
	}
	return e.post(t, string(b), header)
}

func (e *env) do(t *testing.T, req *http.Request) httpResult {
	t.Helper()
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := httpResult{status: res.StatusCode, header: res.Header, body: string(b)}
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(b, &r.resp); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, b)
		}
	}
	return r
}

// family returns the gathered metric family name, or nil.
func family(t *testing.T, reg prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// labelsOf returns a series' labels as a map.
func labelsOf(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// series returns the series of name whose labels include want.
func series(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) []*dto.Metric {
	t.Helper()
	mf := family(t, reg, name)
	if mf == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range mf.GetMetric() {
		got := labelsOf(m)
		match := true
		for k, v := range want {
			if got[k] != v {
				match = false
				break
			}
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}

// value returns the value of the one series of name with exactly the labels
// want: a counter's or gauge's value, a histogram's sample count.
func value(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	ms := series(t, reg, name, want)
	for _, m := range ms {
		if len(labelsOf(m)) != len(want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// allLabelValues returns every label value in the registry.
func allLabelValues(t *testing.T, reg prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				out = append(out, fmt.Sprintf("%s{%s=%q}", mf.GetName(), l.GetName(), l.GetValue()))
			}
		}
	}
	return out
}
