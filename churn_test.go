package main

import (
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"
)

// TestWebsocketChurnLeavesNothing opens 10,000 websockets that each
// initialise and start a subscription and are then killed (the TCP
// connection dropped, no close frame). Afterwards the server holds no
// connection, subscription or goroutine more than before, and its heap has
// not grown.
func TestWebsocketChurnLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 connections take a while; not in -short mode")
	}
	// Logs go to an in-memory buffer in tests: keep them out of the heap figures.
	s := start(t, map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "5", "LOG_LEVEL": "error"})
	st := s.generate("A story that many people open and close", 4000)
	url := "ws" + strings.TrimPrefix(s.base, "http") + "/graphql"
	d := gws.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	subscribe := []byte(`{"id":"1","type":"subscribe","payload":{"query":"subscription { storyStream(storyID: \"` + st.ID + `\") { seq delta } }"}}`)

	cycle := func() {
		c, _, err := d.Dial(url, s.authHeader())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.WriteMessage(gws.TextMessage, []byte(`{"type":"connection_init"}`))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := c.ReadMessage(); err != nil { // connection_ack
			t.Fatalf("init: %v", err)
		}
		c.WriteMessage(gws.TextMessage, subscribe)
		c.NetConn().Close() // killed: no close frame
	}
	for range 200 { // warm up pools and caches before measuring
		cycle()
	}
	settle(t, s)
	goroutines, heap := measure()

	for range 10_000 {
		cycle()
	}
	settle(t, s)
	goroutines2, heap2 := measure()
	t.Logf("goroutines %d → %d, heap %d KiB → %d KiB", goroutines, goroutines2, heap/1024, heap2/1024)
	if goroutines2 > goroutines+5 {
		t.Errorf("goroutines grew from %d to %d", goroutines, goroutines2)
	}
	if heap2 > heap+8<<20 {
		t.Errorf("heap grew from %d to %d bytes", heap, heap2)
	}
}

// settle waits until the server reports no open websocket and no active
// subscription.
func settle(t *testing.T, s *server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conns, subs := gauge(t, s, "graphql_websocket_connections"), gauge(t, s, "graphql_active_subscriptions")
		if conns == "0" && subs == "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s connections and %s subscriptions", conns, subs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func gauge(t *testing.T, s *server, name string) string {
	t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in /metrics", name)
	}
	return string(m[1])
}

func measure() (goroutines int, heap uint64) {
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapAlloc
}
