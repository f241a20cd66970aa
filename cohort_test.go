package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/storybot/storybot/internal/database/dbtest"
)

// rawEvent is one event of a subscription as received: its data under the
// root field's alias, and the message's extensions.
type rawEvent struct {
	fields     map[string]any
	extensions map[string]any
}

// rawStream subscribes to op over transport and returns every event's
// fields under alias, until the server completes the subscription.
func rawStream(t *testing.T, s *server, transport, alias string, op streamOp) []rawEvent {
	t.Helper()
	decode := func(payload []byte) rawEvent {
		var p struct {
			Data       map[string]map[string]any `json:"data"`
			Errors     []gqlError                `json:"errors"`
			Extensions map[string]any            `json:"extensions"`
		}
		if err := json.Unmarshal(payload, &p); err != nil {
			t.Fatalf("%s: %v", payload, err)
		}
		if len(p.Errors) > 0 || p.Data[alias] == nil {
			t.Fatalf("%s: errors %+v or no %s in %s", transport, p.Errors, alias, payload)
		}
		return rawEvent{fields: p.Data[alias], extensions: p.Extensions}
	}
	var events []rawEvent
	if transport == "sse" {
		body, _ := json.Marshal(map[string]any{"query": op.query, "variables": op.vars})
		req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "event: complete":
				return events
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "next":
				events = append(events, decode([]byte(strings.TrimPrefix(line, "data: "))))
			}
		}
		t.Fatalf("SSE stream ended without complete: %v", sc.Err())
	}
	c := dial(t, s, transport)
	c.WriteJSON(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	if m := readMessage(t, c); m.Type != "connection_ack" {
		t.Fatalf("got %s, want connection_ack", m.Type)
	}
	start, data := "subscribe", "next"
	if transport == "graphql-ws" {
		start, data = "start", "data"
	}
	payload, _ := json.Marshal(map[string]any{"query": op.query, "variables": op.vars})
	c.WriteJSON(wsMessage{ID: "s", Type: start, Payload: payload})
	for {
		m := readMessage(t, c)
		switch m.Type {
		case "ka", "ping", "pong":
		case data:
			events = append(events, decode(m.Payload))
		case "complete":
			return events
		default:
			t.Fatalf("unexpected message %s: %s", m.Type, m.Payload)
		}
	}
}

