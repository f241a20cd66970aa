package main

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/storybot/storybot/internal/database/dbtest"
)

// otlpSpan is a span as the test's OTLP receiver got it.
type otlpSpan struct {
	service                  string
	name                     string
	traceID, spanID, parent  string
	kind                     tracepb.Span_SpanKind
	attrs                    map[string]string
	links                    []string // the trace-id/span-id pairs it links to
	statusError              bool
	statusMessage, tracestat string
}

// otlpReceiver is an OTLP/HTTP (protobuf) receiver of traces: what an
// OpenTelemetry Collector, Tempo or Jaeger listens with on /v1/traces.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []otlpSpan
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP receiver: %s %s (%s)", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
			http.Error(w, "not OTLP/HTTP protobuf traces", http.StatusBadRequest)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var export coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &export); err != nil {
			t.Errorf("OTLP receiver: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.add(&export)
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) add(export *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range export.ResourceSpans {
		service := attrString(rs.GetResource().GetAttributes(), "service.name")
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := otlpSpan{
					service: service, name: s.Name, kind: s.Kind,
					traceID: hex.EncodeToString(s.TraceId), spanID: hex.EncodeToString(s.SpanId), parent: hex.EncodeToString(s.ParentSpanId),
					attrs:       map[string]string{},
					statusError: s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR, statusMessage: s.GetStatus().GetMessage(),
					tracestat: s.TraceState,
				}
				for _, kv := range s.Attributes {
					sp.attrs[kv.Key] = anyValue(kv.Value)
				}
				for _, l := range s.Links {
					sp.links = append(sp.links, hex.EncodeToString(l.TraceId)+"/"+hex.EncodeToString(l.SpanId))
				}
				r.spans = append(r.spans, sp)
			}
		}
	}
}

func attrString(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			return anyValue(kv.Value)
		}
	}
	return ""
}

// anyValue renders an attribute's value: strings as they are, others as
// their JSON-ish text (an array of strings as ["a","b"]).
func anyValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	case *commonpb.AnyValue_ArrayValue:
		var parts []string
		for _, e := range x.ArrayValue.Values {
			b, _ := json.Marshal(anyValue(e))
			parts = append(parts, string(b))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return ""
}

// snapshot returns the spans received so far.
func (r *otlpReceiver) snapshot() []otlpSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]otlpSpan(nil), r.spans...)
}

// waitSpan waits for a span of trace traceID that match accepts.
func (r *otlpReceiver) waitSpan(t *testing.T, traceID, what string, match func(otlpSpan) bool) otlpSpan {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, s := range r.snapshot() {
			if (traceID == "" || s.traceID == traceID) && match(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			var names []string
			for _, s := range r.snapshot() {
				if traceID == "" || s.traceID == traceID {
					names = append(names, s.service+":"+s.name+"("+s.spanID+"<"+s.parent+")")
				}
			}
			t.Fatalf("no span %s in trace %s; the trace has %v", what, traceID, names)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// named matches the span called name.
func named(name string) func(otlpSpan) bool {
	return func(s otlpSpan) bool { return s.name == name }
}

// childOf matches the span called name whose parent is parent.
func childOf(name string, parent otlpSpan) func(otlpSpan) bool {
	return func(s otlpSpan) bool { return s.name == name && s.parent == parent.spanID }
}

// modelCall is what the test model server saw of one request.
type modelCall struct {
	traceparent, tracestate, traceID string
}

// tracedModel is an OpenAI-compatible model server that records the trace
// headers of each request. It streams its words slowly enough for another
// replica to follow, or answers 500 when failing is set.
type tracedModel struct {
	*httptest.Server
	mu    sync.Mutex
	calls []modelCall
}

func newTracedModel(t *testing.T, failing bool) *tracedModel {
	t.Helper()
	m := &tracedModel{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		m.mu.Lock()
		m.calls = append(m.calls, modelCall{r.Header.Get("traceparent"), r.Header.Get("tracestate"), r.Header.Get("X-Trace-Id")})
		m.mu.Unlock()
		if failing {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"message":"the model fell over","type":"server_error"}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i, word := range strings.Fields("Once upon a time a keeper of lights wrote letters to every ship that passed, and each ship wrote back.") {
			if i > 0 {
				word = " " + word
			}
			chunk, _ := json.Marshal(map[string]any{"model": "fake", "choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": word}}}})
			fmt.Fprintf(w, "data: %s\n\n", chunk)
			w.(http.Flusher).Flush()
			time.Sleep(60 * time.Millisecond)
		}
		fmt.Fprintf(w, "data: %s\n\n", `{"model":"fake","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":40,"completion_tokens":20}}`)
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *tracedModel) callsSoFar() []modelCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]modelCall(nil), m.calls...)
}

