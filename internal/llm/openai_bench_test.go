package llm

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchChunks is the number of text chunks in the benchmark's stream.
const benchChunks = 1000

// benchStream is a complete answer of benchChunks text chunks, as OpenAI
// writes them, then the finish chunk and [DONE].
func benchStream() []byte {
	var b bytes.Buffer
	for range benchChunks {
		b.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}]}` + "\n\n")
	}
	b.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// BenchmarkGenerate measures the client's cost of one streamed story: the
// request, then reading and decoding benchChunks chunks. The server writes
// a prepared answer, so nearly all the time is the client's.
func BenchmarkGenerate(b *testing.B) {
	body := benchStream()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	o, err := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m"})
	if err != nil {
		b.Fatal(err)
	}
	defer o.CloseIdleConnections()

	var n int
	emit := func(string) { n++ }
	b.ReportAllocs()
	for b.Loop() {
		n = 0
		if _, err := o.Generate(b.Context(), Request{Prompt: "p"}, emit); err != nil {
			b.Fatal(err)
		}
		if n != benchChunks {
			b.Fatalf("emitted %d chunks, want %d", n, benchChunks)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchChunks), "ns/chunk")
}
