package story_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/ent"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/story"
)

func intp(n int) *int { return &n }

func TestGenerateAndSubscribe(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		r := newReplica(t, db, &llm.Storyteller{TokensPerSecond: 500}, story.Config{})
		ctx := ownerCtx(t, db)
		p := addPrompt(t, db, "A beekeeper on a ship of glass")

		st, err := r.Generate(ctx, story.GenerateInput{PromptID: p, MaxTokens: intp(80)})
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != entstory.StatusPending || st.LeaseOwner == nil || st.MaxTokens != 80 || st.Model != "" && st.Model != "storyteller" {
			t.Errorf("generateStory returned %+v", st)
		}
		first, err := r.Subscribe(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		// A second subscriber joins late.
		var late []*story.Event
		lateDone := make(chan struct{})
		go func() {
			defer close(lateDone)
			time.Sleep(60 * time.Millisecond)
			ch, err := r.Subscribe(ctx, st.ID)
			if err != nil {
				t.Error(err)
				return
			}
			late = collect(t, ch)
		}()
		stored := checkStream(t, db, st.ID, collect(t, first), "COMPLETED")
		<-lateDone
		checkStream(t, db, st.ID, late, "COMPLETED")
		if stored.TokenCount == 0 || stored.TokenCount > 80 || stored.StartedAt == nil || stored.Model != "storyteller" {
			t.Errorf("stored story: %d tokens, started %v, model %q", stored.TokenCount, stored.StartedAt, stored.Model)
		}

		// A finished story: one event with everything.
		ch, err := r.Subscribe(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		done := collect(t, ch)
		if len(done) != 1 || done[0].Delta != stored.Text || done[0].Status != entstory.StatusCompleted {
			t.Errorf("finished story stream: %d events", len(done))
		}
		if _, err := r.Cancel(ctx, st.ID); !errors.Is(err, story.ErrFinished) {
			t.Errorf("cancelling a finished story: %v, want ErrFinished", err)
		}
	})
}

func TestUnknownStory(t *testing.T) {
	db := dbtest.Open(t, "sqlite3")
	r := newReplica(t, db, &llm.Storyteller{}, story.Config{})
	for _, id := range []pulid.ID{"st_01JDQ3K8Z6V4X0M2T5R7N9B1C3", "pr_01JDQ3K8Z6V4X0M2T5R7N9B1C3"} {
		if _, err := r.Subscribe(context.Background(), id); !errors.Is(err, story.ErrNotFound) {
			t.Errorf("Subscribe(%s) = %v, want ErrNotFound", id, err)
		}
		if _, err := r.Cancel(context.Background(), id); !errors.Is(err, story.ErrNotFound) {
			t.Errorf("Cancel(%s) = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := r.Generate(context.Background(), story.GenerateInput{PromptID: "pr_01JDQ3K8Z6V4X0M2T5R7N9B1C3"}); !errors.Is(err, story.ErrNotFound) {
		t.Errorf("Generate(missing prompt) = %v", err)
	}
}

func TestSlowSubscriberGetsMergedText(t *testing.T) {
	db := dbtest.Open(t, "sqlite3")
	r := newReplica(t, db, &llm.Storyteller{TokensPerSecond: 1000}, story.Config{})
	ctx := ownerCtx(t, db)
	st, err := r.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "A slow reader"), MaxTokens: intp(300)})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := r.Subscribe(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Read nothing until the story is stored as finished: the generator
	// must not wait for this subscriber.
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur, err := db.Client.Story.Get(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Status == entstory.StatusCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the story did not finish while its subscriber was not reading")
		}
		time.Sleep(10 * time.Millisecond)
	}
	events := collect(t, ch)
	stored := checkStream(t, db, st.ID, events, "COMPLETED")
	if len(events) > 4 {
		t.Errorf("a subscriber that read nothing got %d events for %d tokens; want them merged", len(events), stored.TokenCount)
	}
}

func TestCancel(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		r := newReplica(t, db, &llm.Storyteller{TokensPerSecond: 50}, story.Config{})
		ctx := ownerCtx(t, db)
		st, err := r.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "A door that opens onto yesterday"), MaxTokens: intp(1000)})
		if err != nil {
			t.Fatal(err)
		}
		ch, err := r.Subscribe(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		var events []*story.Event
		for ev := range ch {
			events = append(events, ev)
			if len(events) == 5 {
				got, err := r.Cancel(ctx, st.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != entstory.StatusCancelled || got.Text == "" || got.Error != nil {
					t.Errorf("Cancel returned %s with %q", got.Status, got.Text)
				}
			}
		}
		stored := checkStream(t, db, st.ID, events, "CANCELLED")
		if stored.TokenCount >= 1000 {
			t.Errorf("cancelled story ran to the end")
		}
	})
}

