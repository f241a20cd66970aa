package llm

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// fakeServer is an OpenAI-compatible Chat Completions server that speaks
// the real wire format: server-sent events of the form "data: {...}\n\n",
// ended by "data: [DONE]". Each test scripts what it sends.
type fakeServer struct {
	*httptest.Server
	quit chan struct{} // closed when the test ends, to release stalled handlers

	mu   sync.Mutex
	seen []seenRequest
}

// seenRequest is a request as the fake server received it.
type seenRequest struct {
	header http.Header
	body   []byte
}

// script answers one request; it reads what it needs from s.req.
type script func(s *sse)

func newFakeServer(t *testing.T, answer script) *fakeServer {
	t.Helper()
	f := &fakeServer{quit: make(chan struct{})}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("fake server: reading request body: %v", err)
		}
		f.mu.Lock()
		f.seen = append(f.seen, seenRequest{header: r.Header.Clone(), body: body})
		f.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			t.Errorf("fake server: got %s %s, want POST /v1/chat/completions", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		var req struct {
			Model string `json:"model"`
		}
		_ = json.Unmarshal(body, &req)
		answer(&sse{t: t, w: w, rc: http.NewResponseController(w), req: r, model: req.Model, quit: f.quit})
	}))
	t.Cleanup(func() {
		close(f.quit)
		f.Close()
	})
	return f
}

// baseURL is the server's API root, as a user would configure it.
func (f *fakeServer) baseURL() string { return f.URL + "/v1" }

// requests returns the requests received so far.
func (f *fakeServer) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.seen...)
}

// sse writes one streamed answer.
type sse struct {
	t     *testing.T
	w     http.ResponseWriter
	rc    *http.ResponseController
	req   *http.Request
	model string // the model asked for, echoed in chunks as servers do
	quit  <-chan struct{}
}

// start sends the headers of a successful stream.
func (s *sse) start() {
	s.w.Header().Set("Content-Type", "text/event-stream")
	s.w.Header().Set("Cache-Control", "no-cache")
	s.w.WriteHeader(http.StatusOK)
	s.flush()
}

func (s *sse) flush() {
	if err := s.rc.Flush(); err != nil {
		s.t.Errorf("fake server: flush: %v", err)
	}
}

// data sends one event with payload as its data.
func (s *sse) data(payload string) {
	fmt.Fprintf(s.w, "data: %s\n\n", payload)
	s.flush()
}

// chunk sends a chat.completion.chunk with the given choices and usage.
func (s *sse) chunk(choices []any, usage any) {
	c := map[string]any{
		"id":                 "chatcmpl-fake",
		"object":             "chat.completion.chunk",
		"created":            1700000000,
		"model":              s.model,
		"system_fingerprint": "fp_fake",
		"choices":            choices,
	}
	if usage != nil {
		c["usage"] = usage
	}
	b, err := json.Marshal(c)
	if err != nil {
		s.t.Fatalf("fake server: %v", err)
	}
	s.data(string(b))
}

func choice(delta map[string]any, finish any) map[string]any {
	return map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}
}

// role sends the opening chunk that names the assistant role.
func (s *sse) role() {
	s.chunk([]any{choice(map[string]any{"role": "assistant", "content": ""}, nil)}, nil)
}

// text sends a chunk of story text.
func (s *sse) text(content string) {
	s.chunk([]any{choice(map[string]any{"content": content}, nil)}, nil)
}

// finish sends the chunk with the finish reason.
func (s *sse) finish(reason string) { s.chunk([]any{choice(map[string]any{}, reason)}, nil) }

// usage sends the closing usage chunk, which has no choices.
func (s *sse) usage(prompt, completion int) {
	s.chunk([]any{}, map[string]any{
		"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
	})
}

// done ends the stream.
func (s *sse) done() { s.data("[DONE]") }

// story sends a complete stream of the given pieces.
func (s *sse) story(reason string, pieces ...string) {
	s.start()
	s.role()
	for _, p := range pieces {
		s.text(p)
	}
	s.finish(reason)
	s.done()
}

// fail answers with an HTTP error status and body.
func (s *sse) fail(status int, contentType, body string) {
	s.w.Header().Set("Content-Type", contentType)
	s.w.WriteHeader(status)
	io.WriteString(s.w, body)
}

// stall waits until the client goes away or the test ends, and reports
// which: true when the client closed the request.
func (s *sse) stall() bool {
	select {
	case <-s.req.Context().Done():
		return true
	case <-s.quit:
		return false
	}
}
