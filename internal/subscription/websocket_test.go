package subscription

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	gws "github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// setup serves gqlgen's test schema through u.
func setup(t *testing.T, u *Websocket) (*testserver.TestServer, string) {
	t.Helper()
	srv := testserver.New()
	srv.AddTransport(u)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		u.CloseAll(1001, "test over")
		hs.Close()
	})
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http")
}

type msg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func dial(t *testing.T, url, subprotocol string, header http.Header) *gws.Conn {
	t.Helper()
	d := gws.Dialer{Subprotocols: []string{subprotocol}}
	c, _, err := d.Dial(url, header)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c *gws.Conn, m msg) {
	t.Helper()
	if err := c.WriteJSON(m); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, c *gws.Conn) msg {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var m msg
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v", err)
		}
		if m.Type != "ka" && m.Type != "ping" && m.Type != "pong" {
			return m
		}
	}
}

// closeCode reads until the server closes the connection and returns the code.
func closeCode(t *testing.T, c *gws.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		var ce *gws.CloseError
		if err != nil {
			if errorsAs(err, &ce) {
				return ce.Code
			}
			t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

func errorsAs(err error, ce **gws.CloseError) bool {
	c, ok := err.(*gws.CloseError)
	if ok {
		*ce = c
	}
	return ok
}

func initialise(t *testing.T, c *gws.Conn) {
	t.Helper()
	send(t, c, msg{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	if m := read(t, c); m.Type != "connection_ack" {
		t.Fatalf("got %s, want connection_ack", m.Type)
	}
}

func subscribe(t *testing.T, c *gws.Conn, id string) {
	t.Helper()
	typ := "subscribe"
	if c.Subprotocol() == "graphql-ws" {
		typ = "start"
	}
	send(t, c, msg{ID: id, Type: typ, Payload: json.RawMessage(`{"query":"subscription { name }"}`)})
}

func TestSubscriptionsFlow(t *testing.T) {
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			u := &Websocket{}
			srv, url := setup(t, u)
			c := dial(t, url, proto, nil)
			if c.Subprotocol() != proto {
				t.Fatalf("negotiated %q", c.Subprotocol())
			}
			initialise(t, c)
			subscribe(t, c, "1")
			srv.SendNextSubscriptionMessage()
			if m := read(t, c); m.ID != "1" || !strings.Contains(string(m.Payload), "test") {
				t.Errorf("got %+v", m)
			}
			srv.SendCompleteSubscriptionMessage()
			if m := read(t, c); m.Type != "complete" || m.ID != "1" {
				t.Errorf("got %+v, want complete", m)
			}
			// The id is free again once its operation completed.
			subscribe(t, c, "1")
			srv.SendNextSubscriptionMessage()
			if m := read(t, c); m.ID != "1" {
				t.Errorf("reusing a completed id: %+v", m)
			}
			if u.Open() != 1 {
				t.Errorf("Open() = %d", u.Open())
			}
		})
	}
}

func TestProtocolViolationsClose(t *testing.T) {
	t.Run("second connection_init", func(t *testing.T) {
		_, url := setup(t, &Websocket{})
		c := dial(t, url, "graphql-transport-ws", nil)
		initialise(t, c)
		send(t, c, msg{Type: "connection_init"})
		if code := closeCode(t, c); code != CloseTooManyInitialise {
			t.Errorf("close code %d, want 4429", code)
		}
	})
	t.Run("duplicate operation id", func(t *testing.T) {
		_, url := setup(t, &Websocket{})
		c := dial(t, url, "graphql-transport-ws", nil)
		initialise(t, c)
		subscribe(t, c, "dup")
		subscribe(t, c, "dup")
		if code := closeCode(t, c); code != CloseSubscriberExists {
			t.Errorf("close code %d, want 4409", code)
		}
	})
	t.Run("no connection_init in time", func(t *testing.T) {
		_, url := setup(t, &Websocket{InitTimeout: 200 * time.Millisecond})
		c := dial(t, url, "graphql-transport-ws", nil)
		if code := closeCode(t, c); code != CloseInitTimeout {
			t.Errorf("close code %d, want 4408", code)
		}
	})
	t.Run("message too large", func(t *testing.T) {
		limit := int64(1024)
		u := &Websocket{ReadLimit: limit}
		_, url := setup(t, u)
		c := dial(t, url, "graphql-transport-ws", nil)
		initialise(t, c)
		// The server may drop the connection before it has read all of this,
		// so the write can fail: what matters is that the server closes.
		_ = c.WriteJSON(msg{ID: "1", Type: "subscribe", Payload: json.RawMessage(`{"query":"` + strings.Repeat("x", 4096) + `"}`)})
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, _, err := c.ReadMessage()
			if err == nil {
				continue
			}
			if ce, ok := err.(*gws.CloseError); ok && ce.Code != gws.CloseMessageTooBig {
				t.Errorf("close code %d, want 1009", ce.Code)
			}
			break
		}
		waitOpen(t, u, 0)
	})
}

