package telemetry_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/storybot/storybot/internal/telemetry"
)

const tracedQuery = `query Greeting { hello }`

// TestTraceIDEverywhere checks that the trace ID of a request is the same
// in the X-Trace-Id header, in extensions.traceId and in the operation's log
// line, and that invalid input is replaced, never echoed.
func TestTraceIDEverywhere(t *testing.T) {
	const (
		junk   = "<script>alert(1)</script>"
		parent = "0af7651916cd43dd8448eb211c80319c"
	)
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   string // "" means a new ID
	}{
		{name: "kept", header: map[string]string{"X-Trace-Id": "abc"}, want: "abc"},
		{name: "traceparent", header: map[string]string{"traceparent": "00-" + parent + "-b7ad6b7169203331-01"}, want: parent},
		{name: "generated", header: nil},
		{name: "invalid replaced", header: map[string]string{"X-Trace-Id": junk, "traceparent": junk}},
		{name: "too long replaced", header: map[string]string{"X-Trace-Id": strings.Repeat("j", 65)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.query(t, tracedQuery, tc.header)
			if res.status != http.StatusOK {
				t.Fatalf("status = %d, body %s", res.status, res.body)
			}
			id := res.header.Get("X-Trace-Id")
			if tc.want != "" && id != tc.want {
				t.Errorf("X-Trace-Id = %q, want %q", id, tc.want)
			}
			if tc.want == "" && !newIDPattern.MatchString(id) {
				t.Errorf("X-Trace-Id = %q, want a new ID", id)
			}
			if got := res.resp.Extensions["traceId"]; got != id {
				t.Errorf("extensions.traceId = %v, want %q", got, id)
			}
			lines := opLines(t, e, id)
			if len(lines) != 1 {
				t.Fatalf("got %d operation log lines with trace.id %q, want 1; logs:\n%s", len(lines), id, e.logs.String())
			}
			if diff := cmp.Diff(map[string]string{
				"graphql.operation.type": "query",
				"graphql.operation.name": "Greeting",
				"event.outcome":          "success",
				"log.level":              "info",
			}, pick(lines[0], "graphql.operation.type", "graphql.operation.name", "event.outcome", "log.level")); diff != "" {
				t.Errorf("operation log line (-want +got):\n%s", diff)
			}
			for _, v := range tc.header {
				if len(v) > 20 && (strings.Contains(res.header.Get("X-Trace-Id"), v) || strings.Contains(res.body, v)) {
					t.Errorf("the response echoes the invalid input %q", v)
				}
			}
		})
	}
	if strings.Contains(e.logs.String(), "script") || strings.Contains(e.logs.String(), strings.Repeat("j", 65)) {
		t.Errorf("the logs echo invalid input:\n%s", e.logs.String())
	}
}

// opLines returns the operation log lines with trace.id id.
func opLines(t *testing.T, e *env, id string) []logLine {
	t.Helper()
	var out []logLine
	for _, l := range find(e.logs.lines(t), "graphql operation") {
		if l.str("trace.id") == id {
			out = append(out, l)
		}
	}
	return out
}

func pick(l logLine, keys ...string) map[string]string {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = l.str(k)
	}
	return out
}

