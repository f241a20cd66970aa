package telemetry_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/internal/telemetry"
)

// scrape fetches the metrics over HTTP, as Prometheus does.
func scrape(t *testing.T, m *telemetry.Metrics) string {
	t.Helper()
	ts := httptest.NewServer(m.Handler())
	defer ts.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want the text format", ct)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noDB is a driver.Connector that never connects: DBStats needs a pool, not
// a database.
type noDB struct{}

func (noDB) Connect(context.Context) (driver.Conn, error) { return nil, errors.New("no database") }
func (noDB) Driver() driver.Driver                        { return nil }

// TestPromtoolCheckMetrics runs `promtool check metrics` over a real scrape
// after every series has been written to.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is missing; CI must install Debian's prometheus package")
		}
		t.Skip("promtool not found; install Debian's prometheus package (apt-get install prometheus) to run this test")
	}

	e := newEnv(t)
	m := e.metrics
	db := sql.OpenDB(noDB{})
	defer db.Close()
	if err := m.RegisterDB(db, "storybot"); err != nil {
		t.Fatal(err)
	}

	e.query(t, `{ hello books(n: 2) { author { name } } }`, nil)
	e.query(t, `{ fail(code: "NOT_FOUND") }`, nil)
	e.post(t, `{"query":`, nil)
	c := e.dialWebsocket(t, nil)
	c.init(`{}`)
	c.subscribe("1", `subscription { ticks(n: 1, intervalMs: 1) }`)
	c.nextTraceID("1")
	m.StoryStarted()
	m.TokensStreamed(12)
	m.FirstToken(300 * time.Millisecond)
	m.StoryFinished(telemetry.StoryCompleted, 4*time.Second)
	logger, closeLogs, err := telemetry.NewLogger(telemetry.LogConfig{LogstashAddr: reserveAddr(t), LogstashQueueSize: 1}, io.Discard, m)
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("a")
	logger.Info("b")
	logger.Info("c")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_ = closeLogs(ctx)

	body := scrape(t, m)
	for _, name := range []string{
		"graphql_field_duration_seconds_bucket", "graphql_operations_total", "graphql_operation_duration_seconds_bucket",
		"graphql_errors_total", "graphql_websocket_connections", "graphql_active_subscriptions",
		"http_requests_total", "http_request_duration_seconds_bucket",
		"storybot_stories_started_total", "storybot_stories_finished_total", "storybot_story_tokens_streamed_total",
		"storybot_story_first_token_seconds_bucket", "storybot_story_generation_duration_seconds_bucket",
		"storybot_story_write_seconds_bucket", "storybot_story_write_group_stories_bucket",
		"storybot_logstash_dropped_lines_total", "storybot_logstash_connected", "storybot_logstash_queued_lines",
		"go_goroutines", "process_cpu_seconds_total", "go_sql_open_connections", "go_build_info",
	} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("scrape lacks %s", name)
		}
	}

	cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || strings.TrimSpace(out.String()) != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}
}

func TestRegisterDBTwice(t *testing.T) {
	m := telemetry.NewMetrics(telemetry.MetricsOptions{})
	db := sql.OpenDB(noDB{})
	defer db.Close()
	if err := m.RegisterDB(db, "main"); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterDB(db, "main"); err == nil {
		t.Error("registering the same pool name twice succeeded")
	}
	if got := value(t, m.Registry(), "go_sql_max_open_connections", map[string]string{"db_name": "main"}); got != 0 {
		t.Errorf("go_sql_max_open_connections = %v, want 0 (unlimited)", got)
	}
}

func TestStoryMetrics(t *testing.T) {
	m := telemetry.NewMetrics(telemetry.MetricsOptions{})
	reg := m.Registry()
	m.StoryStarted()
	m.StoryStarted()
	m.FirstToken(200 * time.Millisecond)
	m.TokensStreamed(5)
	m.TokensStreamed(0)
	m.TokensStreamed(-3)
	m.StoryFinished(telemetry.StoryCompleted, time.Second)
	m.StoryFinished("cancelled", 2*time.Second)
	m.StoryFinished("something odd", 3*time.Second)
	m.StoriesWritten(40, 12*time.Millisecond)
	m.StoriesWritten(2, 3*time.Millisecond)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"storybot_stories_started_total", nil, 2},
		{"storybot_story_tokens_streamed_total", nil, 5},
		{"storybot_story_first_token_seconds", nil, 1},
		{"storybot_stories_finished_total", map[string]string{"outcome": "completed"}, 1},
		{"storybot_stories_finished_total", map[string]string{"outcome": "cancelled"}, 1},
		{"storybot_stories_finished_total", map[string]string{"outcome": "failed"}, 1},
		{"storybot_story_generation_duration_seconds", map[string]string{"outcome": "failed"}, 1},
		{"storybot_story_write_seconds", nil, 2},
		{"storybot_story_write_group_stories", nil, 2},
	} {
		if got := value(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if n := len(series(t, reg, "storybot_stories_finished_total", nil)); n != 3 {
		t.Errorf("storybot_stories_finished_total has %d series, want 3", n)
	}
}

// TestInstrumentHTTPStatusClasses checks the status class of plain, error
// and streaming responses.
func TestInstrumentHTTPStatusClasses(t *testing.T) {
	m := telemetry.NewMetrics(telemetry.MetricsOptions{})
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusBadGateway) })
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the middleware: %v", err)
		}
		w.(http.Flusher).Flush()
	})
	ts := httptest.NewServer(m.InstrumentHTTP("test", mux))
	defer ts.Close()
	for _, path := range []string{"/ok", "/empty", "/teapot", "/boom", "/stream", "/not-found-path"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	reg := m.Registry()
	for class, want := range map[string]float64{"2xx": 3, "4xx": 2, "5xx": 1} {
		if got := value(t, reg, "http_requests_total", map[string]string{"handler": "test", "method": "GET", "status_class": class}); got != want {
			t.Errorf("http_requests_total{status_class=%q} = %v, want %v", class, got, want)
		}
	}
}
