//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gws "github.com/gorilla/websocket"
)

// streamQuery is the subscription every bench subscriber runs.
const streamQuery = `subscription($id: ID!) { storyStream(storyID: $id) { seq delta status tokenCount error } }`

// subscriber is one graphql-transport-ws client following one story. It is
// built to be cheap, since the harness runs ten thousand of them beside
// the server on the same cores: one goroutine, a small read buffer, message
// buffers from a shared pool, and a hand-written scan of the few fields it
// needs instead of decoding every message.
type subscriber struct {
	index   int
	storyID string

	// Filled in by run.
	events    int    // "next" messages
	lastSeq   int    // seq of the last event
	seqBroken bool   // an event's seq was not the last one plus one
	textHash  uint64 // FNV-1a of the concatenated deltas
	textLen   int
	tokens    int    // bench tokens seen in the deltas
	status    string // status of the last event
	errMsg    string // error of the last event (FAILED stories)
	completed bool   // the server sent "complete" after a final status
	err       error
	samples   []tokenSample // every token's delivery, for the skew
}

// tokenSample is one token as one subscriber received it.
type tokenSample struct {
	emitted int64 // unix nanoseconds: names the token
	latency time.Duration
}

// subscriberEnv is what every subscriber of a scenario shares.
type subscriberEnv struct {
	url         string // ws://127.0.0.1:port/graphql
	init        []byte // the connection_init message (connectionInit)
	dialSem     chan struct{}
	latency     *sharedHistogram
	lag         *sharedHistogram // received minus due, per token
	subscribe   sync.WaitGroup   // Done when a subscriber got its first event or failed
	firstEvents atomic.Int64     // subscribers that got their first event
	conns       sync.Map         // index -> *gws.Conn, for closing them all
}

var (
	messagePool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}
	writePool   = &sync.Pool{}
)

// run connects, subscribes and reads the stream to its end (or ctx's).
func (s *subscriber) run(ctx context.Context, env *subscriberEnv) {
	subscribed := false
	markSubscribed := func() {
		if !subscribed {
			subscribed = true
			env.subscribe.Done()
		}
	}
	defer markSubscribed()
	if err := s.follow(ctx, env, markSubscribed); err != nil && s.err == nil {
		s.err = err
	}
}

func (s *subscriber) follow(ctx context.Context, env *subscriberEnv, subscribed func()) error {
	select {
	case env.dialSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	dialer := gws.Dialer{
		NetDialContext:   (&net.Dialer{LocalAddr: loopbackSource(s.index), Timeout: 10 * time.Second}).DialContext,
		Subprotocols:     []string{"graphql-transport-ws"},
		HandshakeTimeout: 30 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  512,
		WriteBufferPool:  writePool,
	}
	c, _, err := dialer.DialContext(ctx, env.url, nil)
	if err != nil {
		<-env.dialSem
		return fmt.Errorf("dial: %w", err)
	}
	env.conns.Store(s.index, c)
	defer func() {
		env.conns.Delete(s.index)
		c.Close()
	}()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	err = s.handshake(c, env.init)
	<-env.dialSem
	if err != nil {
		return err
	}
	payload, _ := json.Marshal(map[string]any{"query": streamQuery, "variables": map[string]any{"id": s.storyID}})
	if err := c.WriteMessage(gws.TextMessage, fmt.Appendf(nil, `{"id":"1","type":"subscribe","payload":%s}`, payload)); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	h := fnv.New64a()
	announced := false
	for {
		bp := messagePool.Get().(*[]byte)
		msg, err := readMessage(c, (*bp)[:0])
		received := time.Now()
		if err != nil {
			*bp = msg[:0]
			messagePool.Put(bp)
			return fmt.Errorf("after %d events: %w", s.events, err)
		}
		done, err := s.handle(c, msg, received, h, env)
		*bp = msg[:0]
		messagePool.Put(bp)
		if !announced && (s.events > 0 || err != nil) {
			announced = true
			if s.events > 0 {
				env.firstEvents.Add(1)
			}
			subscribed()
		}
		if err != nil || done {
			s.textHash = h.Sum64()
			return err
		}
	}
}

// connectionInit is the connection_init message of a subscriber: the API
// token in its payload, as browsers' graphql-ws clients send it (they
// cannot set headers on the handshake). The hub ignores it.
func connectionInit(token string) []byte {
	payload := map[string]string{}
	if token != "" {
		payload["authorization"] = "Bearer " + token
	}
	msg, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": payload})
	return msg
}

// handshake sends the connection_init message init and waits for
// connection_ack.
func (s *subscriber) handshake(c *gws.Conn, init []byte) error {
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if err := c.WriteMessage(gws.TextMessage, init); err != nil {
		return fmt.Errorf("connection_init: %w", err)
	}
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("waiting for connection_ack: %w", err)
		}
		switch typ := messageType(msg); typ {
		case "connection_ack":
			return nil
		case "ping":
			if err := c.WriteMessage(gws.TextMessage, []byte(`{"type":"pong"}`)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("got %q before connection_ack: %.200s", typ, msg)
		}
	}
}

