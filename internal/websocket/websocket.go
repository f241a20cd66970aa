// Package websocket adapts github.com/gorilla/websocket to gqlgen's websocket
// transport (transport.WebsocketImplementation), with what a server facing
// the internet needs: an origin check, a read limit, a deadline on every
// write, detection of dead peers for both GraphQL subprotocols, and a
// registry of open connections so shutdown can close them with a reason.
package websocket

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
	// MaxSubscriptions caps the operations running at once on one
	// connection (DefaultMaxSubscriptions when zero); one more gets an
	// error message for its id.
	MaxSubscriptions int
	// MaxConnsPerClient caps the open connections of one client, as named
	// by ClientKey (DefaultMaxConnsPerClient when zero); one more is closed
	// with 1013 (try again later) right after the upgrade.
	MaxConnsPerClient int
	// ClientKey names the client of a request, for MaxConnsPerClient; nil
	// uses the peer's IP address. Behind a proxy, give one that trusts its
	// X-Forwarded-For.
	ClientKey func(r *http.Request) string

	once     sync.Once
	upgrader gws.Upgrader
	mu       sync.Mutex
	conns    map[*conn]struct{}
	clients  map[string]int
	closing  bool
}

// Defaults of the per-connection and per-client caps.
const (
	DefaultMaxSubscriptions  = 20
	DefaultMaxConnsPerClient = 50
)

// Close codes of the graphql-transport-ws protocol that gqlgen does not send.
const (
	CloseInitTimeout       = 4408 // connection_init did not come in time
	CloseSubscriberExists  = 4409 // a subscribe reused the id of a running operation
	CloseTooManyInitialise = 4429 // a second connection_init
	CloseTryAgainLater     = 1013 // too many connections from this client
)

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
		u.clients = map[string]int{}
		if u.MaxSubscriptions <= 0 {
			u.MaxSubscriptions = DefaultMaxSubscriptions
		}
		if u.MaxConnsPerClient <= 0 {
			u.MaxConnsPerClient = DefaultMaxConnsPerClient
		}
		if u.ClientKey == nil {
			u.ClientKey = func(r *http.Request) string {
				host, _, err := net.SplitHostPort(r.RemoteAddr)
				if err != nil {
					return r.RemoteAddr
				}
				return host
			}
		}
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
	// Count the client before the upgrade: once the 101 is out, the client
	// may open its next connection at once.
	client := u.ClientKey(r)
	u.mu.Lock()
	u.clients[client]++
	over := u.clients[client] > u.MaxConnsPerClient
	u.mu.Unlock()
	ws, err := up.Upgrade(w, r, header)
	if err != nil {
		u.forget(client)
		return nil, err
	}
	c := &conn{ws: ws, u: u, done: make(chan struct{}), client: client, active: map[string]struct{}{}}
	u.mu.Lock()
	u.conns[c] = struct{}{}
	u.mu.Unlock()
	track(r, c)
	if over {
		_ = c.WriteClose(CloseTryAgainLater, "too many connections from this client")
		_ = c.Close()
		return c, nil // gqlgen's first read sees the closed connection
	}
	if ws.Subprotocol() == legacySubprotocol {
		c.keepAlive()
	}
	return c, nil
}

// forget drops one connection of client from the count.
func (u *Upgrader) forget(client string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.clients[client]--; u.clients[client] <= 0 {
		delete(u.clients, client)
	}
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

// conn is one accepted connection. It watches the protocol messages that
// gqlgen leaves unchecked: a second connection_init, a reused operation id,
// and too many operations at once.
type conn struct {
	ws        *gws.Conn
	u         *Upgrader
	client    string
	done      chan struct{}
	closeOnce sync.Once

	wmu sync.Mutex // serialises data frames (gqlgen's and the refusals)

	mu          sync.Mutex
	initialised bool
	active      map[string]struct{} // ids of running operations
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
		c.u.forget(c.client)
		err = c.ws.Close()
	})
	return err
}

// NextReader implements transport.WebsocketConn. A normal close by the peer
// is transport.ErrWebsocketClosed. Each message is checked before gqlgen
// sees it: a protocol violation closes the connection with its code, and a
// subscription over the cap is answered with an error and not passed on.
func (c *conn) NextReader() (int, io.Reader, error) {
	for {
		t, r, err := c.ws.NextReader()
		if gws.IsCloseError(err, gws.CloseNormalClosure, gws.CloseGoingAway, gws.CloseNoStatusReceived) {
			return t, nil, transport.ErrWebsocketClosed
		}
		if err != nil {
			return t, nil, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return t, nil, err
		}
		var m struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		if json.Unmarshal(data, &m) != nil {
			return t, bytes.NewReader(data), nil // gqlgen answers malformed messages
		}
		switch verdict := c.check(m.Type, m.ID); verdict {
		case pass:
			return t, bytes.NewReader(data), nil
		case refuse:
			continue
		default:
			_ = c.WriteClose(verdict.code, verdict.reason)
			_ = c.Close()
			return t, nil, transport.ErrWebsocketClosed
		}
	}
}

