package websocket

import (
	"encoding/json"
	"testing"
)

// message mirrors the shape of gqlgen's protocol messages.
type message struct {
	Payload json.RawMessage `json:"payload,omitempty"`
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	noOp    bool
}

func TestEncodeMessageMatchesEncodingJSON(t *testing.T) {
	for _, m := range []*message{
		{Type: "connection_ack"},
		{Type: "ping", Payload: json.RawMessage(`{}`)},
		{ID: "1", Type: "next", Payload: json.RawMessage(`{"data":{"storyStream":{"seq":1,"delta":" once","status":"GENERATING"}}}`)},
		{ID: "7", Type: "complete"},
		{ID: "odd \"id\"\n\u2028<x>", Type: "error", Payload: json.RawMessage(`[{"message":"no"}]`)},
	} {
		got, id, typ, ok := encodeMessage(m)
		if !ok || id != m.ID || typ != m.Type {
			t.Fatalf("encodeMessage(%+v): ok %v, id %q, type %q", m, ok, id, typ)
		}
		want, _ := json.Marshal(m)
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("invalid JSON %s: %v", got, err)
		}
		json.Unmarshal(want, &w)
		if gs, ws := mustJSON(g), mustJSON(w); gs != ws {
			t.Errorf("encodeMessage = %s, encoding/json = %s", got, want)
		}
	}
	if _, _, _, ok := encodeMessage(map[string]any{"type": "x"}); ok {
		t.Error("a map is not a protocol message")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func BenchmarkWriteEnvelope(b *testing.B) {
	m := &message{ID: "1", Type: "next", Payload: json.RawMessage(`{"data":{"storyStream":{"storyID":"st_01JDQ3K8Z6V4X0M2T5R7N9B1C3","seq":12,"delta":" and the lighthouse keeper","status":"GENERATING","tokenCount":57,"error":null}},"extensions":{"traceId":"4ab0881d617c2d1dcc4b394428e06c73"}}`)}
	b.Run("by hand", func(b *testing.B) {
		for b.Loop() {
			encodeMessage(m)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(m)
		}
	})
}