// TestTraceIDOnErrorResponses covers the three ways a request can fail: in
// a resolver, before the operation starts (syntax, validation) and before
// GraphQL at all (bad JSON). Each response has the trace ID in extensions
// and a log line with it, and the errors are counted by code.
func TestTraceIDOnErrorResponses(t *testing.T) {
	e := newEnv(t)
	reg := e.metrics.Registry()
	for _, tc := range []struct {
		name     string
		body     string
		status   int
		typ      string
		wantCode string
	}{
		{name: "resolver error", body: `{"query":"query Failing { fail(code: \"NOT_FOUND\") }"}`, status: http.StatusOK, typ: "query", wantCode: "NOT_FOUND"},
		{name: "syntax error", body: `{"query":"query {"}`, status: http.StatusUnprocessableEntity, typ: "unknown", wantCode: "GRAPHQL_PARSE_FAILED"},
		{name: "validation error", body: `{"query":"query { nope }"}`, status: http.StatusUnprocessableEntity, typ: "unknown", wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "bad json", body: `{"query":`, status: http.StatusBadRequest, typ: "unknown", wantCode: "NONE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := value(t, reg, "graphql_errors_total", map[string]string{"code": tc.wantCode})
			res := e.post(t, tc.body, map[string]string{"X-Trace-Id": "err-" + strings.ReplaceAll(tc.name, " ", "-")})
			id := res.header.Get("X-Trace-Id")
			if id != "err-"+strings.ReplaceAll(tc.name, " ", "-") {
				t.Errorf("X-Trace-Id = %q", id)
			}
			if res.status != tc.status {
				t.Errorf("status = %d, want %d; body %s", res.status, tc.status, res.body)
			}
			if len(res.resp.Errors) == 0 {
				t.Fatalf("no errors in %s", res.body)
			}
			if got := res.resp.Extensions["traceId"]; got != id {
				t.Errorf("extensions.traceId = %v, want %q; body %s", got, id, res.body)
			}
			lines := opLines(t, e, id)
			if len(lines) != 1 {
				t.Fatalf("got %d operation log lines, want 1; logs:\n%s", len(lines), e.logs.String())
			}
			if diff := cmp.Diff(map[string]string{
				"graphql.operation.type": tc.typ,
				"event.outcome":          "failure",
				"log.level":              "warn",
			}, pick(lines[0], "graphql.operation.type", "event.outcome", "log.level")); diff != "" {
				t.Errorf("operation log line (-want +got):\n%s", diff)
			}
			if got := lines[0]["storybot.graphql.error_codes"]; !cmp.Equal(got, []any{tc.wantCode}) {
				t.Errorf("storybot.graphql.error_codes = %v, want [%s]", got, tc.wantCode)
			}
			if got := value(t, reg, "graphql_errors_total", map[string]string{"code": tc.wantCode}); got != before+1 {
				t.Errorf("graphql_errors_total{code=%q} = %v, want %v", tc.wantCode, got, before+1)
			}
		})
	}
	if got := value(t, reg, "graphql_operations_total", map[string]string{"type": "unknown", "outcome": "error"}); got != 3 {
		t.Errorf(`graphql_operations_total{type="unknown",outcome="error"} = %v, want 3`, got)
	}
	if got := value(t, reg, "graphql_operations_total", map[string]string{"type": "query", "outcome": "error"}); got != 1 {
		t.Errorf(`graphql_operations_total{type="query",outcome="error"} = %v, want 1`, got)
	}
}

// TestFieldHistogram checks that resolver fields are observed under their
// object and schema field name (not the alias), and plain struct fields are
// not observed at all.
func TestFieldHistogram(t *testing.T) {
	e := newEnv(t)
	res := e.query(t, `{ greeting: hello books(n: 3) { id title author { name } } }`, nil)
	if len(res.resp.Errors) != 0 {
		t.Fatalf("errors: %s", res.body)
	}
	reg := e.metrics.Registry()
	mf := family(t, reg, "graphql_field_duration_seconds")
	if mf == nil {
		t.Fatal("no graphql_field_duration_seconds series")
	}
	got := map[string]uint64{}
	for _, m := range mf.GetMetric() {
		l := labelsOf(m)
		got[l["object"]+"."+l["field"]] = m.GetHistogram().GetSampleCount()
	}
	want := map[string]uint64{"Query.hello": 1, "Query.books": 1, "Book.author": 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("field histogram series, object.field: sample count (-want +got):\n%s", diff)
	}
}

func TestFieldTimingsOff(t *testing.T) {
	e := newEnv(t, telemetry.WithFieldTimings(false))
	res := e.query(t, `{ hello books(n: 2) { author { name } } }`, nil)
	if len(res.resp.Errors) != 0 {
		t.Fatalf("errors: %s", res.body)
	}
	if mf := family(t, e.metrics.Registry(), "graphql_field_duration_seconds"); mf != nil {
		t.Errorf("field timings off, yet %d series", len(mf.GetMetric()))
	}
	if got := value(t, e.metrics.Registry(), "graphql_operations_total", map[string]string{"type": "query", "outcome": "ok"}); got != 1 {
		t.Errorf("operations are still counted with field timings off: got %v, want 1", got)
	}
}