// postGQL posts one operation with header and returns the response, its
// trace ID extension and its data.
func (s *server) postGQL(header http.Header, query string, vars map[string]any, out any) (*http.Response, string) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, s.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, raw := s.send(req)
	var r struct {
		Data       json.RawMessage `json:"data"`
		Errors     []gqlError      `json:"errors"`
		Extensions struct {
			TraceID string `json:"traceId"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil || len(r.Errors) > 0 {
		s.t.Fatalf("%s: %v %s", query, err, raw)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			s.t.Fatal(err)
		}
	}
	return resp, r.Extensions.TraceID
}

// tracingEnv is the environment of a replica exporting to receiver.
func tracingEnv(receiver *otlpReceiver, service string, more map[string]string) map[string]string {
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.URL, "OTEL_SERVICE_NAME": service}
	for k, v := range more {
		env[k] = v
	}
	return env
}

// TestTracesOfQueryAndMutation follows a query that arrives with a
// traceparent and tracestate, and a mutation that arrives with none, to the
// OTLP receiver: the HTTP server span, the GraphQL operation's span under
// it, the resolver field's under that and the database statements under
// the field; and the trace ID in X-Trace-Id, extensions.traceId and the
// log lines.
func TestTracesOfQueryAndMutation(t *testing.T) {
	receiver := newOTLPReceiver(t)
	s := start(t, tracingEnv(receiver, "storybot-q", nil))

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	header := http.Header{}
	header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	header.Set("tracestate", "vendor=opaque")
	for k, v := range s.authHeader() {
		header[k] = v
	}
	resp, ext := s.postGQL(header, `query Count { prompts(first: 1) { totalCount } }`, nil, nil)
	if got := resp.Header.Get("X-Trace-Id"); got != traceID || ext != traceID {
		t.Errorf("X-Trace-Id %q, extensions.traceId %q; want the traceparent's %s", got, ext, traceID)
	}
	httpSpan := receiver.waitSpan(t, traceID, "POST (server)", func(s otlpSpan) bool {
		return s.name == "POST" && s.parent == parentID && s.kind == tracepb.Span_SPAN_KIND_SERVER
	})
	if httpSpan.service != "storybot-q" || httpSpan.attrs["http.response.status_code"] != "200" || httpSpan.tracestat != "vendor=opaque" {
		t.Errorf("HTTP span: service %q, attributes %v, tracestate %q", httpSpan.service, httpSpan.attrs, httpSpan.tracestat)
	}
	op := receiver.waitSpan(t, traceID, "query Count", childOf("query Count", httpSpan))
	if op.attrs["graphql.operation.type"] != "query" || op.attrs["graphql.operation.name"] != "Count" {
		t.Errorf("operation span attributes %v", op.attrs)
	}
	field := receiver.waitSpan(t, traceID, "Query.prompts", childOf("Query.prompts", op))
	receiver.waitSpan(t, traceID, "a statement under Query.prompts", func(s otlpSpan) bool {
		return s.parent == field.spanID && s.attrs["db.system.name"] == "sqlite" && strings.Contains(s.attrs["db.query.text"], "SELECT")
	})
	for _, sp := range receiver.snapshot() {
		if sp.traceID == traceID && (sp.name == "Prompt.id" || sp.name == "PromptConnection.totalCount") {
			t.Errorf("a span of the plain field %s", sp.name)
		}
	}
	if want := `"trace.id":"` + traceID + `"`; !strings.Contains(s.out.String(), want) {
		t.Errorf("no log line with %s", want)
	}

	// A mutation with no trace header: a trace of its own.
	var created struct{ CreatePrompt struct{ ID string } }
	resp, ext = s.postGQL(s.authHeader(), `mutation Create { createPrompt(input: {content: "A clock that runs on stories"}) { id } }`, nil, &created)
	mutTrace := resp.Header.Get("X-Trace-Id")
	if len(mutTrace) != 32 || ext != mutTrace || mutTrace == traceID {
		t.Fatalf("mutation: X-Trace-Id %q, extensions.traceId %q", mutTrace, ext)
	}
	root := receiver.waitSpan(t, mutTrace, "the mutation's POST", func(s otlpSpan) bool { return s.name == "POST" && s.parent == "" })
	mut := receiver.waitSpan(t, mutTrace, "mutation Create", childOf("mutation Create", root))
	resolver := receiver.waitSpan(t, mutTrace, "Mutation.createPrompt", childOf("Mutation.createPrompt", mut))
	receiver.waitSpan(t, mutTrace, "an INSERT under Mutation.createPrompt", func(s otlpSpan) bool {
		return s.parent == resolver.spanID && strings.Contains(s.attrs["db.query.text"], "INSERT")
	})
	waitLog(t, s, `"trace.id":"`+mutTrace+`"`, `"span.id":"`)

	// An operation on a websocket: a trace of its own, its span a root
	// linked to the connection's HTTP span.
	c := dial(t, s, "graphql-transport-ws")
	c.WriteJSON(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	ack := readMessage(t, c)
	var conn struct{ TraceID string }
	json.Unmarshal(ack.Payload, &conn)
	c.WriteJSON(wsMessage{ID: "1", Type: "subscribe", Payload: json.RawMessage(`{"query":"query Ws { prompts(first: 1) { totalCount } }"}`)})
	next := readMessage(t, c)
	var p struct {
		Extensions struct{ TraceID string } `json:"extensions"`
	}
	json.Unmarshal(next.Payload, &p)
	if ack.Type != "connection_ack" || next.Type != "next" || len(conn.TraceID) != 32 || len(p.Extensions.TraceID) != 32 || p.Extensions.TraceID == conn.TraceID {
		t.Fatalf("websocket: ack %s %s, then %s %s", ack.Type, ack.Payload, next.Type, next.Payload)
	}
	wsOp := receiver.waitSpan(t, p.Extensions.TraceID, "query Ws", named("query Ws"))
	if wsOp.parent != "" || len(wsOp.links) != 1 || !strings.HasPrefix(wsOp.links[0], conn.TraceID+"/") {
		t.Errorf("the websocket operation's span: parent %q, links %v; want a root linked to the connection's trace %s", wsOp.parent, wsOp.links, conn.TraceID)
	}
	receiver.waitSpan(t, p.Extensions.TraceID, "Query.prompts on the websocket", childOf("Query.prompts", wsOp))
}

// waitLog waits for a log line of s holding every one of parts.
func waitLog(t *testing.T, s *server, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, line := range strings.Split(s.out.String(), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with all of %q", parts)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTraceOfStoryAcrossReplicas generates a story on one replica, sent
// with a traceparent, and follows it on another sharing the Postgres
// database: one trace, from the mutation through the story's run and its
// phases, the model call (GenAI attributes; traceparent and X-Trace-Id sent
// to the model server) and, on the second replica, the following of the
// story, a child of the run's span carried in the broker's notifications.
func TestTraceOfStoryAcrossReplicas(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	receiver := newOTLPReceiver(t)
	model := newTracedModel(t, false)
	llmEnv := map[string]string{"DATABASE_URL": dsn, "LLM_BASE_URL": model.URL + "/v1", "LLM_MODEL": "fake", "LLM_STREAM_USAGE": "true"}
	gen := start(t, tracingEnv(receiver, "storybot-a", llmEnv))
	follower := launch(t, tracingEnv(receiver, "storybot-b", llmEnv)).as(gen.token)

	var p struct{ CreatePrompt struct{ ID string } }
	gen.mustGQL(`mutation($c: String!) { createPrompt(input: {content: $c}) { id } }`, map[string]any{"c": "A keeper of lights"}, &p)
	const traceID, parentID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	header := gen.authHeader()
	header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	var g struct{ GenerateStory storedStory }
	gen.postGQL(header, `mutation Generate($p: ID!) { generateStory(input: {promptID: $p, maxTokens: 60}) { `+storyFields+` } }`,
		map[string]any{"p": p.CreatePrompt.ID}, &g)
	res := streamSSE(t, follower, storyOp(g.GenerateStory.ID), nil)
	if len(res.errors) > 0 || len(res.events) == 0 || res.events[len(res.events)-1].Status != "COMPLETED" {
		t.Fatalf("following on the second replica: %+v", res)
	}

	resolver := receiver.waitSpan(t, traceID, "Mutation.generateStory", named("Mutation.generateStory"))
	run := receiver.waitSpan(t, traceID, "story.run under the resolver", childOf("story.run", resolver))
	if run.service != "storybot-a" || run.attrs["storybot.story.id"] != g.GenerateStory.ID || run.attrs["gen_ai.usage.output_tokens"] != "20" {
		t.Errorf("story.run: service %q, attributes %v", run.service, run.attrs)
	}
	receiver.waitSpan(t, traceID, "story.queued", childOf("story.queued", run))
	generate := receiver.waitSpan(t, traceID, "story.generate", childOf("story.generate", run))
	receiver.waitSpan(t, traceID, "story.final_write", childOf("story.final_write", run))
	chat := receiver.waitSpan(t, traceID, "chat fake", childOf("chat fake", generate))
	for k, want := range map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.system": "openai",
		"gen_ai.request.model": "fake", "gen_ai.request.max_tokens": "60", "gen_ai.response.model": "fake",
		"gen_ai.usage.input_tokens": "40", "gen_ai.usage.output_tokens": "20", "gen_ai.response.finish_reasons": `["stop"]`,
	} {
		if chat.attrs[k] != want {
			t.Errorf("chat span %s = %q, want %q", k, chat.attrs[k], want)
		}
	}
	post := receiver.waitSpan(t, traceID, "the model request's client span", func(s otlpSpan) bool {
		return s.parent == chat.spanID && s.kind == tracepb.Span_SPAN_KIND_CLIENT
	})
	follow := receiver.waitSpan(t, traceID, "story.follow on the second replica", func(s otlpSpan) bool {
		return s.name == "story.follow" && s.service == "storybot-b"
	})
	if follow.parent != run.spanID {
		t.Errorf("story.follow's parent %s, want the run's span %s", follow.parent, run.spanID)
	}

	calls := model.callsSoFar()
	if len(calls) == 0 {
		t.Fatal("the model server got no request")
	}
	if c := calls[0]; c.traceparent != "00-"+traceID+"-"+post.spanID+"-01" || c.traceID != traceID {
		t.Errorf("the model server got traceparent %q, X-Trace-Id %q; want trace %s from span %s", c.traceparent, c.traceID, traceID, post.spanID)
	}
	waitLog(t, gen, `"message":"story finished"`, `"trace.id":"`+traceID+`"`, `"span.id":"`+run.spanID+`"`)
}

// TestTraceOfFailedModelCall: the model server answers 500; the model
// call's span and the run's are errors, in the request's trace.
func TestTraceOfFailedModelCall(t *testing.T) {
	receiver := newOTLPReceiver(t)
	model := newTracedModel(t, true)
	s := start(t, tracingEnv(receiver, "storybot-f", map[string]string{"LLM_BASE_URL": model.URL + "/v1", "LLM_MODEL": "fake"}))
	var p struct{ CreatePrompt struct{ ID string } }
	s.mustGQL(`mutation($c: String!) { createPrompt(input: {content: $c}) { id } }`, map[string]any{"c": "A storm"}, &p)
	var g struct{ GenerateStory storedStory }
	resp, _ := s.postGQL(s.authHeader(), `mutation Generate($p: ID!) { generateStory(input: {promptID: $p, maxTokens: 30}) { `+storyFields+` } }`,
		map[string]any{"p": p.CreatePrompt.ID}, &g)
	traceID := resp.Header.Get("X-Trace-Id")
	s.waitFor(g.GenerateStory.ID, func(st storedStory) bool { return st.Status == "FAILED" })

	run := receiver.waitSpan(t, traceID, "story.run", named("story.run"))
	generate := receiver.waitSpan(t, traceID, "story.generate", childOf("story.generate", run))
	chat := receiver.waitSpan(t, traceID, "chat fake", childOf("chat fake", generate))
	if !chat.statusError || chat.attrs["error.type"] != "provider" || !generate.statusError {
		t.Errorf("chat span: error %v, attributes %v; story.generate error %v", chat.statusError, chat.attrs, generate.statusError)
	}
	receiver.waitSpan(t, traceID, "story.run as an error", func(s otlpSpan) bool { return s.name == "story.run" && s.statusError })
	if calls := model.callsSoFar(); len(calls) == 0 || !strings.Contains(calls[0].traceparent, traceID) {
		t.Errorf("the model server's requests: %+v", calls)
	}
}

// TestTracingOff: without an endpoint no span is exported and no exporter
// goroutine runs, while traceparent is still honoured and passed on to the
// model server, and the trace ID is in X-Trace-Id and the logs. A replica
// with tracing on is the control: its exporter's goroutine is seen.
func TestTracingOff(t *testing.T) {
	receiver := newOTLPReceiver(t)
	model := newTracedModel(t, false)
	exporterGoroutines := func() int {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		return strings.Count(string(buf), "go.opentelemetry.io/otel/sdk/trace.(*batchSpanProcessor)")
	}
	before := exporterGoroutines()
	// OTEL_SERVICE_NAME alone configures nothing to export to.
	s := start(t, map[string]string{"LLM_BASE_URL": model.URL + "/v1", "LLM_MODEL": "fake", "OTEL_SERVICE_NAME": "storybot-off"})
	const traceID, parentID = "5bf92f3577b34da6a3ce929d0e0e4737", "10f067aa0ba902b8"
	header := s.authHeader()
	header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	var p struct{ CreatePrompt struct{ ID string } }
	resp, ext := s.postGQL(header, `mutation($c: String!) { createPrompt(input: {content: $c}) { id } }`, map[string]any{"c": "Lights"}, &p)
	if resp.Header.Get("X-Trace-Id") != traceID || ext != traceID {
		t.Errorf("X-Trace-Id %q, extensions.traceId %q; want %s", resp.Header.Get("X-Trace-Id"), ext, traceID)
	}
	var g struct{ GenerateStory storedStory }
	s.postGQL(header, `mutation($p: ID!) { generateStory(input: {promptID: $p, maxTokens: 30}) { id } }`, map[string]any{"p": p.CreatePrompt.ID}, &g)
	s.waitFor(g.GenerateStory.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
	calls := model.callsSoFar()
	if len(calls) == 0 || calls[0].traceparent != "00-"+traceID+"-"+parentID+"-01" || calls[0].traceID != traceID {
		t.Errorf("the model server's requests: %+v; want the request's traceparent passed on as it came", calls)
	}
	waitLog(t, s, `"message":"story finished"`, `"trace.id":"`+traceID+`"`)
	if n := exporterGoroutines(); n != before {
		t.Errorf("span processor goroutines: %d with tracing off, %d before", n, before)
	}

	on := start(t, tracingEnv(receiver, "storybot-on", nil))
	on.mustGQL(`{ prompts(first: 1) { totalCount } }`, nil, nil)
	if n := exporterGoroutines(); n <= before {
		t.Errorf("span processor goroutines with tracing on: %d, before %d; the count cannot tell", n, before)
	}
	receiver.waitSpan(t, "", "a span of the replica with tracing on", func(s otlpSpan) bool { return s.service == "storybot-on" })
	for _, sp := range receiver.snapshot() {
		if sp.service == "storybot-off" || sp.traceID == traceID {
			t.Errorf("span %s of the replica with tracing off", sp.name)
		}
	}
}

// TestExemplarsInPrometheus: a story's generation is observed with its
// trace ID as the exemplar of the latency histograms, and a real Prometheus
// with exemplar storage on scrapes and stores them.
func TestExemplarsInPrometheus(t *testing.T) {
	prometheusBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("the prometheus binary (Debian's prometheus package): %v", err)
	}
	metricsAddr := freeAddr(t)
	s := start(t, map[string]string{"STORYBOT_METRICS_ADDR": metricsAddr, "STORYTELLER_TOKENS_PER_SECOND": "0"})
	var p struct{ CreatePrompt struct{ ID string } }
	s.mustGQL(`mutation($c: String!) { createPrompt(input: {content: $c}) { id } }`, map[string]any{"c": "Bells"}, &p)
	var g struct{ GenerateStory storedStory }
	resp, _ := s.postGQL(s.authHeader(), `mutation($p: ID!) { generateStory(input: {promptID: $p, maxTokens: 20}) { id } }`, map[string]any{"p": p.CreatePrompt.ID}, &g)
	traceID := resp.Header.Get("X-Trace-Id")
	s.waitFor(g.GenerateStory.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })

	dir := t.TempDir()
	promAddr := freeAddr(t)
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: storybot\n    static_configs:\n      - targets: [%q]\n", metricsAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prometheusBin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--enable-feature=exemplar-storage", "--log.level=warn")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	deadline := time.Now().Add(60 * time.Second)
	for _, metric := range []string{"storybot_model_story_duration_seconds_bucket", "storybot_story_queue_wait_seconds_bucket", "storybot_model_first_token_seconds_bucket"} {
		for {
			found, err := exemplarTraceIDs("http://"+promAddr, metric)
			if err == nil && found[traceID] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no exemplar with trace_id %s on %s in Prometheus: %v %v\n%s", traceID, metric, found, err, logs.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// exemplarTraceIDs returns the trace_id labels of the exemplars Prometheus
// has stored for metric over the last ten minutes.
func exemplarTraceIDs(base, metric string) (map[string]bool, error) {
	now := time.Now()
	q := url.Values{"query": {metric}, "start": {fmt.Sprint(now.Add(-10 * time.Minute).Unix())}, "end": {fmt.Sprint(now.Add(time.Minute).Unix())}}
	resp, err := http.Get(base + "/api/v1/query_exemplars?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   []struct {
			Exemplars []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	found := map[string]bool{}
	for _, series := range r.Data {
		for _, e := range series.Exemplars {
			found[e.Labels["trace_id"]] = true
		}
	}
	return found, nil
}
