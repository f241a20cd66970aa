package story_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/story"
)

// TestCohortStalledMember follows a story with a cohort of three members,
// one of which stops taking events after its first. The other two go on in
// lockstep, sharing every delivery to the end, without waiting for it; when
// it takes events again it gets everything it missed in one event, merged,
// and its stream keeps the invariant.
func TestCohortStalledMember(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		r := newReplica(t, db, &llm.Storyteller{TokensPerSecond: 400}, story.Config{})
		ctx := ownerCtx(t, db)
		st, err := r.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "A cartographer of tides"), MaxTokens: intp(120)})
		if err != nil {
			t.Fatal(err)
		}

		c := story.NewCohort()
		// slow takes its first event, then none until released.
		var offers atomic.Int32
		var released atomic.Bool
		always := func() bool { return true }
		a, b := c.NewMember(always, nil), c.NewMember(always, nil)
		slow := c.NewMember(func() bool { return released.Load() || offers.Add(1) == 1 }, nil)
		members := map[*story.Member]string{a: "a", b: "b", slow: "slow"}
		ends := map[string]<-chan *story.Event{}
		for m, name := range members {
			ch, err := r.Subscribe(m.Context(ctx), st.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Joined() {
				t.Fatalf("%s did not join the cohort", name)
			}
			ends[name] = ch
		}

		// The renderer: it records each delivery for its members.
		var mu sync.Mutex
		got := map[string][]*story.Event{}
		shared := map[int]int{} // members per delivery, by the offset it ends at
		lastTogether := false
		done := make(chan struct{})
		stop := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case batch := <-c.Work():
					mu.Lock()
					for _, d := range batch {
						for i, m := range d.Members {
							name := members[m]
							ev := *d.Event
							ev.Seq = d.Seqs[i]
							got[name] = append(got[name], &ev)
						}
						shared[d.Event.End] = max(shared[d.Event.End], len(d.Members))
						if d.Last && slices.Contains(d.Members, a) && slices.Contains(d.Members, b) {
							lastTogether = true
						}
					}
					mu.Unlock()
					c.Done()
				case <-stop:
					return
				}
			}
		}()

		// a and b finish while slow has not taken a second event.
		for _, name := range []string{"a", "b"} {
			select {
			case _, open := <-ends[name]:
				if open {
					t.Fatalf("%s's channel carried an event", name)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("%s did not finish while the slow member stalled", name)
			}
		}
		mu.Lock()
		if n := len(got["slow"]); n != 1 {
			t.Errorf("the stalled member got %d events while stalled, want 1", n)
		}
		mu.Unlock()

		// It reads again: one event with everything it missed, then it ends.
		released.Store(true)
		slow.Wake()
		select {
		case <-ends["slow"]:
		case <-time.After(60 * time.Second):
			t.Fatal("the stalled member did not finish once it read again")
		}
		close(stop)
		<-done

		stored := checkStream(t, db, st.ID, got["a"], "COMPLETED")
		checkStream(t, db, st.ID, got["b"], "COMPLETED")
		checkStream(t, db, st.ID, got["slow"], "COMPLETED")
		if n := len(got["slow"]); n != 2 {
			t.Errorf("the stalled member got %d events, want 2 (its first, then the rest merged)", n)
		}
		if len(got["a"]) < 5 || len(stored.Text) == 0 {
			t.Errorf("a got %d events for %q: not streamed", len(got["a"]), stored.Text)
		}
		if !lastTogether {
			t.Error("a and b did not share their last delivery")
		}
		// Once in step, a and b share every delivery: each event rendered
		// once for both.
		sharedEvents := 0
		for _, e := range got["a"] {
			if shared[e.End] >= 2 {
				sharedEvents++
			}
		}
		if sharedEvents < len(got["a"])-2 {
			t.Errorf("a and b shared %d of a's %d events", sharedEvents, len(got["a"]))
		}
	})
}