// TestNoClientControlledLabels sends client-chosen names and codes and
// checks that none of them becomes a label value.
func TestNoClientControlledLabels(t *testing.T) {
	e := newEnv(t, telemetry.WithErrorCodes("STORY_NOT_FOUND"))
	e.query(t, `query ClientChosenOperationName { hello }`, nil)
	e.query(t, `mutation ClientChosenMutation { echo(text: "x") }`, nil)
	e.query(t, `{ fail(code: "CLIENT_CHOSEN_CODE") }`, nil)
	e.query(t, `{ fail(code: "STORY_NOT_FOUND") }`, nil)
	req, err := http.NewRequestWithContext(t.Context(), "BREW", e.server.URL+"/graphql?client=chosen-path", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.do(t, req)

	reg := e.metrics.Registry()
	for _, v := range allLabelValues(t, reg) {
		for _, bad := range []string{"ClientChosen", "CLIENT_CHOSEN", "chosen", "BREW", "/graphql"} {
			if strings.Contains(v, bad) {
				t.Errorf("label value from the client: %s", v)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"graphql_errors_total", map[string]string{"code": "OTHER"}, 1},
		{"graphql_errors_total", map[string]string{"code": "STORY_NOT_FOUND"}, 1},
		{"graphql_operations_total", map[string]string{"type": "query", "outcome": "ok"}, 1},
		{"graphql_operations_total", map[string]string{"type": "query", "outcome": "error"}, 2},
		{"graphql_operations_total", map[string]string{"type": "mutation", "outcome": "ok"}, 1},
		{"graphql_operation_duration_seconds", map[string]string{"type": "mutation", "outcome": "ok"}, 1},
		{"http_requests_total", map[string]string{"handler": "graphql", "method": "POST", "status_class": "2xx"}, 4},
		{"http_requests_total", map[string]string{"handler": "graphql", "method": "OTHER", "status_class": "4xx"}, 1},
		{"http_request_duration_seconds", map[string]string{"handler": "graphql", "method": "POST", "status_class": "2xx"}, 4},
	} {
		if got := value(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// The operation name is in the log line, where it belongs.
	if !strings.Contains(e.logs.String(), `"graphql.operation.name":"ClientChosenOperationName"`) {
		t.Errorf("operation name missing from the logs:\n%s", e.logs.String())
	}
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient is a graphql-transport-ws client over gorilla/websocket.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	// header is the upgrade response's header.
	header http.Header
}

func (e *env) dialWebsocket(t *testing.T, header http.Header) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	url := "ws" + strings.TrimPrefix(e.server.URL, "http") + "/graphql"
	conn, res, err := d.DialContext(t.Context(), url, header)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	t.Cleanup(func() { conn.Close() })
	return &wsClient{t: t, conn: conn, header: res.Header}
}

func (c *wsClient) send(m wsMessage) {
	c.t.Helper()
	if err := c.conn.WriteJSON(m); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next message that is not a ping or pong.
func (c *wsClient) read() wsMessage {
	c.t.Helper()
	for {
		if err := c.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			c.t.Fatal(err)
		}
		var m wsMessage
		if err := c.conn.ReadJSON(&m); err != nil {
			c.t.Fatal(err)
		}
		if m.Type != "ping" && m.Type != "pong" {
			return m
		}
	}
}

func (c *wsClient) init(payload string) wsMessage {
	c.t.Helper()
	c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(payload)})
	ack := c.read()
	if ack.Type != "connection_ack" {
		c.t.Fatalf("got %+v, want connection_ack", ack)
	}
	return ack
}

func (c *wsClient) subscribe(id, query string) {
	c.t.Helper()
	b, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(wsMessage{ID: id, Type: "subscribe", Payload: b})
}

// nextTraceID reads a next message for id and returns its
// extensions.traceId.
func (c *wsClient) nextTraceID(id string) string {
	c.t.Helper()
	m := c.read()
	if m.Type != "next" || m.ID != id {
		c.t.Fatalf("got %+v, want next for %s", m, id)
	}
	var r gqlResponse
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		c.t.Fatal(err)
	}
	if len(r.Errors) != 0 {
		c.t.Fatalf("errors: %s", m.Payload)
	}
	s, _ := r.Extensions["traceId"].(string)
	return s
}

