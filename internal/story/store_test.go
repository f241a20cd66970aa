package story

import (
	"context"
	"errors"
	"testing"
	"time"

	_ "github.com/storybot/storybot/ent/runtime"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/llm"
)

// TestWritesAreIdempotent repeats each write, as a replica does when the
// database committed it but the answer was lost: the text is stored once.
func TestWritesAreIdempotent(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		s := New(db.Client, &llm.Storyteller{}, broker.NewMemory(), Config{Owner: "me"})
		p, err := db.Client.Prompt.Create().SetContent("idempotence").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, err := db.Client.Story.Create().SetPromptID(p.ID).SetStatus(entstory.StatusGenerating).SetMaxTokens(10).
			SetLeaseOwner("me").SetLeaseExpiresAt(time.Now().Add(time.Minute)).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		for range 2 {
			if _, err := s.appendText(ctx, st.ID, "me", 0, "Once upon", 2, now, now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.appendText(ctx, st.ID, "someone else", 9, " a time", 4, now, now.Add(time.Minute)); !errors.Is(err, errLeaseLost) {
			t.Errorf("another owner's write: %v, want errLeaseLost", err)
		}
		if _, err := s.appendText(ctx, st.ID, "me", 3, " nope", 3, now, now.Add(time.Minute)); err == nil {
			t.Error("a write at the wrong offset succeeded")
		}
		for range 2 {
			status, err := s.end(ctx, st.ID, "me", 9, " a time.", 4, entstory.StatusCompleted, nil, "storyteller", now)
			if err != nil || status != entstory.StatusCompleted {
				t.Fatalf("end: %s, %v", status, err)
			}
		}
		got, err := db.Client.Story.Get(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Text != "Once upon a time." || got.Status != entstory.StatusCompleted || got.LeaseOwner != nil {
			t.Errorf("stored %q, %s, lease %v", got.Text, got.Status, got.LeaseOwner)
		}
	})
}
