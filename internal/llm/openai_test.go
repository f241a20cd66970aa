package llm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// newTestOpenAI returns a generator for the fake server, with cfg's
// settings on top of the test's defaults.
func newTestOpenAI(t *testing.T, baseURL string, cfg OpenAIConfig) *OpenAI {
	t.Helper()
	cfg.BaseURL = baseURL
	if cfg.Model == "" {
		cfg.Model = "story-model"
	}
	o, err := NewOpenAI(cfg)
	if err != nil {
		t.Fatalf("NewOpenAI: %v", err)
	}
	t.Cleanup(o.CloseIdleConnections)
	return o
}

// collect records what a generation emits.
type collect struct{ deltas []string }

func (c *collect) emit(delta string) { c.deltas = append(c.deltas, delta) }

// chatRequest is the part of a Chat Completions request the tests check.
type chatRequest struct {
	Model               string   `json:"model"`
	Stream              bool     `json:"stream"`
	MaxTokens           *int     `json:"max_tokens"`
	MaxCompletionTokens *int     `json:"max_completion_tokens"`
	Temperature         *float64 `json:"temperature"`
	Seed                *int64   `json:"seed"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

func decodeRequest(t *testing.T, r seenRequest) (chatRequest, map[string]json.RawMessage) {
	t.Helper()
	var req chatRequest
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &req); err != nil {
		t.Fatalf("request body %s: %v", r.body, err)
	}
	if err := json.Unmarshal(r.body, &fields); err != nil {
		t.Fatalf("request body %s: %v", r.body, err)
	}
	return req, fields
}

func ptr[T any](v T) *T { return &v }

func TestOpenAIStreams(t *testing.T) {
	tests := []struct {
		name       string
		cfg        OpenAIConfig
		req        Request
		answer     script
		wantDeltas []string
		want       Result
		check      func(t *testing.T, got chatRequest, fields map[string]json.RawMessage, header http.Header)
	}{
		{
			name:       "whole stream",
			req:        Request{Prompt: "a lighthouse keeper"},
			answer:     func(s *sse) { s.story("stop", "Once", " upon", " a time.") },
			wantDeltas: []string{"Once", " upon", " a time."},
			want:       Result{Model: "story-model", FinishReason: "stop"},
			check: func(t *testing.T, got chatRequest, fields map[string]json.RawMessage, header http.Header) {
				if !got.Stream {
					t.Error("request did not ask for a stream")
				}
				if got.MaxTokens == nil || *got.MaxTokens != DefaultOpenAIMaxTokens {
					t.Errorf("max_tokens = %v, want %d", got.MaxTokens, DefaultOpenAIMaxTokens)
				}
				for _, absent := range []string{"temperature", "seed", "stream_options", "max_completion_tokens"} {
					if _, ok := fields[absent]; ok {
						t.Errorf("request has %q, want it absent: %s", absent, fields[absent])
					}
				}
				type message struct{ Role, Content string }
				var gotMessages []message
				for _, m := range got.Messages {
					gotMessages = append(gotMessages, message{m.Role, m.Content})
				}
				want := []message{{"system", DefaultSystemPrompt}, {"user", "a lighthouse keeper"}}
				if diff := cmp.Diff(want, gotMessages); diff != "" {
					t.Errorf("messages (-want +got):\n%s", diff)
				}
				if h := header.Get("Authorization"); h != "" {
					t.Errorf("Authorization = %q without an API key, want none", h)
				}
				if h := header.Get("X-Trace-Id"); h != "" {
					t.Errorf("X-Trace-Id = %q without a trace ID, want none", h)
				}
			},
		},
		{
			name:       "finish reason length",
			req:        Request{Prompt: "p", MaxTokens: 3},
			answer:     func(s *sse) { s.story("length", "It", " was", " a") },
			wantDeltas: []string{"It", " was", " a"},
			want:       Result{Model: "story-model", FinishReason: "length"},
			check: func(t *testing.T, got chatRequest, _ map[string]json.RawMessage, _ http.Header) {
				if got.MaxTokens == nil || *got.MaxTokens != 3 {
					t.Errorf("max_tokens = %v, want 3", got.MaxTokens)
				}
			},
		},
		{
			name: "usage chunk with StreamUsage",
			cfg:  OpenAIConfig{StreamUsage: true},
			req:  Request{Prompt: "p"},
			answer: func(s *sse) {
				s.start()
				s.role()
				s.text("The end.")
				s.finish("stop")
				s.usage(12, 3)
				s.done()
			},
			wantDeltas: []string{"The end."},
			want:       Result{Model: "story-model", FinishReason: "stop", PromptTokens: 12, CompletionTokens: 3},
			check: func(t *testing.T, got chatRequest, _ map[string]json.RawMessage, _ http.Header) {
				if got.StreamOptions == nil || !got.StreamOptions.IncludeUsage {
					t.Errorf("stream_options = %+v, want include_usage true", got.StreamOptions)
				}
			},
		},
		{
			name: "chunks with empty choices are skipped",
			req:  Request{Prompt: "p"},
			answer: func(s *sse) {
				s.start()
				s.chunk([]any{}, nil)
				s.role()
				s.text("A")
				s.chunk([]any{}, nil)
				s.text(" story.")
				s.finish("stop")
				s.chunk([]any{}, nil)
				s.done()
			},
			wantDeltas: []string{"A", " story."},
			want:       Result{Model: "story-model", FinishReason: "stop"},
		},
		{
			name:       "model override, trace ID and parameters",
			cfg:        OpenAIConfig{APIKey: "sk-test-key", MaxCompletionTokens: true},
			req:        Request{Prompt: "p", Model: "other-model", TraceID: "trace-123", Temperature: ptr(0.25), Seed: 42, MaxTokens: 50},
			answer:     func(s *sse) { s.story("stop", "Hi.") },
			wantDeltas: []string{"Hi."},
			want:       Result{Model: "other-model", FinishReason: "stop"},
			check: func(t *testing.T, got chatRequest, fields map[string]json.RawMessage, header http.Header) {
				if got.Model != "other-model" {
					t.Errorf("model = %q, want other-model", got.Model)
				}
				if h := header.Get("X-Trace-Id"); h != "trace-123" {
					t.Errorf("X-Trace-Id = %q, want trace-123", h)
				}
				if h := header.Get("Authorization"); h != "Bearer sk-test-key" {
					t.Errorf("Authorization = %q, want the bearer key", h)
				}
				if got.Temperature == nil || *got.Temperature != 0.25 {
					t.Errorf("temperature = %v, want 0.25", got.Temperature)
				}
				if got.Seed == nil || *got.Seed != 42 {
					t.Errorf("seed = %v, want 42", got.Seed)
				}
				if got.MaxCompletionTokens == nil || *got.MaxCompletionTokens != 50 {
					t.Errorf("max_completion_tokens = %v, want 50", got.MaxCompletionTokens)
				}
				if _, ok := fields["max_tokens"]; ok {
					t.Errorf("request has max_tokens with MaxCompletionTokens set")
				}
			},
		},
		{
			name:       "configured temperature and system prompt",
			cfg:        OpenAIConfig{Temperature: ptr(0.9), SystemPrompt: "Tell fables."},
			req:        Request{Prompt: "p"},
			answer:     func(s *sse) { s.story("stop", "Fable.") },
			wantDeltas: []string{"Fable."},
			want:       Result{Model: "story-model", FinishReason: "stop"},
			check: func(t *testing.T, got chatRequest, _ map[string]json.RawMessage, _ http.Header) {
				if got.Temperature == nil || *got.Temperature != 0.9 {
					t.Errorf("temperature = %v, want 0.9", got.Temperature)
				}
				if len(got.Messages) == 0 || got.Messages[0].Content != "Tell fables." {
					t.Errorf("messages = %+v, want the configured system prompt first", got.Messages)
				}
			},
		},
		{
			name: "server names the model it used",
			req:  Request{Prompt: "p"},
			answer: func(s *sse) {
				s.model = "story-model-2024-06"
				s.story("stop", "Ok.")
			},
			wantDeltas: []string{"Ok."},
			want:       Result{Model: "story-model-2024-06", FinishReason: "stop"},
		},
		{
			name: "usage null in every chunk but the usage chunk",
			cfg:  OpenAIConfig{StreamUsage: true},
			req:  Request{Prompt: "p"},
			answer: func(s *sse) {
				null := json.RawMessage("null")
				s.start()
				s.chunk([]any{choice(map[string]any{"role": "assistant", "content": ""}, nil)}, null)
				s.chunk([]any{choice(map[string]any{"content": "The end."}, nil)}, null)
				s.chunk([]any{choice(map[string]any{}, "stop")}, null)
				s.usage(12, 3)
				// A null usage after the usage chunk leaves the usage alone.
				s.chunk([]any{}, null)
				s.done()
			},
			wantDeltas: []string{"The end."},
			want:       Result{Model: "story-model", FinishReason: "stop", PromptTokens: 12, CompletionTokens: 3},
		},
		{
			name: "choices other than the first are ignored",
			req:  Request{Prompt: "p"},
			answer: func(s *sse) {
				other := func(delta map[string]any, finish any) map[string]any {
					c := choice(delta, finish)
					c["index"] = 1
					return c
				}
				s.start()
				s.chunk([]any{other(map[string]any{"content": "B-side"}, nil), choice(map[string]any{"content": "A"}, nil)}, nil)
				s.chunk([]any{choice(map[string]any{"content": " story."}, nil), other(map[string]any{"content": " more"}, nil)}, nil)
				s.chunk([]any{choice(map[string]any{}, "stop"), other(map[string]any{}, "length")}, nil)
				s.done()
			},
			wantDeltas: []string{"A", " story."},
			want:       Result{Model: "story-model", FinishReason: "stop"},
		},
		{
			name: "refusal text",
			req:  Request{Prompt: "p"},
			answer: func(s *sse) {
				s.start()
				s.role()
				s.chunk([]any{choice(map[string]any{"content": nil, "refusal": "I can't write"}, nil)}, nil)
				s.chunk([]any{choice(map[string]any{"content": nil, "refusal": " that story."}, nil)}, nil)
				s.finish("stop")
				s.done()
			},
			wantDeltas: []string{"I can't write", " that story."},
			want:       Result{Model: "story-model", FinishReason: "stop"},
		},
		{
			name: "a field of an unexpected type is passed over",
			req:  Request{Prompt: "p"},
			answer: func(s *sse) {
				s.start()
				s.data(`{"id":"x","object":"chat.completion.chunk","created":"soon","model":42,"choices":[{"index":0,"delta":{"content":"Hi."},"finish_reason":null}]}`)
				s.finish("stop")
				s.done()
			},
			wantDeltas: []string{"Hi."},
			want:       Result{Model: "story-model", FinishReason: "stop"},
		},
		{
			name: "nothing is read after [DONE]",
			req:  Request{Prompt: "p"},
			answer: func(s *sse) {
				s.start()
				s.text("Hi.")
				s.finish("stop")
				_, _ = s.w.Write([]byte("data: [DONE]\n\n" +
					`data: {"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":" Late."},"finish_reason":"length"}]}` + "\n\n"))
				s.flush()
			},
			wantDeltas: []string{"Hi."},
			want:       Result{Model: "story-model", FinishReason: "stop"},
		},
		{
			name: "Assistants thread events are skipped",
			req:  Request{Prompt: "p"},
			answer: func(s *sse) {
				s.start()
				_, _ = s.w.Write([]byte("event: thread.message.delta\n" +
					`data: {"model":"m","choices":[{"index":0,"delta":{"content":"Not this."},"finish_reason":"length"}]}` + "\n\n"))
				s.text("Hi.")
				s.finish("stop")
				s.done()
			},
			wantDeltas: []string{"Hi."},
			want:       Result{Model: "story-model", FinishReason: "stop"},
		},
		{
			name: "no space after data colon, comments and multi-byte text",
			req:  Request{Prompt: "p"},
			answer: func(s *sse) {
				s.start()
				_, _ = s.w.Write([]byte(": keep-alive\n\n"))
				_, _ = s.w.Write([]byte(`data:{"id":"x","object":"chat.completion.chunk","created":1,"model":"story-model","choices":[{"index":0,"delta":{"content":"Drache 🐉 "},"finish_reason":null}]}` + "\n\n"))
				s.text("和龙")
				s.finish("stop")
				s.done()
			},
			wantDeltas: []string{"Drache 🐉 ", "和龙"},
			want:       Result{Model: "story-model", FinishReason: "stop"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, tt.answer)
			o := newTestOpenAI(t, srv.baseURL(), tt.cfg)
			var got collect
			res, err := o.Generate(t.Context(), tt.req, got.emit)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if diff := cmp.Diff(tt.wantDeltas, got.deltas); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			reqs := srv.requests()
			if len(reqs) != 1 {
				t.Fatalf("server got %d requests, want 1", len(reqs))
			}
			if tt.check != nil {
				body, fields := decodeRequest(t, reqs[0])
				tt.check(t, body, fields, reqs[0].header)
			}
		})
	}
}

func TestOpenAIErrors(t *testing.T) {
	const apiKey = "sk-secret-0123456789"
	tests := []struct {
		name       string
		answer     script
		wantDeltas []string
		wantIs     []error
		wantNotIs  []error
		wantMsg    []string // substrings of the error message
	}{
		{
			name: "error object mid-stream",
			answer: func(s *sse) {
				s.start()
				s.role()
				s.text("Once")
				s.text(" upon")
				s.data(`{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`)
			},
			wantDeltas: []string{"Once", " upon"},
			wantIs:     []error{ErrProvider},
			wantNotIs:  []error{ErrUnavailable, ErrTimeout, ErrRateLimited},
			wantMsg:    []string{"model server error", "The server had an error while processing your request.", "server_error"},
		},
		{
			name: "vLLM error chunk mid-stream",
			answer: func(s *sse) {
				s.start()
				s.text("Once")
				s.data(`{"object":"error","message":"CUDA out of memory","type":"InternalServerError","param":null,"code":500}`)
			},
			wantDeltas: []string{"Once"},
			wantIs:     []error{ErrProvider},
			wantMsg:    []string{"CUDA out of memory"},
		},
		{
			name: "Ollama-style error string mid-stream",
			answer: func(s *sse) {
				s.start()
				s.text("Once")
				s.data(`{"error":"model runner has unexpectedly stopped"}`)
			},
			wantDeltas: []string{"Once"},
			wantIs:     []error{ErrProvider},
			wantMsg:    []string{"the stream reported an error: model runner has unexpectedly stopped"},
		},
		{
			name: "chunk that is not an object",
			answer: func(s *sse) {
				s.start()
				s.text("Once")
				s.data(`["upon", "a", "time"]`)
				s.done()
			},
			wantDeltas: []string{"Once"},
			wantIs:     []error{ErrProvider},
			wantNotIs:  []error{ErrUnavailable, ErrTimeout},
			wantMsg:    []string{"model server error"},
		},
		{
			name: "429 with JSON error body",
			answer: func(s *sse) {
				s.w.Header().Set("Retry-After", "1")
				s.w.Header().Set("X-Should-Retry", "true")
				s.fail(http.StatusTooManyRequests, "application/json",
					`{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
			},
			wantIs:    []error{ErrProvider, ErrRateLimited},
			wantNotIs: []error{ErrUnavailable, ErrTimeout},
			wantMsg:   []string{"429", "Too Many Requests", "Rate limit reached for requests", "rate_limit_exceeded"},
		},
		{
			name: "500 with JSON error body",
			answer: func(s *sse) {
				s.w.Header().Set("X-Should-Retry", "true")
				s.fail(http.StatusInternalServerError, "application/json",
					`{"error":{"message":"The model crashed","type":"server_error","param":null,"code":null}}`)
			},
			wantIs:    []error{ErrProvider},
			wantNotIs: []error{ErrRateLimited, ErrUnavailable},
			wantMsg:   []string{"500", "Internal Server Error", "The model crashed"},
		},
		{
			name: "Ollama's string error",
			answer: func(s *sse) {
				s.fail(http.StatusNotFound, "application/json", `{"error":"model \"nope\" not found, try pulling it first"}`)
			},
			wantIs:  []error{ErrProvider},
			wantMsg: []string{"404", `model "nope" not found, try pulling it first`},
		},
		{
			name: "plain text error",
			answer: func(s *sse) {
				s.fail(http.StatusBadGateway, "text/plain", "upstream connect error\n")
			},
			wantIs:  []error{ErrProvider},
			wantMsg: []string{"502 Bad Gateway: upstream connect error"},
		},
		{
			name: "API key echoed by the server is redacted",
			answer: func(s *sse) {
				s.fail(http.StatusUnauthorized, "application/json",
					`{"error":{"message":"Incorrect API key provided: `+apiKey+`","type":"invalid_request_error","code":"invalid_api_key"}}`)
			},
			wantIs:  []error{ErrProvider},
			wantMsg: []string{"401", "Incorrect API key provided: [redacted]"},
		},
		{
			name: "stream ends without a finish reason",
			answer: func(s *sse) {
				s.start()
				s.text("Once")
				s.done()
			},
			wantDeltas: []string{"Once"},
			wantIs:     []error{ErrProvider},
			wantMsg:    []string{"ended before the model finished"},
		},
		{
			name: "connection drops mid-stream",
			answer: func(s *sse) {
				s.start()
				s.text("Once")
				_, _ = s.w.Write([]byte(`data: {"id":"x","obj`))
				s.flush()
				panic(http.ErrAbortHandler)
			},
			wantDeltas: []string{"Once"},
			wantIs:     []error{ErrProvider},
			wantMsg:    []string{"the stream broke off"},
		},
		{
			name: "unreadable chunk",
			answer: func(s *sse) {
				s.start()
				s.text("Once")
				s.data(`{"choices": [{"index": 0, "delta": {"content": `)
				s.done()
			},
			wantDeltas: []string{"Once"},
			wantIs:     []error{ErrProvider},
			wantMsg:    []string{"not valid JSON"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, tt.answer)
			o := newTestOpenAI(t, srv.baseURL(), OpenAIConfig{APIKey: apiKey})
			var got collect
			_, err := o.Generate(t.Context(), Request{Prompt: "p"}, got.emit)
			if err == nil {
				t.Fatal("Generate succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if diff := cmp.Diff(tt.wantDeltas, got.deltas); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("error %q is not %v", err, target)
				}
			}
			for _, target := range tt.wantNotIs {
				if errors.Is(err, target) {
					t.Errorf("error %q is %v, want not", err, target)
				}
			}
			for _, s := range tt.wantMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if strings.Contains(err.Error(), apiKey) {
				t.Errorf("error %q contains the API key", err)
			}
			// Retrying would stream the story again: one request only.
			if n := len(srv.requests()); n != 1 {
				t.Errorf("server got %d requests, want 1", n)
			}
		})
	}
}

