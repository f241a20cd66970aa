package subscription

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	gws "github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/storybot/storybot/internal/websocket"
)

// conn is one websocket. Its reader goroutine lives as long as it does;
// a writer goroutine runs only while frames are queued.
type conn struct {
	t      *Websocket
	ws     *gws.Conn
	exec   graphql.GraphExecutor
	client string
	legacy bool
	frames framing

	// ctx is the connection's: the upgrade request's values, then the
	// init function's; cancel ends it when the connection closes.
	ctx    context.Context
	cancel context.CancelFunc

	out       outbox
	keepAlive *time.Timer
	writing   atomic.Int64 // when the writer began its current batch (unix ns), 0 between batches

	mu          sync.Mutex
	initialised bool
	ops         map[string]*operation
	writer      bool // a writer goroutine runs
	closeCode   int  // close after the queued frames, with this code (0: not asked)
	closeReason string
	closed      bool
}

var _ sink = (*conn)(nil)

func newConn(t *Websocket, ws *gws.Conn, exec graphql.GraphExecutor, r *http.Request, client string) *conn {
	// The request's context ends when the handler returns, right after the
	// upgrade; the connection keeps its values.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c := &conn{
		t: t, ws: ws, exec: exec, client: client,
		legacy: ws.Subprotocol() == ProtocolLegacyWS,
		cancel: cancel,
		ops:    map[string]*operation{},
	}
	c.ctx = websocket.WithConn(ctx, c)
	c.frames = transportWSFraming
	if c.legacy {
		c.frames = legacyWSFraming
	}
	return c
}

func (c *conn) framing() framing { return c.frames }

// read reads and handles the peer's messages until the connection ends.
func (c *conn) read() {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.t.InitTimeout))
	c.ws.SetPongHandler(func(string) error { c.alive(); return nil })
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			c.readFailed(err)
			return
		}
		data, err := io.ReadAll(r)
		if err != nil {
			c.readFailed(err)
			return
		}
		c.alive()
		if !c.handle(data) {
			return
		}
	}
}

// alive pushes back the read deadline: the peer has sent something.
func (c *conn) alive() {
	c.mu.Lock()
	initialised := c.initialised
	c.mu.Unlock()
	if initialised {
		_ = c.ws.SetReadDeadline(time.Now().Add(3 * c.t.KeepAlive))
	}
}

// readFailed closes the connection after a failed read.
func (c *conn) readFailed(err error) {
	c.mu.Lock()
	initialised := c.initialised
	c.mu.Unlock()
	var ne net.Error
	switch {
	case gws.IsCloseError(err, gws.CloseNormalClosure, gws.CloseGoingAway, gws.CloseNoStatusReceived):
		c.close(CloseNormal, "")
	case errors.As(err, &ne) && ne.Timeout() && !initialised:
		c.close(CloseInitTimeout, "Connection initialisation timeout")
	case errors.Is(err, gws.ErrReadLimit):
		c.close(gws.CloseMessageTooBig, "message too big") // gorilla has sent the close frame
	default:
		c.close(0, "") // a dead peer, a broken connection: nothing to tell
	}
}

// incoming is a client's message, of either protocol.
type incoming struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// handle handles one message; it reports false when the connection is
// closed.
func (c *conn) handle(data []byte) bool {
	var m incoming
	if err := json.Unmarshal(data, &m); err != nil {
		return c.refuse(CloseBadMessage, "Invalid message received")
	}
	c.mu.Lock()
	initialised := c.initialised
	c.mu.Unlock()
	switch m.Type {
	case "connection_init":
		if initialised {
			return c.refuse(CloseTooManyInitialise, "Too many initialisation requests")
		}
		return c.initialise(m.Payload)
	case "connection_terminate":
		if c.legacy {
			c.close(CloseNormal, "terminated")
			return false
		}
	case "ping":
		if !c.legacy {
			return c.send(message("pong", m.Payload))
		}
	case "pong":
		if !c.legacy {
			return true
		}
	case "subscribe", "start":
		if (m.Type == "start") != c.legacy {
			break
		}
		if !initialised {
			return c.refuse(CloseUnauthorized, "Unauthorized")
		}
		if m.ID == "" {
			return c.refuse(CloseBadMessage, "Invalid message received: no id")
		}
		return c.subscribe(m.ID, m.Payload)
	case "complete", "stop":
		if (m.Type == "stop") != c.legacy {
			break
		}
		c.mu.Lock()
		op := c.ops[m.ID]
		c.mu.Unlock()
		if op != nil && op.stop() {
			// As gqlgen's transport does, on both subprotocols: clients
			// ignore it, tests and tools wait for it.
			c.send(c.frames.complete(m.ID))
		}
		return true
	}
	return c.refuse(CloseBadMessage, fmt.Sprintf("Invalid message received: unexpected %.32q", m.Type))
}

