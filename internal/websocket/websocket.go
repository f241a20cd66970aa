// Package websocket adapts github.com/gorilla/websocket to gqlgen's websocket
// transport (transport.WebsocketImplementation), with what a server facing
// the internet needs: an origin check, a read limit, a deadline on every
// write, detection of dead peers for both GraphQL subprotocols, and a
// registry of open connections so shutdown can close them with a reason.
package websocket

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	gws "github.com/gorilla/websocket"
)

// Defaults of Upgrader's settings.
const (
	DefaultWriteTimeout = 5 * time.Second
	// DefaultPingInterval is how often a legacy graphql-ws peer is pinged
	// with websocket ping frames; one that has not answered for three
	// intervals is dropped.
	DefaultPingInterval = 6 * time.Second
)

// legacySubprotocol is subscriptions-transport-ws's "graphql-ws", whose
// keep-alive messages go one way only, so the adapter pings at the websocket
// level to find dead peers. graphql-transport-ws has its own ping/pong, which
// gqlgen drives (PingPongInterval).
const legacySubprotocol = "graphql-ws"

// traceIDHeader is the response header that carries a request's trace ID.
const traceIDHeader = "X-Trace-Id"

// Upgrader accepts websocket connections for gqlgen's transport.
type Upgrader struct {
	// CheckOrigin reports whether a request's Origin may open a websocket.
	// nil allows only requests without Origin or from the same host.
	CheckOrigin func(r *http.Request) bool
	// WriteTimeout bounds every write (DefaultWriteTimeout when zero).
	WriteTimeout time.Duration
	// PingInterval for legacy graphql-ws peers (DefaultPingInterval when zero).
	PingInterval time.Duration
	// ReadBufferSize and WriteBufferSize size the I/O buffers (gorilla's
	// defaults when zero). Write buffers come from a shared pool, so idle
	// connections hold none.
	ReadBufferSize, WriteBufferSize int

	once     sync.Once
	upgrader gws.Upgrader
	mu       sync.Mutex
	conns    map[*conn]struct{}
	closing  bool
}

var _ transport.WebsocketImplementation = (*Upgrader)(nil)

func (u *Upgrader) init() {
	u.once.Do(func() {
		u.upgrader = gws.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   u.ReadBufferSize,
			WriteBufferSize:  u.WriteBufferSize,
			WriteBufferPool:  &sync.Pool{},
			CheckOrigin:      u.CheckOrigin,
		}
		u.conns = map[*conn]struct{}{}
		if u.WriteTimeout <= 0 {
			u.WriteTimeout = DefaultWriteTimeout
		}
		if u.PingInterval <= 0 {
			u.PingInterval = DefaultPingInterval
		}
	})
}

// Accept implements transport.WebsocketImplementation.
func (u *Upgrader) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	u.init()
	up := u.upgrader
	up.Subprotocols = opts.Subprotocols
	u.mu.Lock()
	closing := u.closing
	u.mu.Unlock()
	if closing {
		return nil, errors.New("websocket: server is shutting down")
	}
	// Gorilla writes the 101 response itself, from this header alone:
	// carry over what middleware has set, the trace ID.
	header := opts.ResponseHeader
	if header == nil {
		header = http.Header{}
	}
	if id := w.Header().Get(traceIDHeader); id != "" {
		header.Set(traceIDHeader, id)
	}
	ws, err := up.Upgrade(w, r, header)
	if err != nil {
		return nil, err
	}
	c := &conn{ws: ws, u: u, done: make(chan struct{})}
	u.mu.Lock()
	u.conns[c] = struct{}{}
	u.mu.Unlock()
	if ws.Subprotocol() == legacySubprotocol {
		c.keepAlive()
	}
	return c, nil
}

// Open returns the number of open connections.
func (u *Upgrader) Open() int {
	u.init()
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.conns)
}

// CloseAll refuses new connections and closes the open ones with a close
// frame of the given code and reason (1001 "going away" at shutdown).
func (u *Upgrader) CloseAll(code int, reason string) {
	u.init()
	u.mu.Lock()
	u.closing = true
	conns := make([]*conn, 0, len(u.conns))
	for c := range u.conns {
		conns = append(conns, c)
	}
	u.mu.Unlock()
	for _, c := range conns {
		_ = c.WriteClose(code, reason)
		_ = c.Close()
	}
}

// conn is one accepted connection.
type conn struct {
	ws        *gws.Conn
	u         *Upgrader
	done      chan struct{}
	closeOnce sync.Once
}

var (
	_ transport.WebsocketConn          = (*conn)(nil)
	_ transport.WebsocketReadLimiter   = (*conn)(nil)
	_ transport.WebsocketReadDeadliner = (*conn)(nil)
)

// keepAlive pings a legacy peer and drops it when pongs stop coming.
func (c *conn) keepAlive() {
	interval := c.u.PingInterval
	_ = c.ws.SetReadDeadline(time.Now().Add(3 * interval))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(3 * interval))
	})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := c.ws.WriteControl(gws.PingMessage, nil, time.Now().Add(c.u.WriteTimeout)); err != nil {
					_ = c.Close()
					return
				}
			case <-c.done:
				return
			}
		}
	}()
}

// Close implements transport.WebsocketConn.
func (c *conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.done)
		c.u.mu.Lock()
		delete(c.u.conns, c)
		c.u.mu.Unlock()
		err = c.ws.Close()
	})
	return err
}

// NextReader implements transport.WebsocketConn. A normal close by the peer
// is transport.ErrWebsocketClosed.
func (c *conn) NextReader() (int, io.Reader, error) {
	t, r, err := c.ws.NextReader()
	if gws.IsCloseError(err, gws.CloseNormalClosure, gws.CloseGoingAway, gws.CloseNoStatusReceived) {
		return t, nil, transport.ErrWebsocketClosed
	}
	return t, r, err
}

// WriteJSON implements transport.WebsocketConn, within the write timeout.
func (c *conn) WriteJSON(v any) error {
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.u.WriteTimeout)); err != nil {
		return err
	}
	return c.ws.WriteJSON(v)
}

// WriteClose implements transport.WebsocketConn.
func (c *conn) WriteClose(code int, message string) error {
	if len(message) > 123 { // a close frame's reason is at most 123 bytes
		message = message[:123]
	}
	return c.ws.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(code, message), time.Now().Add(c.u.WriteTimeout))
}

// Subprotocol implements transport.WebsocketConn.
func (c *conn) Subprotocol() string { return c.ws.Subprotocol() }

// SetReadLimit implements transport.WebsocketReadLimiter.
func (c *conn) SetReadLimit(limit int64) { c.ws.SetReadLimit(limit) }

// SetReadDeadline implements transport.WebsocketReadDeadliner.
func (c *conn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }
