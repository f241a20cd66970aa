package subscription

import (
	"encoding/json"
	"maps"

	"github.com/99designs/gqlgen/graphql"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/storybot/storybot/internal/telemetry"
)

// framing is how one protocol wraps an operation's messages. An event is
// written as nextHead(id), the response's JSON, end(); a cohort's shared
// payload leaves the response object open, and tail closes it with the
// member's own extensions.
type framing struct {
	nextType string // "next", or "data" for the legacy protocol
	sse      bool
}

var (
	transportWSFraming = framing{nextType: "next"}
	legacyWSFraming    = framing{nextType: "data"}
	sseFraming         = framing{nextType: "next", sse: true}
)

// nextHead is everything of an event message before its payload.
func (f framing) nextHead(id string) []byte {
	if f.sse {
		return []byte("event: next\ndata: ")
	}
	b := append([]byte(`{"id":`), jsonString(id)...)
	return append(b, `,"type":"`+f.nextType+`","payload":`...)
}

// end closes an event message after its payload.
func (f framing) end() []byte {
	if f.sse {
		return []byte("\n\n")
	}
	return []byte("}")
}

// tail closes a shared payload with the extensions of one member (its
// trace ID), then the message.
func (f framing) tail(traceID string) []byte {
	var b []byte
	if traceID != "" {
		b = append(b, `,"extensions":{"`+telemetry.TraceIDExtension+`":`...)
		b = append(b, jsonString(traceID)...)
		b = append(b, '}')
	}
	b = append(b, '}')
	return append(b, f.end()...)
}

// complete is the message that ends an operation.
func (f framing) complete(id string) []byte {
	if f.sse {
		return []byte("event: complete\n\n")
	}
	b := append([]byte(`{"id":`), jsonString(id)...)
	return append(b, `,"type":"complete"}`...)
}

// errors is the message that fails an operation before it ran: an error
// message with resp's errors, each with resp's trace ID (or, over SSE, an
// event with resp).
func (f framing) errors(id string, resp *graphql.Response) []byte {
	if f.sse {
		payload, _ := json.Marshal(resp)
		b := append([]byte("event: next\ndata: "), payload...)
		return append(b, "\n\n"...)
	}
	errs := resp.Errors
	if traceID, _ := resp.Extensions[telemetry.TraceIDExtension].(string); traceID != "" {
		errs = make(gqlerror.List, len(resp.Errors))
		for i, e := range resp.Errors {
			c := *e
			c.Extensions = maps.Clone(e.Extensions)
			if c.Extensions == nil {
				c.Extensions = map[string]any{}
			}
			c.Extensions[telemetry.TraceIDExtension] = traceID
			errs[i] = &c
		}
	}
	payload, _ := json.Marshal(errs)
	b := append([]byte(`{"id":`), jsonString(id)...)
	b = append(b, `,"type":"error","payload":`...)
	b = append(b, payload...)
	return append(b, '}')
}

// message is a protocol message without an id: an ack, a ping, a pong.
func message(typ string, payload []byte) []byte {
	b := append([]byte(`{"type":"`), typ...)
	b = append(b, '"')
	if len(payload) > 0 {
		b = append(b, `,"payload":`...)
		b = append(b, payload...)
	}
	return append(b, '}')
}

// jsonString encodes s as a JSON string.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