// refuse closes the connection for a protocol violation; it returns false.
// The legacy protocol has no codes of its own: its peers are told why in a
// connection_error first.
func (c *conn) refuse(code int, reason string) bool {
	if c.legacy {
		payload, _ := json.Marshal(&gqlerror.Error{Message: reason})
		c.send(message("connection_error", payload))
	}
	c.closeAfterFlush(code, reason)
	return false
}

// initialise handles connection_init.
func (c *conn) initialise(payload json.RawMessage) bool {
	var init transport.InitPayload
	if len(payload) > 0 && !bytes.Equal(payload, []byte("null")) {
		if err := json.Unmarshal(payload, &init); err != nil {
			return c.refuse(CloseBadMessage, "Invalid message received: connection_init payload")
		}
	}
	ctx := c.ctx
	var ack *transport.InitPayload
	if c.t.InitFunc != nil {
		var err error
		ctx, ack, err = c.t.InitFunc(ctx, init)
		if err != nil {
			code, reason := CloseForbidden, "Forbidden"
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				code, reason = ce.Code, ce.Reason
			}
			return c.refuse(code, reason)
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.ctx = ctx
	c.initialised = true
	c.mu.Unlock()
	var ackPayload []byte
	if ack != nil {
		ackPayload, _ = json.Marshal(*ack)
	}
	c.send(message("connection_ack", ackPayload))
	if c.legacy {
		c.send(message("ka", nil))
	}
	c.alive()
	c.mu.Lock()
	if !c.closed {
		c.keepAlive = time.AfterFunc(c.t.KeepAlive, c.ping)
	}
	c.mu.Unlock()
	return true
}

// ping keeps the connection alive: graphql-transport-ws peers get a
// "ping" message, which they answer with "pong"; legacy graphql-ws peers,
// whose "ka" messages go one way, a websocket ping, which every client
// answers. Either answer pushes back the read deadline.
func (c *conn) ping() {
	c.mu.Lock()
	closed := c.closed || c.closeCode != 0
	timer := c.keepAlive
	c.mu.Unlock()
	if closed {
		return
	}
	if c.legacy {
		if err := c.ws.WriteControl(gws.PingMessage, nil, time.Now().Add(c.t.WriteTimeout)); err != nil {
			c.close(0, "")
			return
		}
		c.send(message("ka", nil))
	} else {
		c.send(message("ping", nil))
	}
	timer.Reset(c.t.KeepAlive)
}

// subscribe starts an operation.
func (c *conn) subscribe(id string, payload json.RawMessage) bool {
	c.mu.Lock()
	if _, dup := c.ops[id]; dup {
		c.mu.Unlock()
		return c.refuse(CloseSubscriberExists, fmt.Sprintf("Subscriber for %.64s already exists", id))
	}
	if len(c.ops) >= c.t.MaxSubscriptions {
		c.mu.Unlock()
		err := gqlerror.Errorf("too many subscriptions on one connection (at most %d)", c.t.MaxSubscriptions)
		errcode.Set(err, "RATE_LIMITED")
		op := newOperation(c.ctx, id, c)
		op.fail(&graphql.Response{Errors: gqlerror.List{err}})
		return true
	}
	op := newOperation(graphql.StartOperationTrace(c.ctx), id, c)
	c.ops[id] = op
	ctx := c.ctx
	c.mu.Unlock()
	// The operation starts on a goroutine of its own, which ends once it
	// is running (a cohort's member) or done: the reader's stack stays
	// small, as an idle connection keeps it.
	go c.start(ctx, op, payload)
	return true
}

// start parses, validates and starts op.
func (c *conn) start(connCtx context.Context, op *operation, payload json.RawMessage) {
	id := op.id
	params := &graphql.RawParams{}
	if err := decodeParams(payload, params); err != nil || params.Query == "" && params.Extensions == nil {
		op.fail(&graphql.Response{Errors: gqlerror.List{{Message: "invalid json: a subscribe payload is {query, variables, operationName, extensions}"}}})
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	opCtx, errs := c.exec.CreateOperationContext(op.ctx, params)
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(op.ctx, opCtx), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			op.fail(resp)
		} else {
			payload, _ := json.Marshal(resp)
			c.send(append(append(c.frames.nextHead(id), payload...), c.frames.end()...))
			op.complete()
		}
		return
	}
	runOperation(c.exec, c.t.cohorts, op, opCtx, params, connCtx)
}