// verdict is what check decides about an incoming message.
type verdict struct {
	code   int
	reason string
}

var (
	pass   = verdict{}
	refuse = verdict{code: -1}
)

// check applies the protocol rules to an incoming message of the given type
// and id.
func (c *conn) check(typ, id string) verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch typ {
	case "connection_init":
		if c.initialised {
			return verdict{CloseTooManyInitialise, "Too many initialisation requests"}
		}
		c.initialised = true
	case "subscribe", "start":
		if _, dup := c.active[id]; dup {
			return verdict{CloseSubscriberExists, fmt.Sprintf("Subscriber for %.64s already exists", id)}
		}
		if len(c.active) >= c.u.MaxSubscriptions {
			c.mu.Unlock()
			c.refuseOperation(id)
			c.mu.Lock()
			return refuse
		}
		c.active[id] = struct{}{}
	case "complete", "stop":
		delete(c.active, id)
	}
	return pass
}

// refuseOperation answers an operation over the cap with an error for its
// id, in the connection's subprotocol, as gqlgen would answer a failed one.
func (c *conn) refuseOperation(id string) {
	errs := []map[string]any{{
		"message":    fmt.Sprintf("too many subscriptions on one connection (at most %d)", c.u.MaxSubscriptions),
		"extensions": map[string]any{"code": "RATE_LIMITED"},
	}}
	var payload any = errs
	if c.Subprotocol() == legacySubprotocol {
		payload = errs[0]
	}
	_ = c.WriteJSON(map[string]any{"id": id, "type": "error", "payload": payload})
}

// WriteJSON implements transport.WebsocketConn, within the write timeout.
// An operation's last message frees its id.
func (c *conn) WriteJSON(v any) error {
	data, id, typ, ok := encodeMessage(v)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			return err
		}
		id, ok = finalMessageID(data)
		if ok {
			typ = "complete"
		}
	}
	if typ == "complete" || typ == "error" {
		c.mu.Lock()
		delete(c.active, id)
		c.mu.Unlock()
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.u.WriteTimeout)); err != nil {
		return err
	}
	return c.ws.WriteMessage(gws.TextMessage, data)
}

// finalMessageID returns the id of an encoded message that ends an
// operation ("complete" or "error"), for messages encodeMessage does not
// know. The type is written last, so a suffix check spares decoding others.
func finalMessageID(data []byte) (string, bool) {
	if !bytes.HasSuffix(data, []byte(`"type":"complete"}`)) && !bytes.HasSuffix(data, []byte(`"type":"error"}`)) {
		return "", false
	}
	var m struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(data, &m) != nil || m.ID == "" {
		return "", false
	}
	return m.ID, true
}

// WriteClose implements transport.WebsocketConn. gqlgen closes a connection
// whose connection_init never came with 1002; the protocol says 4408.
func (c *conn) WriteClose(code int, message string) error {
	if code == transport.WebsocketCloseProtocolError && message == "connection initialisation timeout" {
		code = CloseInitTimeout
	}
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

// connRef lets code running under a connection's context close it; Track
// puts one in the upgrade request's context and Accept fills it.
type connRef struct {
	mu sync.Mutex
	c  *conn
}

type connRefKey struct{}

// Track prepares websocket upgrade requests so that CloseWith can close
// their connection later from any context derived from the request's: the
// connection_init handler's, an operation's.
func Track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gws.IsWebSocketUpgrade(r) {
			r = r.WithContext(context.WithValue(r.Context(), connRefKey{}, &connRef{}))
		}
		next.ServeHTTP(w, r)
	})
}

// CloseWith closes the websocket whose request ctx derives from, with a
// close frame of code and reason (4401 when its credentials were revoked,
// say). It reports false when ctx belongs to no tracked connection.
func CloseWith(ctx context.Context, code int, reason string) bool {
	ref, _ := ctx.Value(connRefKey{}).(*connRef)
	if ref == nil {
		return false
	}
	ref.mu.Lock()
	c := ref.c
	ref.mu.Unlock()
	if c == nil {
		return false
	}
	_ = c.WriteClose(code, reason)
	_ = c.Close()
	return true
}

// track records c as the connection of r, for CloseWith.
func track(r *http.Request, c *conn) {
	if ref, _ := r.Context().Value(connRefKey{}).(*connRef); ref != nil {
		ref.mu.Lock()
		ref.c = c
		ref.mu.Unlock()
	}
}

// Over reports whether ctx belongs to a websocket connection (one that
// Track prepared).
func Over(ctx context.Context) bool {
	ref, _ := ctx.Value(connRefKey{}).(*connRef)
	return ref != nil
}
