package story_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/story"
)

// TestPresence runs two replicas on Postgres, each holding its presence
// lock: a story generated on one for several sweeps of the other is left
// alone, while a story leased to a replica that holds no lock (it died) is
// taken over within a sweep or two, its text kept as its start, and
// completed long before its lease would have run out.
func TestPresence(t *testing.T) {
	db := dbtest.Open(t, "postgres")
	other := second(t, db)
	chunks := make([]string, 40)
	for i := range chunks {
		chunks[i] = fmt.Sprintf(" beat%d", i)
	}
	model := fakeModel(t, chunks, 100*time.Millisecond, "stop") // 4 s
	gen, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: model.URL + "/v1", Model: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(owner string, pool *sql.DB) story.Config {
		return story.Config{Owner: owner, Dialect: dialect.Postgres, DB: pool, SweepInterval: 200 * time.Millisecond}
	}
	a := newReplica(t, db, gen, cfg("alive", db.SQL))
	b := newReplica(t, other, gen, cfg("watcher", other.SQL))
	ctx := ownerCtx(t, db)

	// A replica that died mid-story, its lease renewed 3 s ago, 17 s left.
	ghost, err := db.Client.Story.Create().SetPromptID(addPrompt(t, db, "A ghost's story")).SetStatus(entstory.StatusGenerating).
		SetText("Once, before the crash,").SetMaxTokens(100).
		SetLeaseOwner("ghost").SetLeaseExpiresAt(time.Now().Add(17 * time.Second)).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "A living story"), MaxTokens: intp(100)})
	if err != nil {
		t.Fatal(err)
	}
	ghostCh, err := b.Subscribe(ctx, ghost.ID)
	if err != nil {
		t.Fatal(err)
	}
	swept := checkStream(t, db, ghost.ID, collect(t, ghostCh), "COMPLETED")
	if !strings.HasPrefix(swept.Text, "Once, before the crash, beat0") || swept.Takeovers != 1 {
		t.Errorf("the dead replica's story, taken over %d times, has the text %q", swept.Takeovers, swept.Text)
	}
	// By its lease alone, it could not have been taken over before the
	// lease's end.
	if early := ghost.LeaseExpiresAt.Sub(*swept.FinishedAt); early < 10*time.Second {
		t.Errorf("the dead replica's story was completed only %v before its lease would have run out", early)
	}

	ch, err := b.Subscribe(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := checkStream(t, db, st.ID, collect(t, ch), "COMPLETED")
	if got.TokenCount != len(chunks) {
		t.Errorf("the living story ended with %d tokens, want %d", got.TokenCount, len(chunks))
	}
	if took := got.FinishedAt.Sub(*got.StartedAt); took < 3*time.Second {
		t.Errorf("the living story ran %v: too short to have met several sweeps", took)
	}
}