func TestSubscriptionCap(t *testing.T) {
	u := &Websocket{MaxSubscriptions: 2}
	srv, url := setup(t, u)
	c := dial(t, url, "graphql-transport-ws", nil)
	initialise(t, c)
	subscribe(t, c, "a")
	subscribe(t, c, "b")
	subscribe(t, c, "c")
	m := read(t, c)
	if m.Type != "error" || m.ID != "c" || !strings.Contains(string(m.Payload), "too many subscriptions") {
		t.Fatalf("third subscription: %+v", m)
	}
	if m := read(t, c); m.Type != "complete" || m.ID != "c" {
		t.Fatalf("after the refusal: %+v, want its complete", m)
	}
	srv.SendNextSubscriptionMessage() // the connection still serves the others
	if m := read(t, c); m.Type != "next" {
		t.Errorf("after the refusal: %+v", m)
	}
}

func TestOriginAndClientCaps(t *testing.T) {
	u := &Websocket{
		CheckOrigin:       func(r *http.Request) bool { return r.Header.Get("Origin") != "https://evil.example" },
		MaxConnsPerClient: 2,
	}
	_, url := setup(t, u)
	d := gws.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	if _, resp, err := d.Dial(url, http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: err %v, response %v; want 403", err, resp)
	}
	dial(t, url, "graphql-transport-ws", nil)
	dial(t, url, "graphql-transport-ws", nil)
	third := dial(t, url, "graphql-transport-ws", nil)
	if code := closeCode(t, third); code != CloseTryAgainLater {
		t.Errorf("third connection from one client: close %d, want 1013", code)
	}
}

func TestDeadPeersAreDropped(t *testing.T) {
	t.Run("graphql-ws", func(t *testing.T) {
		u := &Websocket{KeepAlive: 50 * time.Millisecond}
		_, url := setup(t, u)
		c := dial(t, url, "graphql-ws", nil)
		initialise(t, c)
		// The client stops reading, so it never answers the pings.
		waitOpen(t, u, 0)
	})
	t.Run("graphql-transport-ws", func(t *testing.T) {
		u := &Websocket{KeepAlive: 50 * time.Millisecond}
		_, url := setup(t, u)
		c := dial(t, url, "graphql-transport-ws", nil)
		initialise(t, c)
		waitOpen(t, u, 0)
	})
}

func TestCloseAll(t *testing.T) {
	u := &Websocket{}
	_, url := setup(t, u)
	c := dial(t, url, "graphql-transport-ws", nil)
	initialise(t, c)
	go u.CloseAll(1001, "server shutting down")
	if code := closeCode(t, c); code != gws.CloseGoingAway {
		t.Errorf("close code %d, want 1001", code)
	}
	d := gws.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	if c2, _, err := d.Dial(url, nil); err == nil {
		c2.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, _, err := c2.ReadMessage(); err == nil {
			t.Error("a connection after CloseAll was served")
		}
		c2.Close()
	}
}

func waitOpen(t *testing.T, u *Websocket, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for u.Open() != want {
		if time.Now().After(deadline) {
			t.Fatalf("Open() = %d, want %d", u.Open(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStalledWriterIsDropped(t *testing.T) {
	u := &Websocket{WriteTimeout: 200 * time.Millisecond}
	srv, url := setup(t, u)
	c := dial(t, url, "graphql-transport-ws", nil)
	initialise(t, c)
	subscribe(t, c, "1")
	// The client reads no more: once the socket's buffers are full, the
	// server's writes block, and the connection is dropped after the
	// write timeout.
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(20 * time.Second)
		for u.Open() > 0 && time.Now().Before(deadline) {
			srv.SendNextSubscriptionMessage()
		}
	}()
	waitOpenWithin(t, u, 0, 20*time.Second)
	<-done
}

func waitOpenWithin(t *testing.T, u *Websocket, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for u.Open() != want {
		if time.Now().After(deadline) {
			t.Fatalf("Open() = %d, want %d", u.Open(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Variables keep their numbers as numbers, as gqlgen's transports keep them:
// an Int variable must not arrive as a float64.
func TestDecodeParamsKeepsNumbers(t *testing.T) {
	var p graphql.RawParams
	if err := decodeParams([]byte(`{"query":"{ x }","variables":{"first":50}}`), &p); err != nil {
		t.Fatal(err)
	}
	if n, ok := p.Variables["first"].(json.Number); !ok || n.String() != "50" {
		t.Errorf("first = %#v, want json.Number 50", p.Variables["first"])
	}
}
