package story_test

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/storybot/storybot/ent/user"
	"github.com/storybot/storybot/internal/viewer"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/storybot/storybot/ent"
	_ "github.com/storybot/storybot/ent/runtime"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/story"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// replica is one storybot replica's story service, stopped when the test ends.
type replica struct {
	*story.Service
	db     *database.DB
	events broker.Broker
}

// newReplica starts a service on db. With Postgres it gets its own Postgres
// broker (one listening connection), as a real replica does.
func newReplica(t *testing.T, db *database.DB, gen story.Generator, cfg story.Config, opts ...broker.Option) *replica {
	t.Helper()
	var events broker.Broker = broker.NewMemory()
	if db.URL != "" {
		pg, err := broker.NewPostgres(context.Background(), db.URL, nil, append([]broker.Option{broker.WithDB(db.SQL)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		events = pg
	}
	if cfg.Owner == "" {
		cfg.Owner = t.Name()
	}
	svc := story.New(db.Client, gen, events, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); svc.Run(ctx) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		svc.Shutdown(sctx)
		cancel()
		wg.Wait()
		events.Close()
	})
	return &replica{Service: svc, db: db, events: events}
}

// second opens another connection pool to the same Postgres database, for a
// second replica.
func second(t *testing.T, db *database.DB) *database.DB {
	t.Helper()
	other, err := database.Open(context.Background(), database.Options{URL: db.URL, MaxOpenConns: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

func addPrompt(t *testing.T, db *database.DB, content string) pulid.ID {
	t.Helper()
	p, err := db.Client.Prompt.Create().SetContent(content).Save(ownerCtx(t, db))
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// collect reads a stream to its end.
func collect(t *testing.T, ch <-chan *story.Event) []*story.Event {
	t.Helper()
	var events []*story.Event
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return events
			}
			events = append(events, ev)
		case <-timeout:
			t.Fatalf("stream did not end; %d events so far", len(events))
		}
	}
}

func joined(events []*story.Event) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString(e.Delta)
	}
	return b.String()
}

// checkStream asserts the invariant of a stream against the stored story.
func checkStream(t *testing.T, db *database.DB, id pulid.ID, events []*story.Event, want string) *ent.Story {
	t.Helper()
	if len(events) == 0 {
		t.Fatal("no events")
	}
	for i, e := range events {
		if e.Seq != i+1 {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
	last := events[len(events)-1]
	st, err := db.Client.Story.Get(viewer.System(context.Background()), id)
	if err != nil {
		t.Fatal(err)
	}
	if last.Status.String() != want || st.Status.String() != want {
		t.Errorf("final status: stream %s, stored %s, want %s", last.Status, st.Status, want)
	}
	if got := joined(events); got != st.Text {
		t.Errorf("stream text differs from stored text:\nstream %q\nstored %q", got, st.Text)
	}
	if last.TokenCount != st.TokenCount {
		t.Errorf("final token count %d, stored %d", last.TokenCount, st.TokenCount)
	}
	if st.LeaseOwner != nil || st.FinishedAt == nil {
		t.Errorf("finished story still leased (%v) or without finishedAt", st.LeaseOwner)
	}
	return st
}

// fakeModel is an OpenAI-compatible server that streams the given chunks,
// one every gap, and then ends as end says: "stop", "error" (an error object
// mid-stream), "hang" (until the client goes away) or "die" (the connection
// is cut, as when the model server is killed).
func fakeModel(t *testing.T, chunks []string, gap time.Duration, end string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for _, c := range chunks {
			fmt.Fprintf(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"fake\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":null}]}\n\n", c)
			f.Flush()
			select {
			case <-time.After(gap):
			case <-r.Context().Done():
				return
			}
		}
		switch end {
		case "stop":
			fmt.Fprint(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"fake\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
		case "error":
			fmt.Fprint(w, "data: {\"error\":{\"message\":\"the model crashed\",\"type\":\"server_error\"}}\n\n")
		case "hang":
			<-r.Context().Done()
		case "die":
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		f.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// countWrites installs a trigger that counts the UPDATEs of one story. It
// returns their number and the most in any one second.
func countWrites(t *testing.T, db *database.DB) func(id pulid.ID) (total, busiestSecond int) {
	t.Helper()
	for _, q := range []string{
		`CREATE TABLE story_writes (story_id text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
		`CREATE FUNCTION count_story_write() RETURNS trigger AS $$ BEGIN INSERT INTO story_writes (story_id) VALUES (NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql`,
		`CREATE TRIGGER story_writes AFTER UPDATE ON stories FOR EACH ROW EXECUTE FUNCTION count_story_write()`,
	} {
		if _, err := db.SQL.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return func(id pulid.ID) (total, busiestSecond int) {
		err := db.SQL.QueryRow(`SELECT count(*), COALESCE(max(n), 0) FROM (
			SELECT (SELECT count(*) FROM story_writes w2 WHERE w2.story_id = w.story_id
				AND w2.at >= w.at AND w2.at < w.at + interval '1 second') AS n
			FROM story_writes w WHERE w.story_id = $1) windows`, string(id)).Scan(&total, &busiestSecond)
		if err != nil {
			t.Fatal(err)
		}
		return total, busiestSecond
	}
}

var _ = sql.ErrNoRows

func newMemoryBroker() broker.Broker { return broker.NewMemory() }

// ownerCtx returns the context of a request by the user who owns the
// test's prompts and stories, creating that user on first use.
func ownerCtx(t testing.TB, db *database.DB) context.Context {
	t.Helper()
	sys := viewer.System(context.Background())
	u, err := db.Client.User.Query().Where(user.Email("owner@example.com")).Only(sys)
	if ent.IsNotFound(err) {
		u, err = db.Client.User.Create().SetEmail("owner@example.com").Save(sys)
	}
	if err != nil {
		t.Fatal(err)
	}
	return viewer.NewContext(context.Background(), &viewer.Viewer{UserID: u.ID, Role: viewer.RoleUser})
}