func TestModelServerFailureKeepsText(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		ctx := ownerCtx(t, db)
		failing := fakeModel(t, []string{"Once", " upon", " a", " time"}, 10*time.Millisecond, "error")
		gen, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: failing.URL + "/v1", Model: "fake"})
		if err != nil {
			t.Fatal(err)
		}
		r := newReplica(t, db, gen, story.Config{})
		st, err := r.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "A failing model")})
		if err != nil {
			t.Fatal(err)
		}
		ch, _ := r.Subscribe(ctx, st.ID)
		stored := checkStream(t, db, st.ID, collect(t, ch), "FAILED")
		if stored.Text != "Once upon a time" || stored.Error == nil || !strings.Contains(*stored.Error, "the model crashed") {
			t.Errorf("failed story: text %q, error %v", stored.Text, stored.Error)
		}

		killed := fakeModel(t, []string{"It", " was", " a", " dark"}, 10*time.Millisecond, "die")
		genKilled, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: killed.URL + "/v1", Model: "fake"})
		if err != nil {
			t.Fatal(err)
		}
		rk := newReplica(t, db, genKilled, story.Config{Owner: "killed"})
		// Another story goes on meanwhile, on the same replica.
		steady := fakeModel(t, []string{"All", " is", " well", "."}, 30*time.Millisecond, "stop")
		genSteady, _ := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: steady.URL + "/v1", Model: "fake"})
		rs := newReplica(t, db, genSteady, story.Config{Owner: "steady"})
		stK, err := rk.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "A model server that dies")})
		if err != nil {
			t.Fatal(err)
		}
		stS, err := rs.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "A model server that lives")})
		if err != nil {
			t.Fatal(err)
		}
		chK, _ := rk.Subscribe(ctx, stK.ID)
		chS, _ := rs.Subscribe(ctx, stS.ID)
		storedK := checkStream(t, db, stK.ID, collect(t, chK), "FAILED")
		if storedK.Text != "It was a dark" || storedK.Error == nil {
			t.Errorf("killed model server: text %q, error %v", storedK.Text, storedK.Error)
		}
		if storedS := checkStream(t, db, stS.ID, collect(t, chS), "COMPLETED"); storedS.Text != "All is well." {
			t.Errorf("the other story: %q", storedS.Text)
		}

		refused, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: "http://127.0.0.1:1/v1", Model: "fake"})
		if err != nil {
			t.Fatal(err)
		}
		r2 := newReplica(t, db, refused, story.Config{Owner: "other"})
		st2, err := r2.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "Nobody answers")})
		if err != nil {
			t.Fatal(err)
		}
		ch2, _ := r2.Subscribe(ctx, st2.ID)
		stored2 := checkStream(t, db, st2.ID, collect(t, ch2), "FAILED")
		if stored2.Error == nil || *stored2.Error == "" {
			t.Error("a refused connection must leave a clear error")
		}
	})
}

func TestCancelStopsTheModelStream(t *testing.T) {
	db := dbtest.Open(t, "sqlite3")
	ctx := ownerCtx(t, db)
	model := fakeModel(t, []string{"Once", " upon"}, 5*time.Millisecond, "hang")
	gen, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: model.URL + "/v1", Model: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	r := newReplica(t, db, gen, story.Config{})
	st, err := r.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "A hanging model")})
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := r.Subscribe(ctx, st.ID)
	for ev := range ch {
		if strings.Contains(ev.Delta, "upon") || ev.Seq > 1 && ev.TokenCount >= 2 {
			break
		}
	}
	begin := time.Now()
	got, err := r.Cancel(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took > time.Second {
		t.Errorf("cancel took %v; the model stream must close within 1s", took)
	}
	if got.Status != entstory.StatusCancelled || got.Text != "Once upon" {
		t.Errorf("cancelled: %s %q", got.Status, got.Text)
	}
}