// bodyTracker is a transport that counts the response bodies not yet
// closed.
type bodyTracker struct {
	*http.Transport
	mu     sync.Mutex
	opened int
	open   int
}

func (b *bodyTracker) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := b.Transport.RoundTrip(r)
	if resp != nil && resp.Body != nil {
		b.mu.Lock()
		b.opened++
		b.open++
		b.mu.Unlock()
		resp.Body = &trackedBody{ReadCloser: resp.Body, tracker: b}
	}
	return resp, err
}

func (b *bodyTracker) counts() (opened, open int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opened, b.open
}

type trackedBody struct {
	io.ReadCloser
	tracker *bodyTracker
	once    sync.Once
}

func (t *trackedBody) Close() error {
	t.once.Do(func() {
		t.tracker.mu.Lock()
		t.tracker.open--
		t.tracker.mu.Unlock()
	})
	return t.ReadCloser.Close()
}

func TestOpenAIClosesBody(t *testing.T) {
	tests := []struct {
		name    string
		answer  script
		cancel  bool // cancel the generation at the first text
		wantErr bool
	}{
		{name: "whole stream", answer: func(s *sse) { s.story("stop", "Once", " upon") }},
		{
			name: "stream without [DONE]",
			answer: func(s *sse) {
				s.start()
				s.text("Once")
				s.finish("stop")
			},
		},
		{
			name: "error object mid-stream",
			answer: func(s *sse) {
				s.start()
				s.text("Once")
				s.data(`{"error":{"message":"overloaded"}}`)
				s.stall()
			},
			wantErr: true,
		},
		{
			name: "vLLM error chunk",
			answer: func(s *sse) {
				s.start()
				s.data(`{"object":"error","message":"CUDA out of memory","code":500}`)
				s.stall()
			},
			wantErr: true,
		},
		{
			name: "unreadable chunk",
			answer: func(s *sse) {
				s.start()
				s.data(`{"choices": [`)
				s.stall()
			},
			wantErr: true,
		},
		{
			name: "HTTP error",
			answer: func(s *sse) {
				s.fail(http.StatusInternalServerError, "application/json", `{"error":{"message":"down"}}`)
			},
			wantErr: true,
		},
		{
			name: "cancelled",
			answer: func(s *sse) {
				s.start()
				s.text("Once")
				s.stall()
			},
			cancel:  true,
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, tt.answer)
			tracker := &bodyTracker{Transport: http.DefaultTransport.(*http.Transport).Clone()}
			o := newTestOpenAI(t, srv.baseURL(), OpenAIConfig{HTTPClient: &http.Client{Transport: tracker}})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			_, err := o.Generate(ctx, Request{Prompt: "p"}, func(string) {
				if tt.cancel {
					cancel()
				}
			})
			t.Logf("error: %v", err)
			if (err != nil) != tt.wantErr {
				t.Errorf("Generate error %v, want error %v", err, tt.wantErr)
			}
			if opened, open := tracker.counts(); opened != 1 || open != 0 {
				t.Errorf("%d response bodies, %d left open; want 1, none open", opened, open)
			}
		})
	}
}

