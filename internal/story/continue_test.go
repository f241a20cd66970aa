package story_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/storybot/storybot/ent/usageday"
	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/story"
	"github.com/storybot/storybot/internal/viewer"
)

// recorder is the storyteller, remembering what it was asked.
type recorder struct {
	llm.Storyteller
	mu   sync.Mutex
	reqs []llm.Request
}

func (r *recorder) Generate(ctx context.Context, req llm.Request, emit func(string)) (llm.Result, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	return r.Storyteller.Generate(ctx, req, emit)
}

func (r *recorder) last() llm.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[len(r.reqs)-1]
}

// TestContinue continues a finished story: the generator gets the story so
// far and the instruction, the text grows from exactly where it was, and
// the story's and its owner's token counts add the continuation's.
func TestContinue(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		gen := &recorder{}
		r := newReplica(t, db, gen, story.Config{UserDailyTokens: 100000})
		ctx := ownerCtx(t, db)
		p := addPrompt(t, db, "A beekeeper on a ship of glass")
		promptWords := 7

		st, err := r.Generate(ctx, story.GenerateInput{PromptID: p, MaxTokens: intp(20)})
		if err != nil {
			t.Fatal(err)
		}
		ch, err := r.Subscribe(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		old := checkStream(t, db, st.ID, collect(t, ch), "COMPLETED")

		cont, err := r.Continue(ctx, st.ID, &story.ContinueInput{MaxTokens: intp(15), Instruction: new(string)})
		if err != nil {
			t.Fatal(err)
		}
		if cont.Text != old.Text || cont.TokenCount != old.TokenCount {
			t.Errorf("continueStory answered with %d tokens of %q", cont.TokenCount, cont.Text)
		}
		if _, err := r.Continue(ctx, st.ID, nil); !errors.Is(err, story.ErrInvalidInput) {
			t.Errorf("continuing a running story: %v, want ErrInvalidInput", err)
		}
		ch, err = r.Subscribe(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		events := collect(t, ch)
		stored := checkStream(t, db, st.ID, events, "COMPLETED")
		added := stored.TokenCount - old.TokenCount
		if !strings.HasPrefix(stored.Text, old.Text) || added < 1 || added > 15 {
			t.Fatalf("continued: %d tokens added to %q: %q", added, old.Text, stored.Text)
		}
		if req := gen.last(); req.Story != old.Text || req.MaxTokens != 15 {
			t.Errorf("the generator was asked for %d tokens after %q", req.MaxTokens, req.Story)
		}
		if stored.PromptTokens != 2*promptWords || stored.CompletionTokens != stored.TokenCount {
			t.Errorf("story usage: %d prompt, %d completion tokens; want %d and %d", stored.PromptTokens, stored.CompletionTokens, 2*promptWords, stored.TokenCount)
		}
		sys := viewer.System(context.Background())
		day, err := db.Client.UsageDay.Query().Where(usageday.UserID(stored.UserID)).Only(sys)
		if err != nil {
			t.Fatal(err)
		}
		if day.Tokens != 2*promptWords+stored.TokenCount || day.Reserved != 0 {
			t.Errorf("day usage: %d tokens, %d reserved; want %d and 0", day.Tokens, day.Reserved, 2*promptWords+stored.TokenCount)
		}

		// Another user's story is not found.
		other := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: pulid.New(pulid.UserPrefix), Role: viewer.RoleUser})
		if _, err := r.Continue(other, st.ID, nil); !errors.Is(err, story.ErrNotFound) {
			t.Errorf("continuing another user's story: %v, want ErrNotFound", err)
		}
	})
}
