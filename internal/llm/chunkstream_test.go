package llm

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"
)

// recordedStream is a Chat Completions stream as servers send it, with the
// shapes chunkStream must read as openai-go does: a role-only first chunk,
// content and refusal deltas, a finish reason, usage null and present,
// fields missing or null, unknown fields, several choices, and [DONE].
// (openai-go also coerces values of the wrong JSON type, a number for
// content, a string for a token count, where chunkStream leaves the zero
// value; no server sends them, and they are left out.)
var recordedStream = strings.Join([]string{
	`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}`,
	`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Once upon"},"logprobs":null,"finish_reason":null}]}`,
	`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" a time, \u00e9\ud83d\ude00\n"},"finish_reason":null}]}`,
	`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":1,"delta":{"refusal":"I can't"},"finish_reason":null},{"index":0,"delta":{"content":"x"}}]}`,
	`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"llama3","choices":[{"index":0,"delta":{"content":"end","tool_calls":[]},"finish_reason":"length"}],"system_fingerprint":null}`,
	`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}`,
	`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":17,"completion_tokens":256,"total_tokens":273,"completion_tokens_details":{"reasoning_tokens":0}}}`,
	`data: {"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":null,"refusal":null},"finish_reason":null}],"usage":{"prompt_tokens":3,"completion_tokens":4},"extra":{"nested":[1,2]}}`,
	`data: [DONE]`,
	`data: {"object":"chat.completion.chunk","model":"after-done","choices":[]}`,
}, "\n\n") + "\n\n"

// errorStream ends in an error event, as servers report a failure mid-stream.
var errorStream = `data: {"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"a"}}]}` + "\n\n" +
	`data: {"error":{"message":"overloaded","type":"server_error"}}` + "\n\n"

func sseResponse(body string) *http.Response {
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": []string{"text/event-stream"}},
		Body:       io.NopCloser(strings.NewReader(body)),
	}
}

// seen is what Generate reads of a chunk, whichever way it was decoded.
type seen struct {
	Object, Model            string
	HasUsage                 bool
	PromptTokens, Completion int64
	Choices                  []seenChoice
}

type seenChoice struct {
	Index                    int64
	Content, Refusal, Finish string
}

// TestChunkStreamDecodesAsOpenAI reads the same recorded streams with
// openai-go's own ssestream.Stream of openai.ChatCompletionChunk and with
// chunkStream, and compares every field chunkStream reads, the number of
// chunks, where each stream ends and its error: the day openai-go decodes
// differently, this fails.
func TestChunkStreamDecodesAsOpenAI(t *testing.T) {
	for name, body := range map[string]string{"recorded": recordedStream, "error": errorStream} {
		t.Run(name, func(t *testing.T) {
			var want []seen
			client := ssestream.NewStream[openai.ChatCompletionChunk](ssestream.NewDecoder(sseResponse(body)), nil)
			for client.Next() {
				c := client.Current()
				s := seen{Object: string(c.Object), Model: c.Model, HasUsage: c.JSON.Usage.Valid(),
					PromptTokens: c.Usage.PromptTokens, Completion: c.Usage.CompletionTokens}
				for _, ch := range c.Choices {
					s.Choices = append(s.Choices, seenChoice{ch.Index, ch.Delta.Content, ch.Delta.Refusal, ch.FinishReason})
				}
				want = append(want, s)
			}
			wantErr := client.Err()

			var got []seen
			ours := &chunkStream{events: ssestream.NewDecoder(sseResponse(body))}
			for ours.next() {
				c := ours.cur
				s := seen{Object: c.Object, Model: c.Model, HasUsage: c.Usage != nil}
				if c.Usage != nil {
					s.PromptTokens, s.Completion = int64(c.Usage.PromptTokens), int64(c.Usage.CompletionTokens)
				}
				for _, ch := range c.Choices {
					s.Choices = append(s.Choices, seenChoice{int64(ch.Index), ch.Delta.Content, ch.Delta.Refusal, ch.FinishReason})
				}
				got = append(got, s)
			}

			if len(got) != len(want) {
				t.Fatalf("chunkStream read %d chunks, openai-go %d:\n%+v\n%+v", len(got), len(want), got, want)
			}
			for i := range want {
				if !equalSeen(got[i], want[i]) {
					t.Errorf("chunk %d: chunkStream read %+v, openai-go %+v", i, got[i], want[i])
				}
			}
			if (ours.err == nil) != (wantErr == nil) || (wantErr != nil && ours.err.Error() != wantErr.Error()) {
				t.Errorf("chunkStream ended with %v, openai-go with %v", ours.err, wantErr)
			}
			if name == "error" {
				var se *ssestream.StreamError
				if !errors.As(ours.err, &se) {
					t.Errorf("chunkStream's error %T is not an *ssestream.StreamError", ours.err)
				}
			}
			if len(want) < 1 {
				t.Fatalf("openai-go read %d chunks: the recording lost its way", len(want))
			}
		})
	}
}

func equalSeen(a, b seen) bool {
	if a.Object != b.Object || a.Model != b.Model || a.HasUsage != b.HasUsage ||
		a.PromptTokens != b.PromptTokens || a.Completion != b.Completion || len(a.Choices) != len(b.Choices) {
		return false
	}
	for i := range a.Choices {
		if a.Choices[i] != b.Choices[i] {
			return false
		}
	}
	return true
}

// TestChunkStreamSkipsThreadEvents: openai-go hands an Assistants API
// thread.* event to a Chat Completions stream as a chunk with no fields,
// which chunkStream skips; it checks both halves of that.
func TestChunkStreamSkipsThreadEvents(t *testing.T) {
	body := "event: thread.message.delta\ndata: {\"id\":\"t1\",\"object\":\"thread.message.delta\"}\n\n" +
		`data: {"object":"chat.completion.chunk","model":"m","choices":[]}` + "\n\n"
	client := ssestream.NewStream[openai.ChatCompletionChunk](ssestream.NewDecoder(sseResponse(body)), nil)
	if !client.Next() {
		t.Fatalf("openai-go read no chunk: %v", client.Err())
	}
	if c := client.Current(); c.Object != "" || c.Model != "" || len(c.Choices) != 0 || c.JSON.Usage.Valid() {
		t.Errorf("openai-go decodes a thread event to %+v, not an empty chunk: chunkStream's skipping must be checked again", c)
	}
	ours := &chunkStream{events: ssestream.NewDecoder(sseResponse(body))}
	if !ours.next() || ours.cur.Model != "m" || ours.next() || ours.err != nil {
		t.Errorf("chunkStream did not skip the thread event to the one chunk: %+v, %v", ours.cur, ours.err)
	}
}