// TestCohortsRenderEachSelection follows one story with operations that
// select differently (aliases, fragments, __typename, @include) over every
// transport at once. Operations that are alike share their renderings;
// each subscriber must still get exactly its selection, its own trace ID,
// and the whole text.
func TestCohortsRenderEachSelection(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "150"}
			if dialect == "postgres" {
				env["DATABASE_URL"] = dbtest.PostgresURL(t)
			}
			s := start(t, env)
			st := s.generate("A lighthouse keeper who collects storms", 150)

			const plain = `subscription($id: ID!) { storyStream(storyID: $id) { seq delta status } }`
			const aliased = `subscription Aliased($id: ID!) { live: storyStream(storyID: $id) { text: delta state: status __typename } }`
			const fragment = `subscription($id: ID!, $more: Boolean!) { storyStream(storyID: $id) { ...F } }
fragment F on StoryEvent { delta status tokenCount @include(if: $more) }`
			type follower struct {
				transport, alias string
				op               streamOp
				want             []string // the fields of every event
				delta, status    string   // their names
				late             bool     // joins once the story has some text
			}
			vars := map[string]any{"id": st.ID}
			followers := []follower{
				{"graphql-transport-ws", "storyStream", streamOp{plain, vars}, []string{"delta", "seq", "status"}, "delta", "status", false},
				{"graphql-transport-ws", "storyStream", streamOp{plain, vars}, []string{"delta", "seq", "status"}, "delta", "status", false},
				{"graphql-ws", "storyStream", streamOp{plain, vars}, []string{"delta", "seq", "status"}, "delta", "status", false},
				{"sse", "storyStream", streamOp{plain, vars}, []string{"delta", "seq", "status"}, "delta", "status", false},
				{"graphql-transport-ws", "live", streamOp{aliased, vars}, []string{"__typename", "state", "text"}, "text", "state", false},
				{"graphql-ws", "live", streamOp{aliased, vars}, []string{"__typename", "state", "text"}, "text", "state", false},
				{"graphql-transport-ws", "storyStream", streamOp{fragment, map[string]any{"id": st.ID, "more": true}}, []string{"delta", "status", "tokenCount"}, "delta", "status", false},
				{"graphql-transport-ws", "storyStream", streamOp{fragment, map[string]any{"id": st.ID, "more": false}}, []string{"delta", "status"}, "delta", "status", false},
				// Late joiners share the renderings of the others, with
				// their own seq.
				{"graphql-transport-ws", "storyStream", streamOp{plain, vars}, []string{"delta", "seq", "status"}, "delta", "status", true},
				{"sse", "storyStream", streamOp{plain, vars}, []string{"delta", "seq", "status"}, "delta", "status", true},
			}
			results := make([][]rawEvent, len(followers))
			var wg sync.WaitGroup
			for i, f := range followers {
				if !f.late {
					wg.Go(func() { results[i] = rawStream(t, s, f.transport, f.alias, f.op) })
				}
			}
			s.waitFor(st.ID, func(st storedStory) bool { return st.TokenCount >= 30 })
			for i, f := range followers {
				if f.late {
					wg.Go(func() { results[i] = rawStream(t, s, f.transport, f.alias, f.op) })
				}
			}
			wg.Wait()

			stored := s.story(st.ID)
			if stored.Status != "COMPLETED" {
				t.Fatalf("story %s", stored.Status)
			}
			traceIDs := map[string]int{}
			for i, f := range followers {
				events := results[i]
				if len(events) == 0 {
					t.Fatalf("follower %d (%s %s): no events", i, f.transport, f.alias)
				}
				var text strings.Builder
				traceID := ""
				for n, e := range events {
					keys := make([]string, 0, len(e.fields))
					for k := range e.fields {
						keys = append(keys, k)
					}
					slices.Sort(keys)
					if !slices.Equal(keys, f.want) {
						t.Errorf("follower %d (%s %s) event %d has fields %v, want %v", i, f.transport, f.alias, n+1, keys, f.want)
					}
					if tn, ok := e.fields["__typename"]; ok && tn != "StoryEvent" {
						t.Errorf("follower %d: __typename %v", i, tn)
					}
					if seq, ok := e.fields["seq"]; ok && seq != float64(n+1) {
						t.Errorf("follower %d (%s) event %d: seq %v", i, f.transport, n+1, seq)
					}
					id, _ := e.extensions["traceId"].(string)
					if id == "" || traceID != "" && id != traceID {
						t.Errorf("follower %d (%s) event %d: traceId %q, earlier %q", i, f.transport, n+1, id, traceID)
					}
					traceID = id
					text.WriteString(e.fields[f.delta].(string))
					final := e.fields[f.status] == "COMPLETED"
					if final != (n == len(events)-1) {
						t.Errorf("follower %d (%s) event %d of %d has status %v", i, f.transport, n+1, len(events), e.fields[f.status])
					}
				}
				if f.late && len(events[0].fields[f.delta].(string)) == 0 {
					t.Errorf("follower %d: a late joiner's first event must hold the text so far", i)
				}
				if text.String() != stored.Text {
					t.Errorf("follower %d (%s %s): text differs from the stored text:\nstream %q\nstored %q", i, f.transport, f.alias, text.String(), stored.Text)
				}
				if last := events[len(events)-1].fields; last["tokenCount"] != nil && last["tokenCount"] != float64(stored.TokenCount) {
					t.Errorf("follower %d: final tokenCount %v, stored %d", i, last["tokenCount"], stored.TokenCount)
				}
				traceIDs[traceID]++
			}
			if len(traceIDs) != len(followers) {
				t.Errorf("trace IDs %v: want one of each subscriber's own", traceIDs)
			}
		})
	}
}

