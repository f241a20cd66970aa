package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// privatePostgres is a Postgres server of the test's own, which it may stop
// and restart without disturbing anything else.
type privatePostgres struct {
	t        *testing.T
	bin, dir string
	port     int
	asUser   []string // runuser prefix when running as root
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("Postgres server binaries (pg_ctl) not found")
		}
		t.Skip("Postgres server binaries (pg_ctl) not found")
	}
	p := &privatePostgres{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	p.dir = t.TempDir()
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		// Postgres refuses to run as root: run it as the postgres user.
		pg, err := user.Lookup("postgres")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("running as root without a postgres user to run Postgres as: %v", err)
			}
			t.Skipf("running as root without a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		os.Chmod(filepath.Dir(p.dir), 0o755)
		if err := os.Chown(p.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	port, _ := strconv.Atoi(strings.TrimPrefix(freeAddr(t), "127.0.0.1:"))
	p.port = port
	data := filepath.Join(p.dir, "data")
	p.run(filepath.Join(p.bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
	p.ctl("start")
	t.Cleanup(func() { p.ctl("stop", "-m", "immediate") })
	return p
}

func (p *privatePostgres) run(args ...string) {
	p.t.Helper()
	args = append(append([]string{}, p.asUser...), args...)
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (p *privatePostgres) ctl(action string, extra ...string) {
	p.t.Helper()
	data := filepath.Join(p.dir, "data")
	args := []string{filepath.Join(p.bin, "pg_ctl"), action, "-D", data, "-w", "-t", "30"}
	if action != "stop" {
		args = append(args, "-l", filepath.Join(p.dir, "log"),
			"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir))
	}
	p.run(append(args, extra...)...)
}

func (p *privatePostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", p.port)
}

// TestPostgresRestart restarts the database under a serving storybot while
// a story streams to a websocket subscriber: meanwhile requests fail fast
// with UNAVAILABLE; afterwards they work again without a storybot restart,
// the story finishes, and the subscriber was shown exactly the stored text.
func TestPostgresRestart(t *testing.T) {
	pg := startPrivatePostgres(t)
	s := start(t, map[string]string{"DATABASE_URL": pg.url(), "STORYTELLER_TOKENS_PER_SECOND": "25"})
	st := s.generate("A tide that comes in once a century", 4000)

	c := dial(t, s, "graphql-transport-ws")
	c.WriteJSON(wsMessage{Type: "connection_init"})
	if m := readMessage(t, c); m.Type != "connection_ack" {
		t.Fatalf("got %s", m.Type)
	}
	payload, _ := json.Marshal(map[string]any{"query": streamQuery, "variables": map[string]any{"id": st.ID}})
	c.WriteJSON(wsMessage{ID: "1", Type: "subscribe", Payload: payload})
	events := make(chan streamEvent, 1024)
	streamDone := make(chan error, 1)
	go func() {
		for {
			var m wsMessage
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			if err := c.ReadJSON(&m); err != nil {
				streamDone <- err
				return
			}
			switch m.Type {
			case "next":
				var p struct {
					Data struct{ StoryStream streamEvent }
				}
				json.Unmarshal(m.Payload, &p)
				events <- p.Data.StoryStream
			case "complete":
				close(events)
				streamDone <- nil
				return
			}
		}
	}()
	var shown []streamEvent
	for len(shown) < 5 {
		shown = append(shown, <-events)
	}

	pg.ctl("stop", "-m", "fast")
	begin := time.Now()
	errs := s.gql(`{ prompts { totalCount } }`, nil, nil)
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("a query took %v while the database was down; want it to fail fast", took)
	}
	if len(errs) != 1 || errs[0].Extensions["code"] != "UNAVAILABLE" || strings.Contains(errs[0].Message, "dial") {
		t.Errorf("while down: %+v, want one clear UNAVAILABLE error", errs)
	}
	if resp, _ := s.get("/readyz", nil); resp.StatusCode != 503 {
		t.Errorf("/readyz while down: %d", resp.StatusCode)
	}
	time.Sleep(2 * time.Second)
	pg.ctl("start")

	deadline := time.Now().Add(20 * time.Second)
	for {
		if errs := s.gql(`{ prompts { totalCount } }`, nil, nil); len(errs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("queries did not work again after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Let the story finish quickly now: cancel it, which keeps its text.
	var out struct{ CancelStory storedStory }
	if errs := s.gql(`mutation($id: ID!) { cancelStory(id: $id) { status } }`, map[string]any{"id": st.ID}, &out); len(errs) > 0 {
		t.Fatalf("cancel after the restart: %+v", errs)
	}
	for ev := range events {
		shown = append(shown, ev)
	}
	if err := <-streamDone; err != nil {
		t.Fatalf("the stream broke: %v", err)
	}
	var text strings.Builder
	for _, e := range shown {
		text.WriteString(e.Delta)
	}
	stored := s.story(st.ID)
	if last := shown[len(shown)-1]; last.Status != "CANCELLED" || stored.Status != "CANCELLED" {
		t.Errorf("final: stream %s, stored %s", last.Status, stored.Status)
	}
	if text.String() != stored.Text {
		t.Errorf("shown %d bytes, stored %d bytes:\nshown  %q\nstored %q", text.Len(), len(stored.Text), text.String(), stored.Text)
	}
}