func TestOpenAIConnectionRefused(t *testing.T) {
	// A port that was just free and is closed again refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	o := newTestOpenAI(t, "http://"+addr+"/v1", OpenAIConfig{APIKey: "sk-secret-0123456789"})
	start := time.Now()
	_, err = o.Generate(t.Context(), Request{Prompt: "p"}, func(string) { t.Error("emitted text") })
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("error %v, want ErrUnavailable", err)
	}
	t.Logf("error: %v", err)
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrProvider) {
		t.Errorf("error %q is also a time-out or provider error", err)
	}
	for _, s := range []string{addr, "connection refused"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "sk-secret") {
		t.Errorf("error %q contains the API key", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: a refused connection must not be retried", d)
	}
}

func TestOpenAITimeouts(t *testing.T) {
	const short = 150 * time.Millisecond
	tests := []struct {
		name       string
		cfg        OpenAIConfig
		answer     script
		wantDeltas []string
		wantIs     []error
		wantMsg    string
	}{
		{
			name:    "stall before the response",
			cfg:     OpenAIConfig{FirstTokenTimeout: short},
			answer:  func(s *sse) { s.stall() },
			wantIs:  []error{ErrTimeout},
			wantMsg: "no text from the model within 150ms",
		},
		{
			name: "stall before the first token",
			cfg:  OpenAIConfig{FirstTokenTimeout: short},
			answer: func(s *sse) {
				s.start()
				s.role()
				s.stall()
			},
			wantIs:  []error{ErrTimeout},
			wantMsg: "no text from the model within 150ms",
		},
		{
			name: "stall mid-stream",
			cfg:  OpenAIConfig{FirstTokenTimeout: 10 * time.Second, IdleTimeout: short},
			answer: func(s *sse) {
				s.start()
				s.role()
				s.text("Once")
				s.text(" upon")
				s.stall()
			},
			wantDeltas: []string{"Once", " upon"},
			wantIs:     []error{ErrTimeout},
			wantMsg:    "the stream stalled for more than 150ms",
		},
		{
			name: "slow but steady stream is not idle",
			cfg:  OpenAIConfig{FirstTokenTimeout: 10 * time.Second, IdleTimeout: 4 * short},
			answer: func(s *sse) {
				s.start()
				for _, w := range []string{"One", " two", " three", " four"} {
					time.Sleep(short)
					s.text(w)
				}
				s.finish("stop")
				s.done()
			},
			wantDeltas: []string{"One", " two", " three", " four"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, tt.answer)
			o := newTestOpenAI(t, srv.baseURL(), tt.cfg)
			var got collect
			start := time.Now()
			_, err := o.Generate(t.Context(), Request{Prompt: "p"}, got.emit)
			elapsed := time.Since(start)
			t.Logf("error: %v", err)
			if diff := cmp.Diff(tt.wantDeltas, got.deltas); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
			if tt.wantIs == nil {
				if err != nil {
					t.Fatalf("Generate: %v", err)
				}
				return
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("error %v is not %v", err, target)
				}
			}
			if errors.Is(err, context.Canceled) {
				t.Errorf("error %q is context.Canceled; a time-out is not a cancellation", err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if elapsed > 3*time.Second {
				t.Errorf("took %v, want the time-out to fire after about %v", elapsed, short)
			}
		})
	}
}

