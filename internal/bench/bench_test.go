//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/storybot/storybot/internal/viewer"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/storybot/storybot/ent"
	_ "github.com/storybot/storybot/ent/runtime" // the schema's hooks and defaults
	"github.com/storybot/storybot/graph"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/story"
	"github.com/storybot/storybot/internal/telemetry"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// BenchmarkPromptsQuery runs scenario 1's query in process, with no network
// and no load generator: through storybot's GraphQL handler (built as
// server.go builds it, minus the HTTP middleware) with field timings on
// and off, and through the baseline handler, on 1,000 stored prompts.
// allocs/op and B/op are exact and do not move with machine noise; ns/op
// with -cpu 2 approximates the inverse of the throughput on two cores.
func BenchmarkPromptsQuery(b *testing.B) {
	ctx := context.Background()
	db, err := database.Open(ctx, database.Options{URL: dbtest.PostgresURL(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// Every request is one user's, as the accounts middleware would make it.
	owner, err := db.Client.User.Create().SetEmail(fmt.Sprintf("bench-%d@example.com", time.Now().UnixNano())).Save(viewer.System(ctx))
	if err != nil {
		b.Fatal(err)
	}
	ctx = viewer.NewContext(ctx, &viewer.Viewer{UserID: owner.ID, Role: viewer.RoleUser})
	for start := 0; start < 1000; start += 100 {
		bulk := make([]*ent.PromptCreate, 0, 100)
		for i := start; i < start+100; i++ {
			bulk = append(bulk, db.Client.Prompt.Create().SetContent(promptText(i)))
		}
		if _, err := db.Client.Prompt.CreateBulk(bulk...).Save(ctx); err != nil {
			b.Fatal(err)
		}
	}
	events := broker.NewMemory()
	defer events.Close()
	stories := story.New(db.Client, nil, events, story.Config{Logger: slog.New(slog.DiscardHandler)})
	defer stories.Shutdown(ctx)

	storybot := func(timings bool) http.Handler {
		logger := slog.New(slog.DiscardHandler)
		ext := telemetry.NewGraphQLExtension(telemetry.NewMetrics(telemetry.MetricsOptions{}), logger, telemetry.WithFieldTimings(timings))
		h := graph.NewHandler(graph.NewSchema(db.Client, stories, nil, nil), graph.HandlerOptions{
			Logger: logger, Introspection: true, Extensions: []graphql.HandlerExtension{ext},
		})
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(viewer.NewContext(r.Context(), viewer.FromContext(ctx))))
		})
	}
	body, _ := json.Marshal(map[string]string{"query": promptsQuery})
	for _, tc := range []struct {
		name    string
		handler http.Handler
	}{
		{"baseline", baselineHandler{db: db.SQL}},
		{"storybot", storybot(true)},
		{"storybot-notimings", storybot(false)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			// Several requests per core wait on Postgres at once, as 64
			// clients do.
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					tc.handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
						b.Errorf("HTTP %d: %.300s", rec.Code, rec.Body.Bytes())
						return
					}
				}
			})
		})
	}
}

// BenchmarkSubscriberMessage is the harness's own cost per message a
// subscriber receives (scan, hash, per-token latencies): it shows how
// little of the machine the load generator takes from the server.
func BenchmarkSubscriberMessage(b *testing.B) {
	for _, tokens := range []int{1, 25} {
		msg := nextMessage(7, benchTokens(time.Now(), tokens), "GENERATING")
		b.Run(fmt.Sprintf("%d-tokens", tokens), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			h := fnv.New64a()
			for b.Loop() {
				ev, err := parseNext(msg)
				if err != nil {
					b.Fatal(err)
				}
				h.Write(ev.delta)
				tokenLatencies(ev.delta, time.Now(), func(time.Duration) {})
			}
		})
	}
}

// nextMessage is a "next" message as gqlgen writes it for storyStream.
func nextMessage(seq int, delta, status string) []byte {
	d, _ := json.Marshal(delta)
	return fmt.Appendf(nil, `{"payload":{"data":{"storyStream":{"seq":%d,"delta":%s,"status":"%s","tokenCount":%d}},"extensions":{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736"}},"id":"1","type":"next"}`,
		seq, d, status, seq)
}

// benchTokens is n tokens as the fake model writes them.
func benchTokens(at time.Time, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " t%d", at.Add(time.Duration(i)*time.Millisecond).UnixNano())
	}
	return b.String()
}

func TestParseNext(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"one token", nextMessage(2, benchTokens(now, 1), "GENERATING")},
		{"merged tokens", nextMessage(3, benchTokens(now, 40), "GENERATING")},
		{"empty first event", nextMessage(1, "", "GENERATING")},
		{"escapes", nextMessage(4, "line \"one\"\n\ttab \\ back é \u2028", "COMPLETED")},
		{"other field order", []byte(`{"type":"next","id":"1","payload":{"data":{"storyStream":{"status":"GENERATING","delta":"x","seq":5,"tokenCount":1}}}}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseNext(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			want, err := decodeNext(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if got.seq != want.seq || !bytes.Equal(got.delta, want.delta) || got.status != want.status {
				t.Errorf("parseNext = {%d %q %s}, want {%d %q %s}", got.seq, got.delta, got.status, want.seq, want.delta, want.status)
			}
			if typ := messageType(tc.msg); typ != "next" {
				t.Errorf("messageType = %q", typ)
			}
		})
	}
	if _, err := parseNext([]byte(`{"payload":{"errors":[{"message":"boom"}]},"id":"1","type":"next"}`)); err == nil {
		t.Error("an event with errors parsed without error")
	}
}

func TestTokenLatencies(t *testing.T) {
	emit := time.Unix(1_800_000_000, 0)
	text := []byte(benchTokens(emit, 3) + " not t123 a token, and at" + benchTokens(emit.Add(time.Second), 1))
	var got []time.Duration
	n := tokenLatencies(text, emit.Add(10*time.Millisecond), func(d time.Duration) { got = append(got, d) })
	want := []time.Duration{10 * time.Millisecond, 9 * time.Millisecond, 8 * time.Millisecond, -990 * time.Millisecond}
	if n != len(want) || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tokenLatencies = %d %v, want %v", n, got, want)
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 100_000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, p := range []float64{0.5, 0.9, 0.99} {
		want := p * 100_000
		got := float64(h.percentile(p) / time.Microsecond)
		if got < want*0.97 || got > want*1.03 {
			t.Errorf("p%v = %v µs, want %v ± 3%%", p*100, got, want)
		}
	}
	if h.maximum() != 100*time.Millisecond || h.count() != 100_000 {
		t.Errorf("max %v, count %d", h.maximum(), h.count())
	}
	for v := uint64(0); v < 1<<30; v = v*5/4 + 1 {
		if got := bucketValue(bucketOf(v)); float64(got) < float64(v)*0.96 || float64(got) > float64(v)*1.04+1 {
			t.Fatalf("value %d lands in a bucket worth %d", v, got)
		}
	}
	var s sharedHistogram
	s.record(3, time.Millisecond)
	s.record(40, 2*time.Millisecond)
	if snap := s.snapshot(); snap.count() != 2 || snap.maximum() != 2*time.Millisecond {
		t.Errorf("shared snapshot: %d recorded, max %v", snap.count(), snap.maximum())
	}
}