// TestIdleSocketsHoldOneGoroutine opens 10,000 websockets that subscribe
// to a story that has not started (it waits for the only generator), and
// counts the server's goroutines: an idle socket holds its reader and
// nothing else. The sockets' client side runs in a child process (this
// test binary, as TestIdleSocketsClient), so that each process stays
// within its limit of open files.
func TestIdleSocketsHoldOneGoroutine(t *testing.T) {
	const sockets = 10_000
	s := start(t, map[string]string{
		"STORY_MAX_RUNNING":             "1",
		"STORYTELLER_TOKENS_PER_SECOND": "1",
		"WS_MAX_CONNECTIONS_PER_CLIENT": "20000",
		"STORYBOT_SHUTDOWN_TIMEOUT":     "2s",
	})
	// One story takes the only generator slot for a long time; the second
	// waits, PENDING, with every subscriber idle.
	s.generate("A snail who races glaciers", 4000)
	st := s.generate("A tortoise who waits for the tide", 50)
	runtime.GC()
	before := runtime.NumGoroutine()

	client := exec.Command(os.Args[0], "-test.run=^$")
	client.Env = append(os.Environ(),
		"STORYBOT_IDLE_URL=ws"+strings.TrimPrefix(s.base, "http")+"/graphql",
		"STORYBOT_IDLE_TOKEN="+s.token, "STORYBOT_IDLE_STORY="+st.ID,
		"STORYBOT_IDLE_SOCKETS="+strconv.Itoa(sockets))
	stdin, _ := client.StdinPipe()
	stdout, _ := client.StdoutPipe()
	client.Stderr = os.Stderr
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		client.Wait()
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && lines.Text() != "idle" {
		t.Log(lines.Text())
	}
	if lines.Err() != nil || lines.Text() != "idle" {
		t.Fatalf("the client did not get its sockets idle: %v", lines.Err())
	}
	// Writers end once they have nothing left to write: allow them a moment.
	deadline := time.Now().Add(30 * time.Second)
	var extra int
	for {
		runtime.GC()
		extra = runtime.NumGoroutine() - before
		if extra <= sockets || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Beyond the sockets: the story's fan-out, the cohort's feed.
	const fixed = 10
	t.Logf("%d idle sockets: %d goroutines more than before (%.3f each)", sockets, extra, float64(extra)/sockets)
	if extra > sockets+fixed {
		t.Errorf("%d idle sockets hold %d goroutines, want at most one each (and %d for the story)", sockets, extra, fixed)
	}
}

func init() {
	// The child process of TestIdleSocketsHoldOneGoroutine.
	if os.Getenv("STORYBOT_IDLE_URL") != "" {
		if err := idleClient(); err != nil {
			fmt.Fprintln(os.Stderr, "idle client:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// idleClient is TestIdleSocketsHoldOneGoroutine's client, run in a child
// process: it opens the sockets, subscribes each, waits for each one's
// first event, says "idle" and holds them until its stdin closes.
func idleClient() error {
	url := os.Getenv("STORYBOT_IDLE_URL")
	sockets, _ := strconv.Atoi(os.Getenv("STORYBOT_IDLE_SOCKETS"))
	d := gws.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 30 * time.Second, ReadBufferSize: 256, WriteBufferSize: 256}
	init, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + os.Getenv("STORYBOT_IDLE_TOKEN")}})
	sub, _ := json.Marshal(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `subscription($id: ID!) { storyStream(storyID: $id) { seq delta status } }`, "variables": map[string]any{"id": os.Getenv("STORYBOT_IDLE_STORY")},
	}})
	conns := make([]*gws.Conn, 0, sockets)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range sockets {
		c, _, err := d.Dial(url, nil)
		if err != nil {
			return fmt.Errorf("socket %d: %w", len(conns)+1, err)
		}
		conns = append(conns, c)
		if err := c.WriteMessage(gws.TextMessage, init); err != nil {
			return err
		}
		if err := c.WriteMessage(gws.TextMessage, sub); err != nil {
			return err
		}
	}
	// Every socket gets its ack and its first event (the story, PENDING):
	// then it is idle.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		for got := false; !got; {
			var m wsMessage
			if err := c.ReadJSON(&m); err != nil {
				return fmt.Errorf("socket %d: %w", i, err)
			}
			if m.Type == "ping" { // the server's keep-alive, as the protocol has it
				if err := c.WriteJSON(wsMessage{Type: "pong"}); err != nil {
					return fmt.Errorf("socket %d: %w", i, err)
				}
				continue
			}
			if m.Type != "connection_ack" && m.Type != "next" {
				return fmt.Errorf("socket %d: %s %s", i, m.Type, m.Payload)
			}
			got = m.Type == "next"
		}
	}
	fmt.Println("idle")
	_, err := io.Copy(io.Discard, os.Stdin)
	return err
}
