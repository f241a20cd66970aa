package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/storybot/storybot/internal/telemetry"
	"github.com/storybot/storybot/internal/viewer"
)

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{in: "", want: slog.LevelInfo},
		{in: "debug", want: slog.LevelDebug},
		{in: "INFO", want: slog.LevelInfo},
		{in: "warn", want: slog.LevelWarn},
		{in: " error ", want: slog.LevelError},
		{in: "verbose", wantErr: true},
		{in: "info+2", wantErr: true},
	} {
		got, err := telemetry.ParseLevel(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestNewLoggerRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]telemetry.LogConfig{
		"level":         {Level: "loud"},
		"logstash addr": {LogstashAddr: "no-port"},
		"file":          {File: filepath.Join(t.TempDir(), "missing-dir-is-a-file", "x.log")},
	} {
		if name == "file" {
			// Make the file's directory a regular file.
			if err := os.WriteFile(filepath.Dir(cfg.File), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := telemetry.NewLogger(cfg, io.Discard, nil); err == nil {
			t.Errorf("%s: NewLogger(%+v) succeeded, want an error", name, cfg)
		}
	}
}

// topLevelKeys returns the keys of one JSON object line in order, failing
// on a duplicate.
func topLevelKeys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", line)
	}
	var keys []string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		k := tok.(string)
		if seen[k] {
			t.Errorf("duplicate key %q in %s", k, line)
		}
		seen[k] = true
		keys = append(keys, k)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestLoggerECSLayout checks the fields Kibana users expect, the trace ID
// from the context (outside any group), and that attributes named like the
// package's own fields are renamed instead of duplicated.
func TestLoggerECSLayout(t *testing.T) {
	var out syncBuffer
	logger, closeLogs, err := telemetry.NewLogger(telemetry.LogConfig{
		Level:          "info",
		ServiceName:    "storybot-test",
		ServiceVersion: "1.2.3",
		Environment:    "test",
	}, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := telemetry.ContextWithTraceID(context.Background(), "trace-1")

	logger.DebugContext(ctx, "not written at info")
	logger.InfoContext(ctx, "story started", slog.String("story.id", "s1"), slog.String("message", "clash"), slog.String("trace.id", "clash"))
	logger.With(slog.String("level", "clash")).WithGroup("req").InfoContext(ctx, "grouped", slog.Int("n", 1))
	logger.Info("no context")
	if err := closeLogs(context.Background()); err != nil {
		t.Fatal(err)
	}

	raw := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(raw) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(raw), out.String())
	}
	for _, l := range raw {
		keys := topLevelKeys(t, []byte(l))
		for _, k := range []string{"time", "level", "msg"} {
			for _, got := range keys {
				if got == k {
					t.Errorf("slog's key %q is in %s", k, l)
				}
			}
		}
	}
	lines := decodeLines(t, out.String())

	first := lines[0]
	host, _ := os.Hostname()
	if diff := cmp.Diff(map[string]string{
		"message":             "story started",
		"log.level":           "info",
		"ecs.version":         telemetry.ECSVersion,
		"service.name":        "storybot-test",
		"service.version":     "1.2.3",
		"service.environment": "test",
		"host.name":           host,
		"trace.id":            "trace-1",
		"story.id":            "s1",
		"labels.message":      "clash",
		"labels.trace.id":     "clash",
	}, pick(first, "message", "log.level", "ecs.version", "service.name", "service.version",
		"service.environment", "host.name", "trace.id", "story.id", "labels.message", "labels.trace.id")); diff != "" {
		t.Errorf("first line (-want +got):\n%s", diff)
	}
	if ts := first.str("@timestamp"); !strings.HasSuffix(ts, "Z") {
		t.Errorf("@timestamp = %q, want UTC", ts)
	}

	grouped := lines[1]
	if got := grouped.str("trace.id"); got != "trace-1" {
		t.Errorf("grouped line: trace.id = %q, want trace-1 at the top level: %v", got, grouped)
	}
	if got := grouped.str("labels.level"); got != "clash" {
		t.Errorf("grouped line: labels.level = %q, want clash", got)
	}
	if diff := cmp.Diff(map[string]any{"n": 1.0}, grouped["req"]); diff != "" {
		t.Errorf("grouped line: req (-want +got):\n%s", diff)
	}

	if _, ok := lines[2]["trace.id"]; ok {
		t.Errorf("a line without a trace ID in its context has trace.id: %v", lines[2])
	}
}

func TestLoggerFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "logs", "storybot.log")
	logger, closeLogs, err := telemetry.NewLogger(telemetry.LogConfig{File: name, FileMaxSizeMB: 1, FileMaxBackups: 2}, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	logger.InfoContext(telemetry.ContextWithTraceID(context.Background(), "file-trace"), "to the file")
	if err := closeLogs(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	lines := decodeLines(t, string(b))
	if len(lines) != 1 || lines[0].str("message") != "to the file" || lines[0].str("trace.id") != "file-trace" {
		t.Errorf("file holds %s", b)
	}
	// Closing twice is harmless.
	if err := closeLogs(context.Background()); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// TestLoggerNamesTheSignedInUser: a line logged under a request of a
// signed-in user carries user.id; a line that names a user itself (the
// account just signed in) keeps its own.
func TestLoggerNamesTheSignedInUser(t *testing.T) {
	var out syncBuffer
	logger, closeLogs, err := telemetry.NewLogger(telemetry.LogConfig{Level: "info"}, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := viewer.NewContext(telemetry.ContextWithTraceID(context.Background(), "trace-2"), &viewer.Viewer{UserID: "us_1"})
	logger.InfoContext(ctx, "prompt created")
	logger.InfoContext(ctx, "signed in", slog.String("user.id", "us_2"))
	logger.Info("no user")
	if err := closeLogs(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := decodeLines(t, out.String())
	if len(lines) != 3 {
		t.Fatalf("got %d lines", len(lines))
	}
	for i, want := range []string{"us_1", "us_2", ""} {
		if got, _ := lines[i]["user.id"].(string); got != want {
			t.Errorf("line %d: user.id %q, want %q", i, got, want)
		}
	}
	if n := strings.Count(out.String(), `"user.id"`); n != 2 {
		t.Errorf("user.id appears %d times in:\n%s", n, out.String())
	}
}
