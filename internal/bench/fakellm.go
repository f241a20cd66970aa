//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// modelPrefix starts the model name a bench story asks for; the rest is its
// pace in tokens per second ("bench-50").
const modelPrefix = "bench-"

// modelName returns the model that makes the fake server stream at rate
// tokens per second.
func modelName(rate int) string { return modelPrefix + strconv.Itoa(rate) }

// fakeModel is an OpenAI-compatible Chat Completions server that streams
// exactly paced tokens in the real wire format ("data: {chat.completion.chunk}"
// events, then "data: [DONE]"). Each token is " t<unix nanoseconds>", the
// moment the server wrote it, so that a subscriber of the story computes
// the delivery latency of every token from the same clock.
//
// A stream asks for its pace by the model name (modelName) and for its
// length by max_tokens. Streams wait at a gate, so that subscribers can
// connect before the first token; release starts them, each offset by a
// random fraction of its token interval so that stories do not all tick at
// the same instant.
type fakeModel struct {
	srv  *http.Server
	addr string

	mu   sync.Mutex
	gate chan struct{} // closed by release

	streams  atomic.Int64 // streams started
	finished atomic.Int64 // streams that sent [DONE]
	tokens   atomic.Int64 // tokens written
	// lateness is how long after its due time each token was written
	// (since the last hold).
	lateness *sharedHistogram
}

// startFakeModel listens on a free loopback port.
func startFakeModel() (*fakeModel, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeModel{addr: ln.Addr().String(), gate: make(chan struct{}), lateness: &sharedHistogram{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", f.complete)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go f.srv.Serve(ln)
	return f, nil
}

// baseURL is what LLM_BASE_URL should say.
func (f *fakeModel) baseURL() string { return "http://" + f.addr + "/v1" }

// close stops the server and every stream.
func (f *fakeModel) close() {
	f.release()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if f.srv.Shutdown(ctx) != nil {
		f.srv.Close()
	}
}

// hold makes new streams wait until the next release, and resets the
// counters.
func (f *fakeModel) hold() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.gate:
		f.gate = make(chan struct{})
	default:
	}
	f.streams.Store(0)
	f.finished.Store(0)
	f.tokens.Store(0)
	f.lateness = &sharedHistogram{}
}

// release lets the waiting streams start.
func (f *fakeModel) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.gate:
	default:
		close(f.gate)
	}
}

// current returns the gate streams wait at now, and the lateness
// histogram they record into.
func (f *fakeModel) current() (chan struct{}, *sharedHistogram) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gate, f.lateness
}

// paceLateness returns how late the tokens were written since the last hold.
func (f *fakeModel) paceLateness() *histogram {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lateness.snapshot()
}

// chunkPrefix and chunkSuffix frame one token's chat.completion.chunk.
const (
	chunkPrefix = `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"`
	chunkMiddle = `","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{"content":"`
	chunkSuffix = "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
)

func (f *fakeModel) complete(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		Stream    bool   `json:"stream"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"bad request body"}}`, http.StatusBadRequest)
		return
	}
	rate, err := strconv.Atoi(strings.TrimPrefix(req.Model, modelPrefix))
	if !strings.HasPrefix(req.Model, modelPrefix) || err != nil || rate <= 0 || req.MaxTokens <= 0 || !req.Stream {
		http.Error(w, `{"error":{"message":"the bench model server wants stream: true, max_tokens and model bench-<tokens per second>"}}`, http.StatusBadRequest)
		return
	}
	f.streams.Add(1)
	gate, lateness := f.current()
	select {
	case <-gate:
	case <-r.Context().Done():
		return
	}

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	role := chunkPrefix + req.Model + `","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}` + "\n\n"
	if _, err := io.WriteString(w, role); err != nil || rc.Flush() != nil {
		return
	}

	interval := time.Second / time.Duration(rate)
	start := time.Now().Add(rand.N(interval))
	buf := make([]byte, 0, len(chunkPrefix)+len(req.Model)+len(chunkMiddle)+len(chunkSuffix)+48)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for i := range req.MaxTokens {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				return
			}
		}
		now := time.Now()
		lateness.record(i, now.Sub(due))
		buf = append(buf[:0], chunkPrefix...)
		buf = append(buf, req.Model...)
		buf = append(buf, chunkMiddle...)
		buf = append(buf, " t"...)
		buf = strconv.AppendInt(buf, now.UnixNano(), 10)
		buf = append(buf, 'd')
		buf = strconv.AppendInt(buf, due.UnixNano(), 10)
		buf = append(buf, chunkSuffix...)
		if _, err := w.Write(buf); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
		f.tokens.Add(1)
	}
	finish := chunkPrefix + req.Model + `","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}]}` + "\n\n"
	if _, err := fmt.Fprint(w, finish, "data: [DONE]\n\n"); err == nil {
		rc.Flush()
		f.finished.Add(1)
	}
}