// TestSweeperTakesOverAbandonedStories leaves stories behind as a crashed
// replica would, then starts another: the stories being written are taken
// over and completed, their stored text kept as the start of their text;
// the one being cancelled ends CANCELLED; the one already taken over as
// often as allowed ends FAILED, text kept.
func TestSweeperTakesOverAbandonedStories(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		ctx := ownerCtx(t, db)
		p := addPrompt(t, db, "An abandoned story")
		soon := time.Now().UTC().Add(300 * time.Millisecond)
		create := func(status entstory.Status, text string, takeovers int) *ent.Story {
			st, err := db.Client.Story.Create().SetPromptID(p).SetStatus(status).SetText(text).SetTokenCount(len(strings.Fields(text))).
				SetMaxTokens(40).SetTakeovers(takeovers).SetLeaseOwner("crashed-replica").SetLeaseExpiresAt(soon).Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		// A crashed replica left these behind mid-generation.
		generating := create(entstory.StatusGenerating, "Once upon a time, there was", 0)
		pending := create(entstory.StatusPending, "", 0)
		cancelling := create(entstory.StatusCancelled, "Half a", 0)
		unlucky := create(entstory.StatusGenerating, "Three times cut short,", 3)

		r := newReplica(t, db, &llm.Storyteller{}, story.Config{SweepInterval: 100 * time.Millisecond})
		// The one being cancelled last: it reads CANCELLED (so its stream
		// ends at once) even before the sweeper has given up its lease.
		for _, c := range []struct {
			st     *ent.Story
			status entstory.Status
		}{
			{generating, entstory.StatusCompleted}, {pending, entstory.StatusCompleted},
			{unlucky, entstory.StatusFailed}, {cancelling, entstory.StatusCancelled},
		} {
			st, status := c.st, c.status
			ch, err := r.Subscribe(ctx, st.ID)
			if err != nil {
				t.Fatal(err)
			}
			stored := checkStream(t, db, st.ID, collect(t, ch), status.String())
			if !strings.HasPrefix(stored.Text, st.Text) {
				t.Errorf("%s story: its text before the crash %q is not the start of %q", status, st.Text, stored.Text)
			}
			switch status {
			case entstory.StatusCompleted:
				if stored.Takeovers != 1 || stored.Error != nil || len(stored.Text) <= len(st.Text) || stored.TokenCount <= st.TokenCount {
					t.Errorf("taken over: %d takeovers, error %v, %d tokens %q", stored.Takeovers, stored.Error, stored.TokenCount, stored.Text)
				}
			case entstory.StatusFailed:
				if stored.Text != st.Text || stored.Error == nil || !strings.Contains(*stored.Error, "interrupted") {
					t.Errorf("ended after too many takeovers: %q, error %v", stored.Text, stored.Error)
				}
			}
		}
	})
}

func TestShutdownInterruptsRunsAndKeepsText(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		ctx := ownerCtx(t, db)
		svc := story.New(db.Client, &llm.Storyteller{TokensPerSecond: 100}, newMemoryBroker(), story.Config{Owner: "stopping"})
		st, err := svc.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "A long story cut short"), MaxTokens: intp(4000)})
		if err != nil {
			t.Fatal(err)
		}
		ch, _ := svc.Subscribe(ctx, st.ID)
		var events []*story.Event
		for ev := range ch {
			events = append(events, ev)
			if len(events) == 3 {
				break
			}
		}
		sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		go svc.Shutdown(sctx)
		for ev := range ch {
			events = append(events, ev)
		}
		stored := checkStream(t, db, st.ID, events, "FAILED")
		if stored.Error == nil || !strings.Contains(*stored.Error, "interrupted") {
			t.Errorf("error %v, want interrupted", stored.Error)
		}
		if _, err := svc.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "too late")}); !errors.Is(err, story.ErrShuttingDown) {
			t.Errorf("Generate after Shutdown: %v", err)
		}
	})
}

func TestBatchedWrites(t *testing.T) {
	db := dbtest.Open(t, "postgres")
	writes := countWrites(t, db)
	// A model server streaming 500 tokens a second for about two seconds.
	chunks := make([]string, 1000)
	for i := range chunks {
		chunks[i] = " word"
	}
	model := fakeModel(t, chunks, 2*time.Millisecond, "stop")
	gen, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: model.URL + "/v1", Model: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	r := newReplica(t, db, gen, story.Config{})
	ctx := ownerCtx(t, db)
	st, err := r.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "A very fast storyteller"), MaxTokens: intp(4000)})
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := r.Subscribe(ctx, st.ID)
	stored := checkStream(t, db, st.ID, collect(t, ch), "COMPLETED")
	seconds := stored.FinishedAt.Sub(*stored.StartedAt).Seconds()
	n, busiest := writes(st.ID)
	if busiest > 10 {
		t.Errorf("%d writes within one second; want at most 10", busiest)
	}
	// At most one write per FlushInterval (100 ms), the end included, plus
	// the start.
	if limit := int(seconds*10) + 2; n > limit {
		t.Errorf("%d writes for %d tokens in %.2fs; want at most %d", n, stored.TokenCount, seconds, limit)
	}
	if stored.TokenCount != 1000 {
		t.Errorf("stored %d tokens, want 1000", stored.TokenCount)
	}
	if n < 3 {
		t.Errorf("only %d writes: text was not stored while it was written", n)
	}
	t.Logf("%d tokens in %.2fs: %d writes (%.1f/s), at most %d in one second", stored.TokenCount, seconds, n, float64(n)/seconds, busiest)
}
