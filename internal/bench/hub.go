//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	gws "github.com/gorilla/websocket"
)

// hub is the baseline of the fan-out scenario, served by the baseline
// process beside its query handler: the least a Go server must do to
// stream stories to graphql-transport-ws subscribers. It starts stories
// from the same fake model, keeps each story's text in memory, and gives
// each subscriber one writer goroutine that sends whatever text it has not
// sent yet as one event, so a slow subscriber gets merged deltas, as
// storybot promises. An event's delta is encoded once per story and reused
// for every subscriber at the same offset. It runs no GraphQL, stores
// nothing and checks nothing: a floor for the same load generator on the
// same machine, not a product.
type hub struct {
	upgrader gws.Upgrader
	client   *http.Client

	mu      sync.Mutex
	stories map[string]*hubStory
	next    int
}

func newHub() *hub {
	return &hub{
		upgrader: gws.Upgrader{
			ReadBufferSize:  512,
			WriteBufferSize: 512,
			WriteBufferPool: &sync.Pool{},
			Subprotocols:    []string{"graphql-transport-ws"},
			CheckOrigin:     func(*http.Request) bool { return true },
		},
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}},
		stories: map[string]*hubStory{},
	}
}

// hubStory is one story's text as it grows.
type hubStory struct {
	mu      sync.Mutex
	text    []byte // bytes before len(text) never change once written
	tokens  int
	status  string
	changed chan struct{} // closed and replaced on every change

	// The JSON of the last delta encoded, to share between subscribers.
	encFrom, encTo int
	enc            []byte
}

// snapshot returns the text so far (safe to read after the lock), the
// token count, the status and the channel that the next change closes.
func (s *hubStory) snapshot() ([]byte, int, string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.text[:len(s.text):len(s.text)], s.tokens, s.status, s.changed
}

// delta returns text[from:to] as a JSON string, encoding it once for all
// subscribers at the same offsets.
func (s *hubStory) delta(text []byte, from, to int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.enc == nil || s.encFrom != from || s.encTo != to {
		s.enc, _ = json.Marshal(string(text[from:to]))
		s.encFrom, s.encTo = from, to
	}
	return s.enc
}

func (s *hubStory) update(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
}

// ServeHTTP serves the control endpoints and the websocket.
func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/hub/stories":
		h.start(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/hub/stories":
		h.stored(w, r)
	default:
		h.serveWebsocket(w, r)
	}
}

// start begins count stories of tokens tokens at rate tokens per second
// from the model server at llm, and answers their ids.
func (h *hub) start(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	count, err1 := strconv.Atoi(q.Get("count"))
	tokens, err2 := strconv.Atoi(q.Get("tokens"))
	rate, err3 := strconv.Atoi(q.Get("rate"))
	llm := q.Get("llm")
	if err1 != nil || err2 != nil || err3 != nil || count < 1 || llm == "" {
		http.Error(w, "want count, tokens, rate and llm", http.StatusBadRequest)
		return
	}
	ids := make([]string, count)
	h.mu.Lock()
	for i := range ids {
		h.next++
		ids[i] = "hub_" + strconv.Itoa(h.next)
		s := &hubStory{status: "GENERATING", changed: make(chan struct{})}
		h.stories[ids[i]] = s
		go h.generate(s, llm, tokens, rate)
	}
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ids)
}

// generate streams one story from the model server.
func (h *hub) generate(s *hubStory, llm string, tokens, rate int) {
	status := "FAILED"
	defer func() { s.update(func() { s.status = status }) }()
	body, _ := json.Marshal(map[string]any{
		"model": modelName(rate), "max_tokens": tokens, "stream": true,
		"messages": []map[string]string{{"role": "user", "content": "a story"}},
	})
	resp, err := h.client.Post(llm+"/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
		if !ok {
			continue
		}
		if string(data) == "[DONE]" {
			status = "COMPLETED"
			return
		}
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if json.Unmarshal(data, &chunk) != nil || len(chunk.Choices) == 0 || chunk.Choices[0].Delta.Content == "" {
			continue
		}
		s.update(func() {
			s.text = append(s.text, chunk.Choices[0].Delta.Content...)
			s.tokens++
		})
	}
}

