// Package subscription serves GraphQL subscriptions, queries and mutations
// over websockets (graphql-transport-ws and the legacy graphql-ws of
// subscriptions-transport-ws, on gorilla/websocket) and server-sent events
// (graphql-sse's distinct connections mode), as gqlgen transports
// (graphql.Transport).
//
// Subscribers of one story whose operations render alike form a cohort
// (story.Cohort): each event is executed and marshalled by gqlgen once per
// cohort, and the same payload bytes go to every member, framed with its
// own id. See cohort.go.
//
// Connections cost little: the handler returns after the upgrade, an idle
// websocket has one goroutine (its reader) and no write buffer (gorilla's
// WriteBufferPool), a writer goroutine runs only while something is queued,
// and each operation has at most one event waiting to be written: a slow
// reader is offered everything it missed, merged, once it has caught up.
package subscription

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	gws "github.com/gorilla/websocket"
)

// Defaults of Websocket's settings.
const (
	DefaultWriteTimeout      = 5 * time.Second
	DefaultKeepAlive         = 6 * time.Second
	DefaultInitTimeout       = 3 * time.Second
	DefaultMaxSubscriptions  = 20
	DefaultMaxConnsPerClient = 50
	// DefaultReadBufferSize is small: clients send little (an init, a
	// subscribe), and an idle connection holds its read buffer.
	DefaultReadBufferSize = 512
)

// Close codes storybot sends.
const (
	CloseNormal            = 1000
	CloseGoingAway         = 1001 // the server shuts down
	CloseTryAgainLater     = 1013 // too many connections from this client
	CloseBadMessage        = 4400 // a message the protocol does not allow
	CloseUnauthorized      = 4401 // credentials refused or revoked; a subscribe before the ack
	CloseForbidden         = 4403 // the init function refused the connection
	CloseInitTimeout       = 4408 // connection_init did not come in time
	CloseSubscriberExists  = 4409 // a subscribe reused the id of a running operation
	CloseTooManyInitialise = 4429 // a second connection_init
)

// Subprotocols.
const (
	// ProtocolTransportWS is graphql-ws's graphql-transport-ws.
	ProtocolTransportWS = "graphql-transport-ws"
	// ProtocolLegacyWS is subscriptions-transport-ws's graphql-ws.
	ProtocolLegacyWS = "graphql-ws"
)

// InitFunc checks a websocket's connection_init payload. It returns the
// connection's context and the connection_ack payload (nil for none); an
// error closes the connection (with a websocket.CloseError's code, else
// 4403).
type InitFunc func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error)

// CloseFunc is told that a connection that was initialised has closed.
type CloseFunc func(ctx context.Context, code int)

// Websocket is a graphql.Transport for both websocket subprotocols. Share
// one value (a pointer) between the handler and the code that shuts down.
type Websocket struct {
	// CheckOrigin reports whether a request's Origin may open a websocket.
	// nil allows only requests without Origin or from the same host.
	CheckOrigin func(r *http.Request) bool
	// InitFunc, when not nil, checks each connection_init.
	InitFunc InitFunc
	// CloseFunc, when not nil, is told of the end of each connection that
	// InitFunc accepted.
	CloseFunc CloseFunc
	// InitTimeout is how long a connection may wait before its
	// connection_init (DefaultInitTimeout when zero); then it closes 4408.
	InitTimeout time.Duration
	// KeepAlive is how often the server pings (a "ping" message on
	// graphql-transport-ws; a websocket ping and a "ka" message on the
	// legacy protocol); a peer silent for three of them is dropped
	// (DefaultKeepAlive when zero).
	KeepAlive time.Duration
	// WriteTimeout bounds every write (DefaultWriteTimeout when zero): a
	// write is due within half to all of it, and a connection whose peer
	// does not take it is closed.
	WriteTimeout time.Duration
	// ReadLimit bounds one incoming message (none when zero); a larger one
	// closes the connection with 1009.
	ReadLimit int64
	// ReadBufferSize sizes the read buffer every connection holds
	// (DefaultReadBufferSize when zero). Write buffers come from a pool
	// and are held only while a message is written.
	ReadBufferSize int
	// MaxSubscriptions caps the operations running at once on one
	// connection (DefaultMaxSubscriptions when zero); one more gets an
	// error message for its id.
	MaxSubscriptions int
	// MaxConnsPerClient caps the open connections of one client, as named
	// by ClientKey (DefaultMaxConnsPerClient when zero); one more is closed
	// with 1013 (try again later) right after the upgrade.
	MaxConnsPerClient int
	// ClientKey names the client of a request, for MaxConnsPerClient; nil
	// uses the peer's IP address.
	ClientKey func(r *http.Request) string

	once     sync.Once
	upgrader gws.Upgrader
	cohorts  *cohorts

	mu       sync.Mutex
	conns    map[*conn]struct{}
	clients  map[string]int
	closing  bool
	watching chan struct{} // closed to stop the watchdog; nil when it does not run
}

