package main

import (
	"encoding/base64"
	"strings"
	"sync"
	"testing"

	"github.com/storybot/storybot/internal/database/dbtest"
)

const resumeQuery = `subscription($id: ID!, $after: String) { storyStream(storyID: $id, after: $after) { storyID seq delta status tokenCount error cursor } }`

func resumeOp(storyID, after string) streamOp {
	vars := map[string]any{"id": storyID}
	if after != "" {
		vars["after"] = after
	}
	return streamOp{resumeQuery, vars}
}

// held returns the text a client holds at each cursor of events: the
// deltas up to and including each event.
func held(events []streamEvent) map[string]string {
	out := map[string]string{}
	var b strings.Builder
	for _, e := range events {
		b.WriteString(e.Delta)
		out[e.Cursor] = b.String()
	}
	return out
}

// TestResumeAfterEveryCursor follows a story whole, then resumes after
// each cursor it was given, while the story runs and once it has ended, on
// every transport and both stores: the text held at the cursor and what
// follows it make exactly the stored text.
func TestResumeAfterEveryCursor(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			// Each resumption opens a socket, closed when the test ends.
			env := map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "60", "WS_MAX_CONNECTIONS_PER_CLIENT": "1000"}
			if dialect == "postgres" {
				env["DATABASE_URL"] = dbtest.PostgresURL(t)
			}
			s := start(t, env)
			for name, stream := range opTransports {
				t.Run(name, func(t *testing.T) {
					st := s.generate("A cartographer of tides", 120)

					// While it runs: resume after the third event's cursor,
					// concurrently with the first subscription.
					var (
						wg      sync.WaitGroup
						mu      sync.Mutex
						resumed []streamResult
						prefix  []string
						once    sync.Once
					)
					var text strings.Builder
					full := stream(t, s, resumeOp(st.ID, ""), func(e streamEvent) {
						text.WriteString(e.Delta)
						if e.Seq == 3 && e.Status == "GENERATING" {
							at, cursor := text.String(), e.Cursor
							once.Do(func() {
								wg.Add(1)
								go func() {
									defer wg.Done()
									r := stream(t, s, resumeOp(st.ID, cursor), nil)
									mu.Lock()
									resumed, prefix = append(resumed, r), append(prefix, at)
									mu.Unlock()
								}()
							})
						}
					})
					wg.Wait()
					stored := checkStream(t, s, full, st.ID, "COMPLETED")
					for i, r := range resumed {
						if len(r.errors) > 0 {
							t.Fatalf("resuming a running story: %v", r.errors)
						}
						if got := prefix[i] + r.text(); got != stored.Text {
							t.Errorf("resumed mid-story: held %d bytes + %d resumed = %d bytes; stored %d", len(prefix[i]), len(r.text()), len(got), len(stored.Text))
						}
					}

					// Once it has ended: after every cursor.
					for cursor, have := range held(full.events) {
						r := stream(t, s, resumeOp(st.ID, cursor), nil)
						if len(r.errors) > 0 || len(r.events) != 1 {
							t.Fatalf("resuming a finished story: %d events, errors %v", len(r.events), r.errors)
						}
						e := r.events[0]
						if have+e.Delta != stored.Text || e.Status != "COMPLETED" || e.Cursor == "" {
							t.Errorf("resumed after %d bytes: got %d more bytes (%s); stored %d", len(have), len(e.Delta), e.Status, len(stored.Text))
						}
					}
					// After the last cursor: one event, empty, final.
					last := full.events[len(full.events)-1]
					r := stream(t, s, resumeOp(st.ID, last.Cursor), nil)
					if len(r.events) != 1 || r.events[0].Delta != "" || r.events[0].Status != "COMPLETED" {
						t.Errorf("resumed after the last cursor: %+v", r.events)
					}
				})
			}
		})
	}
}

// TestResumeAcrossReplicas resumes on one replica with a cursor another
// replica gave, while the story runs there.
func TestResumeAcrossReplicas(t *testing.T) {
	env := map[string]string{"DATABASE_URL": dbtest.PostgresURL(t), "STORYTELLER_TOKENS_PER_SECOND": "40"}
	a := start(t, env)
	b := launch(t, env).as(a.token)
	st := a.generate("A bridge between two cities that never meet", 150)
	var (
		text    strings.Builder
		handoff = make(chan [2]string, 1)
	)
	full := opTransports["graphql-transport-ws"](t, a, resumeOp(st.ID, ""), func(e streamEvent) {
		text.WriteString(e.Delta)
		if e.Seq == 4 {
			handoff <- [2]string{text.String(), e.Cursor}
		}
	})
	got := <-handoff
	r := opTransports["sse"](t, b, resumeOp(st.ID, got[1]), nil)
	stored := checkStream(t, a, full, st.ID, "COMPLETED")
	if len(r.errors) > 0 || got[0]+r.text() != stored.Text {
		t.Errorf("resumed on the other replica: errors %v, %d + %d bytes, stored %d", r.errors, len(got[0]), len(r.text()), len(stored.Text))
	}
}

func TestResumeRefusesForeignCursors(t *testing.T) {
	s := start(t, nil)
	one := s.generate("One story", 5)
	other := s.generate("Another story", 5)
	s.waitFor(one.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
	s.waitFor(other.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
	r := opTransports["sse"](t, s, resumeOp(other.ID, ""), nil)
	foreign := r.events[0].Cursor
	for name, cursor := range map[string]string{
		"malformed":            "not a cursor",
		"another story's":      foreign,
		"beyond the end":       base64.RawURLEncoding.EncodeToString([]byte("c1:" + one.ID + ":999999")),
		"negative":             base64.RawURLEncoding.EncodeToString([]byte("c1:" + one.ID + ":-1")),
		"of an unknown format": base64.RawURLEncoding.EncodeToString([]byte("c9:" + one.ID + ":0")),
	} {
		r := opTransports["graphql-transport-ws"](t, s, resumeOp(one.ID, cursor), nil)
		if code(r.errors) != "BAD_USER_INPUT" || len(r.events) > 0 {
			t.Errorf("a %s cursor: events %d, errors %v; want BAD_USER_INPUT", name, len(r.events), r.errors)
		}
	}
}