// finished implements sink.
func (c *conn) finished(op *operation) {
	c.mu.Lock()
	if c.ops[op.id] == op {
		delete(c.ops, op.id)
	}
	c.mu.Unlock()
}

// send queues a protocol message; it reports false when the connection is
// closed.
func (c *conn) send(msg []byte) bool {
	return c.queue(frame{parts: [5][]byte{msg}})
}

// queue implements sink: it queues f and starts the writer if it is idle.
func (c *conn) queue(f frame) bool {
	c.mu.Lock()
	if c.closed || c.closeCode != 0 {
		c.mu.Unlock()
		return false
	}
	if !c.out.push(f) {
		c.mu.Unlock()
		c.close(0, "") // a peer that does not read
		return false
	}
	start := !c.writer
	c.writer = true
	c.mu.Unlock()
	if start {
		go c.write()
	}
	return true
}

// closeAfterFlush closes the connection with code once what is queued is
// written.
func (c *conn) closeAfterFlush(code int, reason string) {
	c.mu.Lock()
	if c.closed || c.closeCode != 0 {
		c.mu.Unlock()
		return
	}
	c.closeCode, c.closeReason = code, reason
	start := !c.writer
	c.writer = true
	c.mu.Unlock()
	if start {
		go c.write()
	}
}

// write writes the queued frames until none is left, then ends (closing
// the connection if that was asked).
func (c *conn) write() {
	var batch []frame
	for {
		batch = c.out.take(batch)
		if len(batch) == 0 {
			c.mu.Lock()
			if c.out.empty() {
				c.writer = false
				code, reason := c.closeCode, c.closeReason
				c.mu.Unlock()
				if code != 0 {
					c.close(code, reason)
				}
				return
			}
			c.mu.Unlock()
			continue
		}
		// The transport's watchdog closes the connection if the batch
		// takes longer than the write timeout (a deadline on the socket
		// would cost a timer update per frame, as gorilla sets it on each).
		c.writing.Store(time.Now().UnixNano())
		for i := range batch {
			if err := c.writeFrame(&batch[i]); err != nil {
				c.close(0, "")
				for j := i; j < len(batch); j++ {
					if batch[j].op != nil {
						batch[j].op.written()
					}
				}
				c.mu.Lock()
				c.writer = false
				c.mu.Unlock()
				return
			}
			if batch[i].op != nil {
				batch[i].op.written()
			}
		}
		c.writing.Store(0)
		clear(batch)
	}
}

// writeFrame writes one frame.
func (c *conn) writeFrame(f *frame) error {
	w, err := c.ws.NextWriter(gws.TextMessage)
	if err != nil {
		return err
	}
	for _, p := range f.parts {
		if len(p) > 0 {
			if _, err := w.Write(p); err != nil {
				return err
			}
		}
	}
	return w.Close()
}

// CloseWith implements websocket.Conn.
func (c *conn) CloseWith(code int, reason string) { c.close(code, reason) }

// close ends the connection, once: it stops its operations, sends a close
// frame with code (none when 0) and closes the socket.
func (c *conn) close(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	initialised := c.initialised
	ctx := c.ctx
	timer := c.keepAlive
	ops := make([]*operation, 0, len(c.ops))
	for _, op := range c.ops {
		ops = append(ops, op)
	}
	c.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	for _, op := range ops {
		op.stop()
	}
	if code != 0 && code != gws.CloseMessageTooBig {
		if len(reason) > 123 { // a close frame's reason is at most 123 bytes
			reason = reason[:123]
		}
		_ = c.ws.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(code, reason), time.Now().Add(c.t.WriteTimeout))
	}
	_ = c.ws.Close()
	c.t.removed(c)
	if initialised && c.t.CloseFunc != nil {
		c.t.CloseFunc(ctx, code)
	}
	c.cancel()
}