// readMessage reads one whole message into buf.
func readMessage(c *gws.Conn, buf []byte) ([]byte, error) {
	// The server pings every few seconds: a minute of silence is a stall.
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	_, r, err := c.NextReader()
	if err != nil {
		return buf, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// handle takes one message; it reports whether the subscription is over.
func (s *subscriber) handle(c *gws.Conn, msg []byte, received time.Time, h interface{ Write([]byte) (int, error) }, env *subscriberEnv) (bool, error) {
	switch typ := messageType(msg); typ {
	case "next":
		ev, err := parseNext(msg)
		if err != nil {
			return true, err
		}
		s.events++
		if ev.seq != s.lastSeq+1 {
			s.seqBroken = true
		}
		s.lastSeq = ev.seq
		s.status = ev.status
		if ev.status == "FAILED" {
			if full, err := decodeNext(msg); err == nil {
				s.errMsg = full.errMsg
			}
		}
		h.Write(ev.delta)
		s.textLen += len(ev.delta)
		s.tokens += tokenTimes(ev.delta, received, func(emitted int64, latency, lag time.Duration) {
			env.latency.record(s.index, latency)
			env.lag.record(s.index, lag)
			s.samples = append(s.samples, tokenSample{emitted, latency})
		})
		return false, nil
	case "ping":
		return false, c.WriteMessage(gws.TextMessage, []byte(`{"type":"pong"}`))
	case "pong":
		return false, nil
	case "complete":
		s.completed = true
		return true, nil
	case "error":
		return true, fmt.Errorf("subscription error: %.300s", msg)
	default:
		return true, fmt.Errorf("unexpected message %q: %.300s", typ, msg)
	}
}

// streamEvent is the part of a "next" message the harness checks.
type streamEvent struct {
	seq    int
	delta  []byte // unescaped
	status string
	errMsg string // only from decodeNext
}

// messageType returns a graphql-transport-ws message's type. gqlgen writes
// "type" last, so the scan starts from the end.
func messageType(msg []byte) string {
	i := bytes.LastIndex(msg, []byte(`"type":"`))
	if i < 0 {
		return ""
	}
	rest := msg[i+len(`"type":"`):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

var errNoData = errors.New("next message without data")

// parseNext reads seq, delta and status from a "next" message such as
// {"payload":{"data":{"storyStream":{"seq":1,"delta":"...","status":"GENERATING","tokenCount":0}}},"id":"1","type":"next"}.
// A message it cannot scan is decoded in full.
func parseNext(msg []byte) (streamEvent, error) {
	var ev streamEvent
	if bytes.Contains(msg, []byte(`"errors":`)) {
		return ev, fmt.Errorf("event with errors: %.300s", msg)
	}
	seqAt := bytes.Index(msg, []byte(`"seq":`))
	deltaAt := bytes.Index(msg, []byte(`"delta":"`))
	if seqAt < 0 || deltaAt < 0 {
		return decodeNext(msg)
	}
	rest := msg[seqAt+len(`"seq":`):]
	end := bytes.IndexAny(rest, ",}")
	seq, err := strconv.Atoi(string(bytes.TrimSpace(rest[:max(end, 0)])))
	if err != nil {
		return decodeNext(msg)
	}
	ev.seq = seq
	rest = msg[deltaAt+len(`"delta":`):]
	str, after, escaped := scanString(rest)
	if str == nil {
		return decodeNext(msg)
	}
	ev.delta = str[1 : len(str)-1]
	if escaped {
		var s string
		if err := json.Unmarshal(str, &s); err != nil {
			return ev, fmt.Errorf("delta: %w", err)
		}
		ev.delta = []byte(s)
	}
	statusAt := bytes.Index(after, []byte(`"status":"`))
	if statusAt < 0 {
		return decodeNext(msg)
	}
	rest = after[statusAt+len(`"status":"`):]
	end = bytes.IndexByte(rest, '"')
	if end < 0 {
		return decodeNext(msg)
	}
	ev.status = string(rest[:end])
	return ev, nil
}

// scanString returns the JSON string at the start of b (quotes included),
// what follows it, and whether it holds escapes; nil when b does not start
// with a whole string.
func scanString(b []byte) (str, rest []byte, escaped bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, b, false
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return b[:i+1], b[i+1:], escaped
		}
	}
	return nil, b, false
}

// decodeNext decodes a "next" message with encoding/json.
func decodeNext(msg []byte) (streamEvent, error) {
	var m struct {
		Payload struct {
			Data *struct {
				StoryStream *struct {
					Seq    int     `json:"seq"`
					Delta  string  `json:"delta"`
					Status string  `json:"status"`
					Error  *string `json:"error"`
				} `json:"storyStream"`
			} `json:"data"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return streamEvent{}, fmt.Errorf("decoding %.200s: %w", msg, err)
	}
	if m.Payload.Data == nil || m.Payload.Data.StoryStream == nil {
		return streamEvent{}, fmt.Errorf("%w: %.300s", errNoData, msg)
	}
	e := m.Payload.Data.StoryStream
	ev := streamEvent{seq: e.Seq, delta: []byte(e.Delta), status: e.Status}
	if e.Error != nil {
		ev.errMsg = *e.Error
	}
	return ev, nil
}

// tokenLatencies finds the bench tokens (" t<unix nanoseconds>", then
// optionally "d<unix nanoseconds>", when it was due) in text, calls record
// with received minus each one's emit time, and returns how many there
// were.
func tokenLatencies(text []byte, received time.Time, record func(time.Duration)) int {
	return tokenTimes(text, received, func(_ int64, latency, _ time.Duration) { record(latency) })
}

// tokenTimes finds the bench tokens in text as tokenLatencies does and
// calls record with each one's emit time (which names it), its delivery
// latency (received minus emitted) and its schedule lag (received minus
// due; the latency when the token has no due time).
func tokenTimes(text []byte, received time.Time, record func(emitted int64, latency, lag time.Duration)) int {
	n := 0
	now := received.UnixNano()
	for i := 0; i+1 < len(text); i++ {
		if text[i] != 't' || (i > 0 && text[i-1] != ' ') {
			continue
		}
		v, j := digits(text, i+1)
		if j-i-1 < 18 { // not a nanosecond timestamp
			continue
		}
		due := v
		if j < len(text) && text[j] == 'd' {
			if d, k := digits(text, j+1); k-j-1 >= 18 {
				due, j = d, k
			}
		}
		record(v, time.Duration(now-v), time.Duration(now-due))
		n++
		i = j - 1
	}
	return n
}

// digits reads the decimal number at text[i:] and returns it and the
// offset after it.
func digits(text []byte, i int) (int64, int) {
	var v int64
	for i < len(text) && text[i] >= '0' && text[i] <= '9' {
		v = v*10 + int64(text[i]-'0')
		i++
	}
	return v, i
}

// closeAll closes every connection still open.
func (env *subscriberEnv) closeAll() {
	env.conns.Range(func(_, v any) bool {
		v.(*gws.Conn).Close()
		return true
	})
}