// TestSubscriptionClientDisconnects drops the TCP connection in the middle
// of a subscription and checks that both gauges go back to zero and the
// subscription is logged with its own trace ID and the connection's.
func TestSubscriptionClientDisconnects(t *testing.T) {
	e := newEnv(t)
	reg := e.metrics.Registry()
	c := e.dialWebsocket(t, http.Header{"X-Trace-Id": {"upgrade-id"}})
	if got := c.header.Get("X-Trace-Id"); got != "upgrade-id" {
		t.Errorf("upgrade response X-Trace-Id = %q, want upgrade-id", got)
	}
	ack := c.init(`{"traceId":"conn-from-init"}`)
	if got := string(ack.Payload); got != `{"traceId":"conn-from-init"}` {
		t.Errorf("connection_ack payload = %s", got)
	}
	if got := value(t, reg, "graphql_websocket_connections", nil); got != 1 {
		t.Errorf("graphql_websocket_connections = %v, want 1", got)
	}

	c.subscribe("1", `subscription Ticking { ticks(n: 100000, intervalMs: 2) }`)
	first := c.nextTraceID("1")
	if !newIDPattern.MatchString(first) {
		t.Errorf("subscription traceId = %q, want an ID of its own", first)
	}
	if second := c.nextTraceID("1"); second != first {
		t.Errorf("events of one subscription have trace IDs %q and %q", first, second)
	}
	if got := value(t, reg, "graphql_active_subscriptions", nil); got != 1 {
		t.Errorf("graphql_active_subscriptions = %v, want 1", got)
	}

	// Drop the connection without a close frame.
	if err := c.conn.NetConn().Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the gauges to drop to 0", func() bool {
		return value(t, reg, "graphql_active_subscriptions", nil) == 0 &&
			value(t, reg, "graphql_websocket_connections", nil) == 0
	})
	eventually(t, "the upgrade request to be counted", func() bool {
		return value(t, reg, "http_requests_total", map[string]string{"handler": "graphql", "method": "GET", "status_class": "1xx"}) == 1
	})
	if got := value(t, reg, "graphql_operations_total", map[string]string{"type": "subscription", "outcome": "ok"}); got != 1 {
		t.Errorf(`graphql_operations_total{type="subscription",outcome="ok"} = %v, want 1`, got)
	}

	var lines []logLine
	eventually(t, "the subscription's log line", func() bool {
		lines = opLines(t, e, first)
		return len(lines) == 1
	})
	l := lines[0]
	if diff := cmp.Diff(map[string]string{
		"graphql.operation.type":       "subscription",
		"graphql.operation.name":       "Ticking",
		"storybot.connection.trace_id": "conn-from-init",
	}, pick(l, "graphql.operation.type", "graphql.operation.name", "storybot.connection.trace_id")); diff != "" {
		t.Errorf("subscription log line (-want +got):\n%s", diff)
	}
	if l["storybot.graphql.subscription.cancelled"] != true {
		t.Errorf("storybot.graphql.subscription.cancelled = %v, want true", l["storybot.graphql.subscription.cancelled"])
	}
	eventually(t, "the connection's log lines", func() bool {
		var started, ended int
		for _, l := range e.logs.lines(t) {
			if l.str("trace.id") != "conn-from-init" {
				continue
			}
			switch l.str("message") {
			case "websocket connection started":
				started++
			case "websocket connection ended":
				ended++
			}
		}
		return started == 1 && ended == 1
	})
}

