package main

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/internal/database/dbtest"
)

// TestReplicaKilledMidStory kills the replica generating a story with
// SIGKILL while a subscriber follows the story on another replica: the
// surviving replica notices within seconds (the dead one's presence lock is
// gone with its connection), not after its 20 s lease, and the follower's
// stream ends with exactly the stored text, of which the part written
// before the crash is unchanged.
func TestReplicaKilledMidStory(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	addr := freeAddr(t)
	cmd := exec.Command(buildBinary(t))
	cmd.Env = append(os.Environ(),
		"STORYBOT_ADDR="+addr, "DATABASE_URL="+dsn, "STORYBOT_REPLICA_ID=doomed",
		"STORYTELLER_TOKENS_PER_SECOND=20", "STORYBOT_DATA_DIR="+t.TempDir())
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	doomed := &server{t: t, base: "http://" + addr}
	waitUp(t, doomed)
	doomed.token = doomed.newUser("admin@example.com")
	survivor := launch(t, map[string]string{"DATABASE_URL": dsn}).as(doomed.token)

	st := doomed.generate("A lighthouse keeper who counts ships", 2000)
	var (
		mu       sync.Mutex
		seen     strings.Builder
		atKill   string
		killedAt time.Time
		endedAt  time.Time
	)
	res := opTransports["sse"](t, survivor, resumeOp(st.ID, ""), func(e streamEvent) {
		mu.Lock()
		defer mu.Unlock()
		seen.WriteString(e.Delta)
		if killedAt.IsZero() && len(seen.String()) >= 40 {
			if err := cmd.Process.Kill(); err != nil {
				t.Error(err)
			}
			killedAt, atKill = time.Now(), seen.String()
		}
		if e.Status != "GENERATING" && e.Status != "PENDING" {
			endedAt = time.Now()
		}
	})
	if killedAt.IsZero() {
		t.Fatalf("the story ended before the kill: %+v", res.events)
	}
	stored := checkStream(t, survivor, res, st.ID, "FAILED")
	if !strings.HasPrefix(stored.Text, atKill) {
		t.Errorf("the text written before the crash changed:\nbefore %q\nstored %q", atKill, stored.Text)
	}
	// The bound: a dead generator is noticed within 5 s, and the
	// follower hears of it within 10 s; a lease alone takes 20 to 25 s.
	if took := endedAt.Sub(killedAt); took > 10*time.Second {
		t.Errorf("the follower heard of the dead replica %v after the kill; want within 10 s", took.Round(time.Millisecond))
	}
	t.Logf("killed after %d bytes; the follower's stream ended %v later with %d bytes", len(atKill), endedAt.Sub(killedAt).Round(time.Millisecond), len(stored.Text))
}