func TestOpenAIConnectTimeout(t *testing.T) {
	// A dialer that never connects stands in for a server whose network
	// drops packets.
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	}
	defer transport.CloseIdleConnections()
	o := newTestOpenAI(t, "http://model.invalid:8080/v1", OpenAIConfig{
		ConnectTimeout: 150 * time.Millisecond,
		HTTPClient:     &http.Client{Transport: transport},
	})
	start := time.Now()
	_, err := o.Generate(t.Context(), Request{Prompt: "p"}, func(string) { t.Error("emitted text") })
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("error %v, want ErrTimeout and ErrUnavailable", err)
	}
	t.Logf("error: %v", err)
	if want := "could not connect to model.invalid:8080 within 150ms"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestOpenAICancel(t *testing.T) {
	t.Run("mid-stream closes the server's request", func(t *testing.T) {
		closed := make(chan struct{})
		srv := newFakeServer(t, func(s *sse) {
			s.start()
			s.role()
			s.text("Once")
			if s.stall() {
				close(closed)
			}
		})
		o := newTestOpenAI(t, srv.baseURL(), OpenAIConfig{})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var got collect
		_, err := o.Generate(ctx, Request{Prompt: "p"}, func(d string) {
			got.emit(d)
			cancel()
		})
		canceledAt := time.Now()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
		if errors.Is(err, ErrProvider) || errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnavailable) {
			t.Errorf("error %q is also a server error", err)
		}
		if diff := cmp.Diff([]string{"Once"}, got.deltas); diff != "" {
			t.Errorf("deltas (-want +got):\n%s", diff)
		}
		select {
		case <-closed:
			if d := time.Since(canceledAt); d > time.Second {
				t.Errorf("server saw the request closed after %v, want within 1s", d)
			}
		case <-time.After(time.Second):
			t.Fatal("the server's request was still open 1s after cancelling")
		}
	})

	t.Run("before the request", func(t *testing.T) {
		srv := newFakeServer(t, func(s *sse) { s.story("stop", "Hi.") })
		o := newTestOpenAI(t, srv.baseURL(), OpenAIConfig{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := o.Generate(ctx, Request{Prompt: "p"}, func(string) { t.Error("emitted text") })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
		if n := len(srv.requests()); n != 0 {
			t.Errorf("server got %d requests, want 0", n)
		}
	})

	t.Run("cause is kept", func(t *testing.T) {
		srv := newFakeServer(t, func(s *sse) {
			s.start()
			s.text("Once")
			s.stall()
		})
		o := newTestOpenAI(t, srv.baseURL(), OpenAIConfig{})
		stopped := errors.New("story cancelled by its author")
		ctx, cancel := context.WithCancelCause(t.Context())
		defer cancel(nil)
		_, err := o.Generate(ctx, Request{Prompt: "p"}, func(string) { cancel(stopped) })
		if !errors.Is(err, context.Canceled) || !errors.Is(err, stopped) {
			t.Fatalf("error %v, want context.Canceled and the cause", err)
		}
	})
}

func TestNewOpenAIConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     OpenAIConfig
		wantErr bool
	}{
		{name: "defaults", cfg: OpenAIConfig{Model: "m"}},
		{name: "local server", cfg: OpenAIConfig{BaseURL: "http://localhost:11434/v1", Model: "llama3"}},
		{name: "no model", cfg: OpenAIConfig{BaseURL: "http://localhost:11434/v1"}, wantErr: true},
		{name: "not a URL", cfg: OpenAIConfig{BaseURL: "localhost:11434", Model: "m"}, wantErr: true},
		{name: "other scheme", cfg: OpenAIConfig{BaseURL: "ftp://user:hunter2@example.com/v1", Model: "m"}, wantErr: true},
		{name: "unparsable", cfg: OpenAIConfig{BaseURL: "http://user:hunter2@exa mple.com:port/v1", Model: "m"}, wantErr: true},
		{name: "negative temperature", cfg: OpenAIConfig{Model: "m", Temperature: ptr(-1.0)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := NewOpenAI(tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("NewOpenAI error %v, want ErrInvalidConfig", err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q shows the URL's password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewOpenAI: %v", err)
			}
			o.CloseIdleConnections()
			if o.Model() != tt.cfg.Model {
				t.Errorf("Model() = %q, want %q", o.Model(), tt.cfg.Model)
			}
		})
	}
}