var _ graphql.Transport = (*Websocket)(nil)

func (t *Websocket) init() {
	t.once.Do(func() {
		if t.ReadBufferSize <= 0 {
			t.ReadBufferSize = DefaultReadBufferSize
		}
		t.upgrader = gws.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   t.ReadBufferSize,
			WriteBufferPool:  writeBuffers,
			CheckOrigin:      t.CheckOrigin,
			Subprotocols:     []string{ProtocolTransportWS, ProtocolLegacyWS},
		}
		t.cohorts = newCohorts()
		t.conns = map[*conn]struct{}{}
		t.clients = map[string]int{}
		if t.MaxSubscriptions <= 0 {
			t.MaxSubscriptions = DefaultMaxSubscriptions
		}
		if t.MaxConnsPerClient <= 0 {
			t.MaxConnsPerClient = DefaultMaxConnsPerClient
		}
		if t.ClientKey == nil {
			t.ClientKey = peerIP
		}
		if t.WriteTimeout <= 0 {
			t.WriteTimeout = DefaultWriteTimeout
		}
		if t.KeepAlive <= 0 {
			t.KeepAlive = DefaultKeepAlive
		}
		if t.InitTimeout <= 0 {
			t.InitTimeout = DefaultInitTimeout
		}
	})
}

// writeBuffers are the write buffers of every websocket: a connection takes
// one for the time of a message.
var writeBuffers = &sync.Pool{}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Supports implements graphql.Transport: websocket upgrades.
func (t *Websocket) Supports(r *http.Request) bool {
	return gws.IsWebSocketUpgrade(r)
}

// traceIDHeader is the response header that carries a request's trace ID;
// gorilla writes the 101 response itself, so it is carried over.
const traceIDHeader = "X-Trace-Id"

// Do implements graphql.Transport: it upgrades the request, starts the
// connection's reader and returns.
func (t *Websocket) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.init()
	t.mu.Lock()
	closing := t.closing
	t.mu.Unlock()
	if closing {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	header := http.Header{}
	if id := w.Header().Get(traceIDHeader); id != "" {
		header.Set(traceIDHeader, id)
	}
	// Count the client before the upgrade: once the 101 is out, the client
	// may open its next connection at once.
	client := t.ClientKey(r)
	t.mu.Lock()
	t.clients[client]++
	over := t.clients[client] > t.MaxConnsPerClient
	t.mu.Unlock()
	ws, err := t.upgrader.Upgrade(w, r, header)
	if err != nil {
		t.forget(client)
		return // the upgrader answered
	}
	ws.SetReadLimit(t.ReadLimit)
	c := newConn(t, ws, exec, r, client)
	t.mu.Lock()
	t.conns[c] = struct{}{}
	var stop chan struct{}
	if t.watching == nil {
		stop = make(chan struct{})
		t.watching = stop
	}
	t.mu.Unlock()
	if stop != nil {
		go t.watch(stop)
	}
	if over {
		c.close(CloseTryAgainLater, "too many connections from this client")
		return
	}
	go c.read()
}

// forget drops one connection of client from the count.
func (t *Websocket) forget(client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.clients[client]--; t.clients[client] <= 0 {
		delete(t.clients, client)
	}
}

// Open returns the number of open connections.
func (t *Websocket) Open() int {
	t.init()
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// CloseAll refuses new connections and closes the open ones with a close
// frame of the given code and reason (1001 "going away" at shutdown), once
// what is queued for them is written (within the write timeout).
func (t *Websocket) CloseAll(code int, reason string) {
	t.init()
	t.mu.Lock()
	t.closing = true
	conns := make([]*conn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.closeAfterFlush(code, reason)
	}
	deadline := time.Now().Add(t.WriteTimeout + time.Second)
	for t.Open() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for _, c := range conns {
		c.close(code, reason)
	}
}

// watch closes the connections whose writer has been writing one batch
// for longer than the write timeout (a peer that does not read), checking
// a few times per timeout, until stop is closed (no connection is left).
func (t *Websocket) watch(stop <-chan struct{}) {
	tick := time.NewTicker(min(t.WriteTimeout/4, time.Second))
	defer tick.Stop()
	var stuck []*conn
	for {
		select {
		case <-tick.C:
		case <-stop:
			return
		}
		late := time.Now().Add(-t.WriteTimeout).UnixNano()
		t.mu.Lock()
		for c := range t.conns {
			if since := c.writing.Load(); since != 0 && since < late {
				stuck = append(stuck, c)
			}
		}
		t.mu.Unlock()
		for _, c := range stuck {
			c.close(0, "") // no close frame: the peer takes nothing
		}
		clear(stuck)
		stuck = stuck[:0]
	}
}

// removed forgets a closed connection.
func (t *Websocket) removed(c *conn) {
	t.mu.Lock()
	delete(t.conns, c)
	if len(t.conns) == 0 && t.watching != nil {
		close(t.watching)
		t.watching = nil
	}
	t.mu.Unlock()
	t.forget(c.client)
}