// TestSubscriptionsOnOneConnection runs two subscriptions to completion on
// one connection: each gets its own trace ID, the connection is named by the
// upgrade request's ID, and the gauges follow.
func TestSubscriptionsOnOneConnection(t *testing.T) {
	e := newEnv(t)
	reg := e.metrics.Registry()
	c := e.dialWebsocket(t, http.Header{"X-Trace-Id": {"upgrade-id"}})
	c.init(`{"traceId":"not valid!"}`)

	var ids []string
	for _, sub := range []string{"a", "b"} {
		c.subscribe(sub, `subscription { ticks(n: 2, intervalMs: 1) }`)
		id := c.nextTraceID(sub)
		if got := c.nextTraceID(sub); got != id {
			t.Errorf("subscription %s: trace IDs %q then %q", sub, id, got)
		}
		if m := c.read(); m.Type != "complete" || m.ID != sub {
			t.Fatalf("got %+v, want complete for %s", m, sub)
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] || ids[0] == "upgrade-id" {
		t.Errorf("subscription trace IDs %q, want two new ones", ids)
	}
	eventually(t, "graphql_active_subscriptions to drop to 0", func() bool {
		return value(t, reg, "graphql_active_subscriptions", nil) == 0
	})
	if got := value(t, reg, "graphql_websocket_connections", nil); got != 1 {
		t.Errorf("graphql_websocket_connections = %v, want 1", got)
	}
	for _, id := range ids {
		var lines []logLine
		eventually(t, "the subscription's log line", func() bool {
			lines = opLines(t, e, id)
			return len(lines) == 1
		})
		if got := lines[0].str("storybot.connection.trace_id"); got != "upgrade-id" {
			t.Errorf("storybot.connection.trace_id = %q, want upgrade-id (the invalid init traceId is ignored)", got)
		}
		if got := lines[0]["storybot.graphql.subscription.events"]; got != 2.0 {
			t.Errorf("storybot.graphql.subscription.events = %v, want 2", got)
		}
		if strings.Contains(e.logs.String(), "not valid!") {
			t.Error("the invalid init traceId is in the logs")
		}
	}

	// A query on the websocket gets its own trace ID too.
	c.subscribe("q", `{ hello }`)
	if id := c.nextTraceID("q"); !newIDPattern.MatchString(id) || id == ids[0] || id == ids[1] {
		t.Errorf("query over websocket trace ID = %q", id)
	}

	if err := c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "graphql_websocket_connections to drop to 0", func() bool {
		return value(t, reg, "graphql_websocket_connections", nil) == 0
	})
}

// TestWebsocketOperationError sends an invalid operation over a websocket:
// gqlgen answers with its own response (without extensions), and the error
// is still counted and logged under the connection's trace ID.
func TestWebsocketOperationError(t *testing.T) {
	e := newEnv(t)
	reg := e.metrics.Registry()
	c := e.dialWebsocket(t, nil)
	c.init(`{"traceId":"ws-errors"}`)
	c.subscribe("bad", `subscription { nope }`)
	m := c.read()
	if m.Type != "next" && m.Type != "error" {
		t.Fatalf("got %+v, want the validation error", m)
	}
	if !strings.Contains(string(m.Payload), "nope") {
		t.Errorf("payload %s does not mention the bad field", m.Payload)
	}
	if m := c.read(); m.Type != "complete" {
		t.Fatalf("got %+v, want complete", m)
	}
	if got := value(t, reg, "graphql_errors_total", map[string]string{"code": "GRAPHQL_VALIDATION_FAILED"}); got != 1 {
		t.Errorf(`graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"} = %v, want 1`, got)
	}
	if got := value(t, reg, "graphql_active_subscriptions", nil); got != 0 {
		t.Errorf("graphql_active_subscriptions = %v, want 0", got)
	}
	if lines := opLines(t, e, "ws-errors"); len(lines) != 1 || lines[0].str("event.outcome") != "failure" {
		t.Errorf("operation log lines under the connection's trace ID: %v", lines)
	}

	// A missing variable fails once the operation, a subscription, is
	// known: it never ran, so the gauge must not move.
	c.subscribe("vars", `subscription Ticks($n: Int!) { ticks(n: $n, intervalMs: 1) }`)
	if m := c.read(); m.ID != "vars" || !strings.Contains(string(m.Payload), "n") {
		t.Fatalf("got %+v, want the variable error", m)
	}
	if got := value(t, reg, "graphql_active_subscriptions", nil); got != 0 {
		t.Errorf("graphql_active_subscriptions = %v after a failed subscribe, want 0", got)
	}
	if got := value(t, reg, "graphql_operations_total", map[string]string{"type": "subscription", "outcome": "error"}); got != 1 {
		t.Errorf(`graphql_operations_total{type="subscription",outcome="error"} = %v, want 1`, got)
	}
}
