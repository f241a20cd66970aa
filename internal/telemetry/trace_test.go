package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/storybot/storybot/internal/telemetry"
)

var newIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestValidTraceID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"abc", true},
		{"A-b_c.9", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"has space", false},
		{"semi;colon", false},
		{"<script>", false},
		{"ünïcode", false},
		{"new\nline", false},
	} {
		if got := telemetry.ValidTraceID(tc.id); got != tc.want {
			t.Errorf("ValidTraceID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestNewTraceID(t *testing.T) {
	a, b := telemetry.NewTraceID(), telemetry.NewTraceID()
	for _, id := range []string{a, b} {
		if !newIDPattern.MatchString(id) || !telemetry.ValidTraceID(id) {
			t.Errorf("NewTraceID() = %q, want 32 lowercase hex digits", id)
		}
	}
	if a == b {
		t.Errorf("two NewTraceID() calls both returned %q", a)
	}
}

func TestTraceIDFromRequest(t *testing.T) {
	const parent = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tc := range []struct {
		name        string
		traceID     string
		traceparent string
		want        string // "" means a new ID
	}{
		{name: "header kept", traceID: "abc", want: "abc"},
		{name: "header wins over traceparent", traceID: "abc", traceparent: "00-" + parent + "-00f067aa0ba902b7-01", want: "abc"},
		{name: "traceparent", traceparent: "00-" + parent + "-00f067aa0ba902b7-01", want: parent},
		{name: "invalid header, traceparent", traceID: "bad id!", traceparent: "00-" + parent + "-00f067aa0ba902b7-01", want: parent},
		{name: "future version with more fields", traceparent: "01-" + parent + "-00f067aa0ba902b7-01-extra", want: parent},
		{name: "version 00 with more fields", traceparent: "00-" + parent + "-00f067aa0ba902b7-01-extra"},
		{name: "version ff", traceparent: "ff-" + parent + "-00f067aa0ba902b7-01"},
		{name: "uppercase", traceparent: "00-" + strings.ToUpper(parent) + "-00f067aa0ba902b7-01"},
		{name: "zero trace id", traceparent: "00-" + strings.Repeat("0", 32) + "-00f067aa0ba902b7-01"},
		{name: "zero parent id", traceparent: "00-" + parent + "-0000000000000000-01"},
		{name: "short", traceparent: "00-" + parent[:30] + "-00f067aa0ba902b7-01"},
		{name: "junk", traceID: "<script>alert(1)</script>", traceparent: "junk"},
		{name: "too long", traceID: strings.Repeat("x", 65)},
		{name: "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.traceID != "" {
				r.Header.Set("X-Trace-Id", tc.traceID)
			}
			if tc.traceparent != "" {
				r.Header.Set("traceparent", tc.traceparent)
			}
			got := telemetry.TraceIDFromRequest(r)
			if tc.want != "" {
				if got != tc.want {
					t.Errorf("TraceIDFromRequest = %q, want %q", got, tc.want)
				}
				return
			}
			if !newIDPattern.MatchString(got) {
				t.Errorf("TraceIDFromRequest = %q, want a new ID", got)
			}
		})
	}
}

func TestContextWithTraceID(t *testing.T) {
	ctx := context.Background()
	if got := telemetry.TraceIDFromContext(ctx); got != "" {
		t.Errorf("TraceIDFromContext(empty) = %q, want \"\"", got)
	}
	ctx = telemetry.ContextWithTraceID(ctx, "abc")
	if got := telemetry.TraceIDFromContext(ctx); got != "abc" {
		t.Errorf("TraceIDFromContext = %q, want abc", got)
	}
	ctx = telemetry.ContextWithTraceID(ctx, "not valid")
	if got := telemetry.TraceIDFromContext(ctx); got != "abc" {
		t.Errorf("after an invalid ID, TraceIDFromContext = %q, want abc", got)
	}
}

// TestTraceMiddlewareHeaderOnErrors checks that the header is set before the
// handler writes, so that it is on error responses too.
func TestTraceMiddlewareHeaderOnErrors(t *testing.T) {
	var seen string
	h := telemetry.TraceMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = telemetry.TraceIDFromContext(r.Context())
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	ts := httptest.NewServer(h)
	defer ts.Close()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Trace-Id", "err-trace")
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", res.StatusCode)
	}
	if got := res.Header.Get("X-Trace-Id"); got != "err-trace" {
		t.Errorf("X-Trace-Id = %q, want err-trace", got)
	}
	if seen != "err-trace" {
		t.Errorf("trace ID in the handler's context = %q, want err-trace", seen)
	}
}
