package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/storybot/storybot/internal/database/dbtest"
)

// streamEvent is a StoryEvent as a client receives it.
type streamEvent struct {
	StoryID    string  `json:"storyID"`
	Seq        int     `json:"seq"`
	Delta      string  `json:"delta"`
	Status     string  `json:"status"`
	TokenCount int     `json:"tokenCount"`
	Error      *string `json:"error"`
	Cursor     string  `json:"cursor"`
}

// streamResult is everything one subscription received.
type streamResult struct {
	events []streamEvent
	errors []gqlError // errors instead of events
}

func (r streamResult) text() string {
	var b strings.Builder
	for _, e := range r.events {
		b.WriteString(e.Delta)
	}
	return b.String()
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

const streamQuery = `subscription($id: ID!) { storyStream(storyID: $id) { storyID seq delta status tokenCount error } }`

// subscriber opens storyStream over one transport. onEvent, when not nil, is
// called after each event (to act mid-stream). It returns when the server
// completes the subscription.
type subscriber func(t *testing.T, s *server, storyID string, onEvent func(streamEvent)) streamResult

var transports = map[string]subscriber{
	"graphql-transport-ws": func(t *testing.T, s *server, storyID string, onEvent func(streamEvent)) streamResult {
		return streamTransportWS(t, s, storyOp(storyID), onEvent)
	},
	"graphql-ws": func(t *testing.T, s *server, storyID string, onEvent func(streamEvent)) streamResult {
		return streamLegacyWS(t, s, storyOp(storyID), onEvent)
	},
	"sse": func(t *testing.T, s *server, storyID string, onEvent func(streamEvent)) streamResult {
		return streamSSE(t, s, storyOp(storyID), onEvent)
	},
}

// streamOp is one storyStream subscription: its document and variables.
type streamOp struct {
	query string
	vars  map[string]any
}

func storyOp(storyID string) streamOp {
	return streamOp{streamQuery, map[string]any{"id": storyID}}
}

// opTransports run any storyStream operation over each transport.
var opTransports = map[string]func(t *testing.T, s *server, op streamOp, onEvent func(streamEvent)) streamResult{
	"graphql-transport-ws": streamTransportWS,
	"graphql-ws":           streamLegacyWS,
	"sse":                  streamSSE,
}

func dial(t *testing.T, s *server, subprotocol string) *gws.Conn {
	t.Helper()
	d := gws.Dialer{Subprotocols: []string{subprotocol}, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(s.base, "http")+"/graphql", s.authHeader())
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", subprotocol, err, resp)
	}
	if c.Subprotocol() != subprotocol {
		t.Fatalf("negotiated %q, want %q", c.Subprotocol(), subprotocol)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func readMessage(t *testing.T, c *gws.Conn) wsMessage {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var m wsMessage
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("reading: %v", err)
	}
	return m
}

func streamTransportWS(t *testing.T, s *server, op streamOp, onEvent func(streamEvent)) streamResult {
	t.Helper()
	c := dial(t, s, "graphql-transport-ws")
	c.WriteJSON(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	if m := readMessage(t, c); m.Type != "connection_ack" {
		t.Fatalf("got %s, want connection_ack", m.Type)
	}
	return wsSubscribe(t, c, "subscribe", "next", op, onEvent)
}

func streamLegacyWS(t *testing.T, s *server, op streamOp, onEvent func(streamEvent)) streamResult {
	t.Helper()
	c := dial(t, s, "graphql-ws")
	c.WriteJSON(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	if m := readMessage(t, c); m.Type != "connection_ack" {
		t.Fatalf("got %s, want connection_ack", m.Type)
	}
	return wsSubscribe(t, c, "start", "data", op, onEvent)
}

func wsSubscribe(t *testing.T, c *gws.Conn, start, data string, op streamOp, onEvent func(streamEvent)) streamResult {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"query": op.query, "variables": op.vars})
	c.WriteJSON(wsMessage{ID: "1", Type: start, Payload: payload})
	var res streamResult
	for {
		m := readMessage(t, c)
		switch m.Type {
		case "ka", "ping", "pong":
		case data:
			var p struct {
				Data   *struct{ StoryStream streamEvent } `json:"data"`
				Errors []gqlError                         `json:"errors"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				t.Fatal(err)
			}
			res.errors = append(res.errors, p.Errors...)
			if p.Data != nil {
				res.events = append(res.events, p.Data.StoryStream)
				if onEvent != nil {
					onEvent(p.Data.StoryStream)
				}
			}
		case "error":
			var errs []gqlError
			if err := json.Unmarshal(m.Payload, &errs); err != nil {
				// graphql-ws (legacy) sends a single error object
				var e gqlError
				json.Unmarshal(m.Payload, &e)
				errs = []gqlError{e}
			}
			res.errors = append(res.errors, errs...)
			return res
		case "complete":
			return res
		default:
			t.Fatalf("unexpected message %s: %s", m.Type, m.Payload)
		}
	}
}

func streamSSE(t *testing.T, s *server, op streamOp, onEvent func(streamEvent)) streamResult {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": op.query, "variables": op.vars})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("SSE status %d", resp.StatusCode)
	}
	var res streamResult
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
			if event == "complete" {
				return res
			}
		case strings.HasPrefix(line, "data: ") && event == "next":
			var p struct {
				Data   *struct{ StoryStream streamEvent } `json:"data"`
				Errors []gqlError                         `json:"errors"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &p); err != nil {
				t.Fatal(err)
			}
			res.errors = append(res.errors, p.Errors...)
			if p.Data != nil {
				res.events = append(res.events, p.Data.StoryStream)
				if onEvent != nil {
					onEvent(p.Data.StoryStream)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return res
}

// gql runs one operation over HTTP and decodes its data into out.
func (s *server) gql(query string, vars map[string]any, out any) []gqlError {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	_, raw := s.post("/graphql", "application/json", string(body))
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		s.t.Fatalf("decoding %s: %v", raw, err)
	}
	if out != nil && len(r.Data) > 0 && string(r.Data) != "null" {
		if err := json.Unmarshal(r.Data, out); err != nil {
			s.t.Fatal(err)
		}
	}
	return r.Errors
}

func (s *server) mustGQL(query string, vars map[string]any, out any) {
	s.t.Helper()
	if errs := s.gql(query, vars, out); len(errs) > 0 {
		s.t.Fatalf("errors: %+v", errs)
	}
}

// storedStory is a story as the API returns it.
type storedStory struct {
	ID, Status, Text, Model string
	TokenCount              int
	Error                   *string
}

const storyFields = `id status text model tokenCount error`

// generate creates a prompt and starts a story for it.
func (s *server) generate(content string, maxTokens int) storedStory {
	s.t.Helper()
	var p struct{ CreatePrompt struct{ ID string } }
	s.mustGQL(`mutation($c: String!) { createPrompt(input: {content: $c}) { id } }`, map[string]any{"c": content}, &p)
	var g struct{ GenerateStory storedStory }
	s.mustGQL(`mutation($p: ID!, $n: Int) { generateStory(input: {promptID: $p, maxTokens: $n}) { `+storyFields+` } }`,
		map[string]any{"p": p.CreatePrompt.ID, "n": maxTokens}, &g)
	return g.GenerateStory
}

func (s *server) story(id string) storedStory {
	s.t.Helper()
	var out struct{ Node storedStory }
	s.mustGQL(`query($id: ID!) { node(id: $id) { ... on Story { `+storyFields+` } } }`, map[string]any{"id": id}, &out)
	return out.Node
}

// waitFor polls the story until cond holds.
func (s *server) waitFor(id string, cond func(storedStory) bool) storedStory {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := s.story(id)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("story %s never reached the condition; last %+v", id, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkStream asserts the stream invariant: seq 1, 2, 3...; one final
// event, last; and the deltas add up to the stored text.
func checkStream(t *testing.T, s *server, res streamResult, storyID, wantStatus string) storedStory {
	t.Helper()
	if len(res.errors) > 0 {
		t.Fatalf("stream errors: %+v", res.errors)
	}
	if len(res.events) == 0 {
		t.Fatal("no events")
	}
	for i, e := range res.events {
		if e.Seq != i+1 || e.StoryID != storyID {
			t.Fatalf("event %d: seq %d story %s", i, e.Seq, e.StoryID)
		}
		final := e.Status == "COMPLETED" || e.Status == "FAILED" || e.Status == "CANCELLED"
		if final != (i == len(res.events)-1) {
			t.Fatalf("event %d of %d has status %s", i+1, len(res.events), e.Status)
		}
	}
	last := res.events[len(res.events)-1]
	stored := s.story(storyID)
	if last.Status != wantStatus || stored.Status != wantStatus {
		t.Errorf("final status: stream %s, stored %s, want %s", last.Status, stored.Status, wantStatus)
	}
	if got := res.text(); got != stored.Text {
		t.Errorf("the stream's text differs from the stored text:\nstream %q\nstored %q", got, stored.Text)
	}
	if last.TokenCount != stored.TokenCount {
		t.Errorf("final tokenCount %d, stored %d", last.TokenCount, stored.TokenCount)
	}
	return stored
}

func TestStoryStream(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "400"}
			if dialect == "postgres" {
				env["DATABASE_URL"] = dbtest.PostgresURL(t)
			}
			s := start(t, env)
			for name, subscribe := range transports {
				t.Run(name, func(t *testing.T) {
					t.Run("whole story", func(t *testing.T) {
						st := s.generate("A clockmaker who repairs time itself", 120)
						if st.Status != "PENDING" && st.Status != "GENERATING" {
							t.Errorf("generateStory returned status %s", st.Status)
						}
						res := subscribe(t, s, st.ID, nil)
						stored := checkStream(t, s, res, st.ID, "COMPLETED")
						if stored.TokenCount == 0 || !strings.Contains(strings.ToLower(stored.Text), "clockmaker") {
							t.Errorf("story: %d tokens, %q", stored.TokenCount, stored.Text)
						}
						if len(res.events) < 5 {
							t.Errorf("only %d events for %d tokens: not streamed", len(res.events), stored.TokenCount)
						}
					})
					t.Run("late joiner", func(t *testing.T) {
						st := s.generate("A cartographer mapping a city that moves", 200)
						s.waitFor(st.ID, func(st storedStory) bool { return st.TokenCount >= 20 })
						res := subscribe(t, s, st.ID, nil)
						checkStream(t, s, res, st.ID, "COMPLETED")
						if len(res.events[0].Delta) == 0 {
							t.Error("a late joiner's first event must hold the text so far")
						}
					})
					t.Run("finished story", func(t *testing.T) {
						st := s.generate("A whale who sings in prime numbers", 20)
						s.waitFor(st.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
						res := subscribe(t, s, st.ID, nil)
						checkStream(t, s, res, st.ID, "COMPLETED")
						if len(res.events) != 1 {
							t.Errorf("a finished story gives one event, got %d", len(res.events))
						}
					})
					t.Run("unknown story", func(t *testing.T) {
						for id, code := range map[string]string{
							"st_01JDQ3K8Z6V4X0M2T5R7N9B1C3": "NOT_FOUND",
							"nonsense":                      "BAD_USER_INPUT",
						} {
							res := subscribe(t, s, id, nil)
							if len(res.events) != 0 || len(res.errors) == 0 || res.errors[0].Extensions["code"] != code {
								t.Errorf("storyStream(%s): %+v, want a %s error", id, res, code)
							}
						}
					})
				})
			}
		})
	}
}

// TestCancelMidStream cancels stories while they stream, over each
// transport: the stream ends CANCELLED with exactly the stored text. The
// storyteller is slow here, so that the story is still being written when
// the cancellation arrives, however loaded the machine.
func TestCancelMidStream(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "30"}
			if dialect == "postgres" {
				env["DATABASE_URL"] = dbtest.PostgresURL(t)
			}
			s := start(t, env)
			for name, subscribe := range transports {
				t.Run(name, func(t *testing.T) {
					st := s.generate("A librarian who lends out dreams", 400)
					type result struct {
						story storedStory
						errs  []gqlError
					}
					cancelled := make(chan result, 1)
					var once sync.Once
					res := subscribe(t, s, st.ID, func(e streamEvent) {
						// Cancel once some text has been written (the first
						// events may carry none: the start, a slow first
						// token on a loaded machine).
						if e.Delta == "" || e.Status != "GENERATING" {
							return
						}
						once.Do(func() {
							go func() {
								var out struct{ CancelStory storedStory }
								errs := s.gql(`mutation($id: ID!) { cancelStory(id: $id) { `+storyFields+` } }`, map[string]any{"id": st.ID}, &out)
								cancelled <- result{out.CancelStory, errs}
							}()
						})
					})
					stored := checkStream(t, s, res, st.ID, "CANCELLED")
					got := <-cancelled
					if len(got.errs) > 0 {
						t.Fatalf("cancelStory: %+v", got.errs)
					}
					if got.story.Status != "CANCELLED" || got.story.Text != stored.Text {
						t.Errorf("cancelStory returned %s with %d bytes; stored %d bytes", got.story.Status, len(got.story.Text), len(stored.Text))
					}
					if stored.Text == "" {
						t.Error("the cancelled story kept no text")
					}
					errs := s.gql(`mutation($id: ID!) { cancelStory(id: $id) { id } }`, map[string]any{"id": st.ID}, nil)
					if len(errs) != 1 || errs[0].Extensions["code"] != "BAD_USER_INPUT" {
						t.Errorf("cancelling a cancelled story: %+v", errs)
					}
				})
			}
		})
	}
}

