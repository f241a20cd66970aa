package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"
)

// TestBoundedLoad holds concurrent queries, mutations and subscriptions for
// a fixed time: no request may fail, and once the load ends the server is
// back to the goroutines and heap it had before.
func TestBoundedLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test; not in -short mode")
	}
	s := start(t, map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "200", "LOG_LEVEL": "error"})
	var seed struct{ CreatePrompt struct{ ID string } }
	s.mustGQL(`mutation { createPrompt(input: {content: "A city of bridges under load"}) { id } }`, nil, &seed)
	s.generate("warm-up", 5)
	settle(t, s)
	goroutines, heap := measure()

	const duration = 5 * time.Second
	stop := time.Now().Add(duration)
	var (
		wg                           sync.WaitGroup
		queries, mutations, streamed atomic.Int64
		failures                     atomic.Int64
		firstFailure                 atomic.Value
	)
	fail := func(format string, args ...any) {
		if failures.Add(1) == 1 {
			firstFailure.Store(fmt.Sprintf(format, args...))
		}
	}
	worker := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				f()
			}
		}()
	}
	for range 6 {
		worker(func() {
			if errs := s.gql(`{ prompts(first: 20) { totalCount edges { node { id content stories(first: 3) { totalCount } } } } }`, nil, nil); len(errs) > 0 {
				fail("query: %+v", errs)
			}
			queries.Add(1)
		})
	}
	for range 2 {
		worker(func() {
			var p struct{ CreatePrompt struct{ ID string } }
			if errs := s.gql(`mutation { createPrompt(input: {content: "a prompt under load"}) { id } }`, nil, &p); len(errs) > 0 {
				fail("createPrompt: %+v", errs)
				return
			}
			if errs := s.gql(`mutation($id: ID!) { updatePrompt(id: $id, input: {content: "changed under load"}) { id } }`, map[string]any{"id": p.CreatePrompt.ID}, nil); len(errs) > 0 {
				fail("updatePrompt: %+v", errs)
			}
			if errs := s.gql(`mutation($id: ID!) { deletePrompt(id: $id) }`, map[string]any{"id": p.CreatePrompt.ID}, nil); len(errs) > 0 {
				fail("deletePrompt: %+v", errs)
			}
			mutations.Add(3)
		})
	}
	for range 4 {
		worker(func() {
			var g struct{ GenerateStory struct{ ID string } }
			if errs := s.gql(`mutation($p: ID!) { generateStory(input: {promptID: $p, maxTokens: 40}) { id } }`, map[string]any{"p": seed.CreatePrompt.ID}, &g); len(errs) > 0 {
				fail("generateStory: %+v", errs)
				return
			}
			if err := streamOnce(s, g.GenerateStory.ID); err != nil {
				fail("stream: %v", err)
				return
			}
			streamed.Add(1)
		})
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d requests failed; the first: %v", n, firstFailure.Load())
	}
	settle(t, s)
	goroutines2, heap2 := measure()
	t.Logf("%v: %d queries, %d mutations, %d stories streamed; goroutines %d → %d, heap %d → %d KiB",
		duration, queries.Load(), mutations.Load(), streamed.Load(), goroutines, goroutines2, heap/1024, heap2/1024)
	if queries.Load() == 0 || mutations.Load() == 0 || streamed.Load() == 0 {
		t.Error("some kind of request never completed")
	}
	if goroutines2 > goroutines+5 {
		t.Errorf("goroutines grew from %d to %d", goroutines, goroutines2)
	}
	if heap2 > heap+16<<20 {
		t.Errorf("heap grew from %d to %d bytes", heap, heap2)
	}
}

// streamOnce follows one story over graphql-transport-ws to its end and
// checks the stream against the stored text.
func streamOnce(s *server, storyID string) error {
	d := gws.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial("ws"+s.base[len("http"):]+"/graphql", s.authHeader())
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	c.WriteJSON(wsMessage{Type: "connection_init"})
	var m wsMessage
	if err := c.ReadJSON(&m); err != nil || m.Type != "connection_ack" {
		return fmt.Errorf("init: %v %s", err, m.Type)
	}
	payload, _ := json.Marshal(map[string]any{"query": streamQuery, "variables": map[string]any{"id": storyID}})
	c.WriteJSON(wsMessage{ID: "1", Type: "subscribe", Payload: payload})
	var text []byte
	for {
		var m wsMessage
		if err := c.ReadJSON(&m); err != nil {
			return err
		}
		switch m.Type {
		case "next":
			var p struct {
				Data   struct{ StoryStream streamEvent }
				Errors []gqlError
			}
			json.Unmarshal(m.Payload, &p)
			if len(p.Errors) > 0 {
				return fmt.Errorf("%+v", p.Errors)
			}
			text = append(text, p.Data.StoryStream.Delta...)
		case "complete":
			if stored := s.story(storyID); stored.Text != string(text) {
				return fmt.Errorf("shown %d bytes, stored %d", len(text), len(stored.Text))
			}
			return nil
		case "error":
			return fmt.Errorf("error: %s", m.Payload)
		}
	}
}
