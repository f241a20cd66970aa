package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/storybot/storybot/internal/database/dbtest"
)

// buildBinary builds storybot once per test binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "storybot")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSIGTERMDuringSubscriptions stops a real storybot process with SIGTERM
// while stories stream to a websocket and an SSE subscriber: both get the
// story's final event (it is ended as interrupted, text kept), the websocket
// is then closed with 1001, the process exits 0, and the stored text equals
// what each subscriber was shown.
func TestSIGTERMDuringSubscriptions(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	addr := freeAddr(t)
	cmd := exec.Command(buildBinary(t))
	cmd.Env = append(os.Environ(),
		"STORYBOT_ADDR="+addr, "DATABASE_URL="+dsn, "STORYBOT_SHUTDOWN_TIMEOUT=3s",
		"STORYTELLER_TOKENS_PER_SECOND=20", "STORYBOT_DATA_DIR="+t.TempDir())
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s := &server{t: t, base: "http://" + addr}
	waitUp(t, s)
	s.token = s.newUser("admin@example.com")

	wsStory := s.generate("A night train that never arrives", 2000)
	sseStory := s.generate("A lamp lighter in a city of fireflies", 2000)

	c := dial(t, s, "graphql-transport-ws")
	c.WriteJSON(wsMessage{Type: "connection_init"})
	if m := readMessage(t, c); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	payload, _ := json.Marshal(map[string]any{"query": streamQuery, "variables": map[string]any{"id": wsStory.ID}})
	c.WriteJSON(wsMessage{ID: "1", Type: "subscribe", Payload: payload})

	sseDone := make(chan streamResult, 1)
	go func() { sseDone <- streamSSE(t, s, storyOp(sseStory.ID), nil) }()

	var wsEvents []streamEvent
	for len(wsEvents) < 3 {
		m := readMessage(t, c)
		if m.Type == "next" {
			var p struct {
				Data struct{ StoryStream streamEvent }
			}
			json.Unmarshal(m.Payload, &p)
			wsEvents = append(wsEvents, p.Data.StoryStream)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	completed, closeCode := false, 0
	for closeCode == 0 {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m wsMessage
		err := c.ReadJSON(&m)
		if ce, ok := err.(*gws.CloseError); ok {
			closeCode = ce.Code
			break
		}
		if err != nil {
			t.Fatalf("websocket ended without a close frame: %v", err)
		}
		switch m.Type {
		case "next":
			var p struct {
				Data struct{ StoryStream streamEvent }
			}
			json.Unmarshal(m.Payload, &p)
			wsEvents = append(wsEvents, p.Data.StoryStream)
		case "complete":
			completed = true
		}
	}
	if !completed || closeCode != 1001 {
		t.Errorf("websocket: completed %v, close code %d; want the subscription completed, then 1001", completed, closeCode)
	}
	sse := <-sseDone

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("storybot exited with %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("storybot did not exit after SIGTERM")
	}

	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, got := range map[string]struct {
		id     string
		events []streamEvent
	}{"websocket": {wsStory.ID, wsEvents}, "sse": {sseStory.ID, sse.events}} {
		var text, status string
		var errMsg sql.NullString
		if err := db.QueryRow(`SELECT text, status, error FROM stories WHERE id = $1`, got.id).Scan(&text, &status, &errMsg); err != nil {
			t.Fatal(err)
		}
		var shown strings.Builder
		for _, e := range got.events {
			shown.WriteString(e.Delta)
		}
		last := got.events[len(got.events)-1]
		if status != "FAILED" || !strings.Contains(errMsg.String, "interrupted") || last.Status != "FAILED" {
			t.Errorf("%s: stored %s (%s), last event %s; want FAILED, interrupted", name, status, errMsg.String, last.Status)
		}
		if shown.String() != text || text == "" {
			t.Errorf("%s: shown %d bytes, stored %d", name, shown.Len(), len(text))
		}
	}
}

func waitUp(t *testing.T, s *server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(fmt.Errorf("storybot did not come up: %w", err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