// stored answers the text, token count and status of the stories named by
// the id parameters.
func (h *hub) stored(w http.ResponseWriter, r *http.Request) {
	type story struct {
		Text   string `json:"text"`
		Tokens int    `json:"tokens"`
		Status string `json:"status"`
	}
	out := map[string]story{}
	h.mu.Lock()
	for _, id := range r.URL.Query()["id"] {
		if s := h.stories[id]; s != nil {
			text, tokens, status, _ := s.snapshot()
			out[id] = story{string(text), tokens, status}
		}
	}
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// serveWebsocket speaks the part of graphql-transport-ws the harness uses:
// connection_init, one subscribe to storyStream, ping, complete.
func (h *hub) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	c, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	var wmu sync.Mutex
	write := func(msg []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		return c.WriteMessage(gws.TextMessage, msg)
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		var m struct {
			ID      string `json:"id"`
			Type    string `json:"type"`
			Payload struct {
				Variables struct {
					ID string `json:"id"`
				} `json:"variables"`
			} `json:"payload"`
		}
		if json.Unmarshal(data, &m) != nil {
			return
		}
		switch m.Type {
		case "connection_init":
			if write([]byte(`{"type":"connection_ack"}`)) != nil {
				return
			}
		case "ping":
			if write([]byte(`{"type":"pong"}`)) != nil {
				return
			}
		case "subscribe":
			h.mu.Lock()
			s := h.stories[m.Payload.Variables.ID]
			h.mu.Unlock()
			if s == nil {
				write(fmt.Appendf(nil, `{"id":%q,"type":"error","payload":[{"message":"story not found"}]}`, m.ID))
				continue
			}
			go h.follow(ctx, s, m.ID, write, cancel)
		case "complete":
			return
		}
	}
}

// follow sends s to one subscriber until the story ends.
func (h *hub) follow(ctx context.Context, s *hubStory, id string, write func([]byte) error, fail func()) {
	sent, seq, lastStatus := 0, 0, ""
	var msg []byte
	for {
		text, tokens, status, changed := s.snapshot()
		if seq == 0 || len(text) > sent || status != lastStatus {
			seq++
			msg = append(msg[:0], `{"payload":{"data":{"storyStream":{"seq":`...)
			msg = strconv.AppendInt(msg, int64(seq), 10)
			msg = append(msg, `,"delta":`...)
			msg = append(msg, s.delta(text, sent, len(text))...)
			msg = append(msg, `,"status":"`...)
			msg = append(msg, status...)
			msg = append(msg, `","tokenCount":`...)
			msg = strconv.AppendInt(msg, int64(tokens), 10)
			msg = append(msg, `,"error":null}}},"id":`...)
			msg = strconv.AppendQuote(msg, id)
			msg = append(msg, `,"type":"next"}`...)
			if write(msg) != nil {
				fail()
				return
			}
			sent, lastStatus = len(text), status
			if status != "GENERATING" {
				write(fmt.Appendf(nil, `{"id":%q,"type":"complete"}`, id))
				return
			}
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// serveRuntimeMetrics writes the few Go runtime gauges the harness reads
// from a server's /metrics, in the Prometheus text format.
func serveRuntimeMetrics(w http.ResponseWriter, r *http.Request) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "go_goroutines %d\ngo_memstats_heap_inuse_bytes %d\ngo_memstats_stack_inuse_bytes %d\ngo_memstats_mallocs_total %d\n",
		runtime.NumGoroutine(), m.HeapInuse, m.StackInuse, m.Mallocs)
}

// hubClient drives the hub of the baseline process at addr.
type hubClient struct{ addr string }

func (h hubClient) startStories(ctx context.Context, llm string, n, tokens, rate int) ([]string, error) {
	url := fmt.Sprintf("http://%s/hub/stories?count=%d&tokens=%d&rate=%d&llm=%s", h.addr, n, tokens, rate, llm)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("hub: HTTP %d: %s", resp.StatusCode, b)
	}
	var ids []string
	return ids, json.NewDecoder(resp.Body).Decode(&ids)
}

func (h hubClient) stories(ctx context.Context, ids []string) (map[string]storedStory, error) {
	url := "http://" + h.addr + "/hub/stories?"
	for i, id := range ids {
		if i > 0 {
			url += "&"
		}
		url += "id=" + id
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var got map[string]struct {
		Text   string `json:"text"`
		Tokens int    `json:"tokens"`
		Status string `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		return nil, err
	}
	out := map[string]storedStory{}
	for id, s := range got {
		out[id] = storedStory{text: s.Text, status: s.Status, tokens: s.Tokens}
	}
	return out, nil
}
