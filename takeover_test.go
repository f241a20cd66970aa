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
// gone with its connection), not after its 20 s lease, and takes the story
// over; the follower sees a pause, then the story goes on and completes,
// with exactly the stored text, of which the part written before the crash
// is unchanged.
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

	st := doomed.generate("A lighthouse keeper who counts ships", 150)
	var (
		mu        sync.Mutex
		seen      strings.Builder
		atKill    string
		killedAt  time.Time
		resumedAt time.Time
	)
	res := opTransports["sse"](t, survivor, resumeOp(st.ID, ""), func(e streamEvent) {
		mu.Lock()
		defer mu.Unlock()
		seen.WriteString(e.Delta)
		if !killedAt.IsZero() && resumedAt.IsZero() && e.Delta != "" {
			resumedAt = time.Now()
		}
		if killedAt.IsZero() && len(seen.String()) >= 40 {
			if err := cmd.Process.Kill(); err != nil {
				t.Error(err)
			}
			killedAt, atKill = time.Now(), seen.String()
		}
	})
	if killedAt.IsZero() {
		t.Fatalf("the story ended before the kill: %+v", res.events)
	}
	stored := checkStream(t, survivor, res, st.ID, "COMPLETED")
	if !strings.HasPrefix(stored.Text, atKill) {
		t.Errorf("the text written before the crash changed:\nbefore %q\nstored %q", atKill, stored.Text)
	}
	if len(stored.Text) <= len(atKill) {
		t.Errorf("nothing was written after the crash: %q", stored.Text)
	}
	// The bound: the follower sees the story go on within 10 s; a
	// lease alone would take 20 to 25 s to notice the dead replica.
	if resumedAt.IsZero() {
		t.Fatal("no text came after the kill")
	}
	if pause := resumedAt.Sub(killedAt); pause > 10*time.Second {
		t.Errorf("the story went on %v after the kill; want within 10 s", pause.Round(time.Millisecond))
	}
	t.Logf("killed after %d bytes; text came again %v later; completed with %d bytes", len(atKill), resumedAt.Sub(killedAt).Round(time.Millisecond), len(stored.Text))
}