func TestOpenAIIgnoresEnvironment(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-environment")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	srv := newFakeServer(t, func(s *sse) { s.story("stop", "Hi.") })
	o := newTestOpenAI(t, srv.baseURL(), OpenAIConfig{})
	if _, err := o.Generate(t.Context(), Request{Prompt: "p"}, nil); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	if h := reqs[0].header.Get("Authorization"); h != "" {
		t.Errorf("Authorization = %q: the environment's key was sent", h)
	}
}

func TestServerMessage(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"OpenAI", `{"error":{"message":"Bad things","type":"invalid_request_error","param":null,"code":"bad_thing"}}`, "Bad things (bad_thing)"},
		{"OpenAI type only", `{"error":{"message":"Overloaded","type":"server_error","code":null}}`, "Overloaded (server_error)"},
		{"code already in message", `{"error":{"message":"model_not_found: no such model","code":"model_not_found"}}`, "model_not_found: no such model"},
		{"numeric code", `{"error":{"message":"Too long","code":400}}`, "Too long"},
		{"Ollama", `{"error":"model not found"}`, "model not found"},
		{"vLLM", `{"object":"error","message":"Context too long","type":"BadRequestError","param":null,"code":400}`, "Context too long (BadRequestError)"},
		{"FastAPI", `{"detail":"Not authenticated"}`, "Not authenticated"},
		{"plain text", "  upstream\n\ttimed   out \n", "upstream timed out"},
		{"HTML page", "<html><body><h1>502 Bad Gateway</h1></body></html>", ""},
		{"broken JSON", `{"error": {"mess`, ""},
		{"empty", "", ""},
		{"JSON without message", `{"status":"bad"}`, ""},
		{"control characters", "{\"error\":\"bad\\u0000\\u001b[31m thing\"}", "bad[31m thing"},
		{"long", `{"error":"` + strings.Repeat("x", 1000) + `"}`, strings.Repeat("x", maxMessageRunes) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, serverMessage([]byte(tt.body))); diff != "" {
				t.Errorf("serverMessage(%q) (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}
