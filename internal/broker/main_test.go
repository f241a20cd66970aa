package broker

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testServerDSN reaches the test PostgreSQL server, without a database name.
// STORYBOT_TEST_PG_DSN overrides it, in key=value form.
func testServerDSN() string {
	if dsn := os.Getenv("STORYBOT_TEST_PG_DSN"); dsn != "" {
		return dsn
	}
	return "host=127.0.0.1 port=5432 user=postgres sslmode=disable connect_timeout=5"
}

// newTestDB creates a fresh database for t, dropped when t ends, and returns
// its DSN. Without a server it skips t, except under CI, where it fails t.
func newTestDB(t *testing.T) string {
	t.Helper()
	admin, err := sql.Open("postgres", testServerDSN()+" dbname=postgres")
	if err != nil {
		t.Fatalf("opening the postgres database: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		_ = admin.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI but cannot be reached: %v", err)
		}
		t.Skipf("skipping: no PostgreSQL server reachable with %q (set STORYBOT_TEST_PG_DSN): %v", testServerDSN(), err)
	}

	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "storybot_broker_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
		_ = admin.Close()
	})
	return testServerDSN() + " dbname=" + name
}

// waitTime bounds every wait for an event.
const waitTime = 15 * time.Second

// next returns the next event of sub, failing t when none comes in time or
// the channel is closed.
func next(t *testing.T, sub *Subscription) Event {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if !ok {
			t.Fatalf("subscription to %s closed while waiting for an event", sub.StoryID())
		}
		return ev
	case <-time.After(waitTime):
		t.Fatalf("no event of story %s within %v", sub.StoryID(), waitTime)
	}
	return Event{}
}

// collect returns the next n events of sub.
func collect(t *testing.T, sub *Subscription, n int) []Event {
	t.Helper()
	evs := make([]Event, 0, n)
	for range n {
		evs = append(evs, next(t, sub))
	}
	return evs
}

// drain returns the events buffered in sub right now.
func drain(sub *Subscription) []Event {
	var evs []Event
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// isClosed reports whether sub's channel is closed and empty.
func isClosed(sub *Subscription) bool {
	select {
	case _, ok := <-sub.Events():
		return !ok
	case <-time.After(time.Second):
		return false
	}
}

// textEvents returns n events of story id, each one word long, at
// consecutive offsets from 0.
func textEvents(id string, n int) []Event {
	evs := make([]Event, n)
	offset := 0
	for i := range evs {
		delta := "word" + string(rune('a'+i%26)) + " "
		evs[i] = Event{StoryID: id, Offset: offset, Delta: delta, Status: "GENERATING", TokenCount: i + 1}
		offset += len(delta)
	}
	return evs
}

// resync is the Resync event of story id.
func resync(id string) Event {
	return Event{StoryID: id, Resync: true}
}