func TestGenerateStoryRejectsBadInput(t *testing.T) {
	s := start(t, nil)
	var p struct{ CreatePrompt struct{ ID string } }
	s.mustGQL(`mutation { createPrompt(input: {content: "x"}) { id } }`, nil, &p)
	for name, tc := range map[string]struct {
		input map[string]any
		code  string
	}{
		"missing prompt":   {map[string]any{"promptID": "pr_01JDQ3K8Z6V4X0M2T5R7N9B1C3"}, "NOT_FOUND"},
		"a story id":       {map[string]any{"promptID": "st_01JDQ3K8Z6V4X0M2T5R7N9B1C3"}, "NOT_FOUND"},
		"malformed id":     {map[string]any{"promptID": "x"}, "BAD_USER_INPUT"},
		"zero maxTokens":   {map[string]any{"promptID": p.CreatePrompt.ID, "maxTokens": 0}, "BAD_USER_INPUT"},
		"huge maxTokens":   {map[string]any{"promptID": p.CreatePrompt.ID, "maxTokens": 1 << 30}, "BAD_USER_INPUT"},
		"hot temperature":  {map[string]any{"promptID": p.CreatePrompt.ID, "temperature": 2.5}, "BAD_USER_INPUT"},
		"cold temperature": {map[string]any{"promptID": p.CreatePrompt.ID, "temperature": -1}, "BAD_USER_INPUT"},
		"empty model":      {map[string]any{"promptID": p.CreatePrompt.ID, "model": ""}, "BAD_USER_INPUT"},
		"model with NUL":   {map[string]any{"promptID": p.CreatePrompt.ID, "model": "gpt\x00"}, "BAD_USER_INPUT"},
	} {
		t.Run(name, func(t *testing.T) {
			errs := s.gql(`mutation($in: GenerateStoryInput!) { generateStory(input: $in) { id } }`, map[string]any{"in": tc.input}, nil)
			if len(errs) != 1 || errs[0].Extensions["code"] != tc.code {
				t.Errorf("got %+v, want one %s", errs, tc.code)
			}
		})
	}
	var list struct{ Stories struct{ TotalCount int } }
	s.mustGQL(`{ stories { totalCount } }`, nil, &list)
	if list.Stories.TotalCount != 0 {
		t.Errorf("rejected requests stored %d stories", list.Stories.TotalCount)
	}
}

var _ = fmt.Sprint
