package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/openai/openai-go/v3/packages/ssestream"
)

// streamChunk holds the fields of a chat.completion.chunk that Generate
// reads, and the error key that makes an event an error.
type streamChunk struct {
	Object string          `json:"object"`
	Model  string          `json:"model"`
	Error  json.RawMessage `json:"error"`
	// Usage is nil when the chunk has none or a null one.
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content string `json:"content"`
			Refusal string `json:"refusal"`
		} `json:"delta"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
}

// chunkStream reads the chunks of a Chat Completions stream from openai-go's
// server-sent event decoder. It ends where ssestream.Stream does and reports
// the same errors, but decodes each chunk with encoding/json into a
// streamChunk, far cheaper than the client's decoding of a whole
// ChatCompletionChunk.
type chunkStream struct {
	events ssestream.Decoder
	cur    streamChunk // the chunk that next read
	data   []byte      // its JSON
	err    error       // why the stream stopped; nil at [DONE] or the end
	done   bool
}

// next reads the next chunk into s.cur. It returns false at [DONE], at the
// end of the events and on an error, which it leaves in s.err.
func (s *chunkStream) next() bool {
	if s.done {
		return false
	}
	for s.events.Next() {
		ev := s.events.Event()
		if bytes.HasPrefix(ev.Data, []byte("[DONE]")) {
			s.done = true
			return false
		}
		// ssestream.Stream puts the Assistants API's thread.* events in an
		// envelope, which decodes to an empty chunk.
		if strings.HasPrefix(ev.Type, "thread.") {
			continue
		}
		s.cur, s.data = streamChunk{}, ev.Data
		if err := json.Unmarshal(ev.Data, &s.cur); err != nil {
			// Like the client's decoder, leave a field of an unexpected
			// type at its zero value, but stop at a chunk that is not JSON
			// or not an object.
			if te, ok := errors.AsType[*json.UnmarshalTypeError](err); !ok || te.Field == "" {
				s.err, s.done = err, true
				return false
			}
		}
		if s.cur.Error != nil {
			s.err, s.done = &ssestream.StreamError{
				Message: fmt.Sprintf("received error while streaming: %s", s.cur.Error),
				Event:   ev,
			}, true
			return false
		}
		return true
	}
	s.err, s.done = s.events.Err(), true
	return false
}

// close releases the events and the response body they are read from.
func (s *chunkStream) close() { _ = s.events.Close() }
