package story

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/storybot/storybot/ent/runtime"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/ent/storypiece"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/viewer"
)

// TestWritesAreIdempotent repeats each write, as a replica does when the
// database committed it but the answer was lost: the text is stored once.
func TestWritesAreIdempotent(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		ctx := viewer.System(context.Background())
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
		for range 2 {
			if _, err := s.appendText(ctx, st.ID, "me", 0, "Once upon", 2); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.appendText(ctx, st.ID, "someone else", 9, " a time", 4); !errors.Is(err, errLeaseLost) {
			t.Errorf("another owner's write: %v, want errLeaseLost", err)
		}
		if _, err := s.appendText(ctx, st.ID, "me", 3, " nope", 3); err == nil {
			t.Error("a write at the wrong offset succeeded")
		}
		for range 2 {
			status, err := s.end(ctx, st.ID, "me", 9, " a time.", 4, entstory.StatusCompleted, nil, "storyteller", nil)
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

// TestAppendsInGroups writes many stories' text at once, as a busy replica
// does: appends that queue together share a statement, and each still gets
// its own answer (stored, another owner's lease, a wrong offset).
func TestAppendsInGroups(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		ctx := viewer.System(context.Background())
		s := New(db.Client, &llm.Storyteller{}, broker.NewMemory(), Config{Owner: "me"})
		p, err := db.Client.Prompt.Create().SetContent("groups").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const n = 300
		ids := make([]pulid.ID, n)
		for i := range ids {
			st, err := db.Client.Story.Create().SetPromptID(p.ID).SetStatus(entstory.StatusGenerating).SetMaxTokens(10).
				SetLeaseOwner("me").SetLeaseExpiresAt(time.Now().Add(time.Minute)).Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = st.ID
		}
		// Story i gets rounds of text; every tenth is written as another
		// owner, every seventh at a wrong offset in its second round.
		const rounds = 3
		errs := make([][]error, n)
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Go(func() {
				offset := 0
				for round := range rounds {
					owner, at := "me", offset
					if i%10 == 0 {
						owner = "someone else"
					}
					if i%7 == 0 && round == 1 {
						at = offset + 1
					}
					delta := fmt.Sprintf("<%d.%d>", i, round)
					_, err := s.appendText(ctx, id, owner, at, delta, round+1)
					errs[i] = append(errs[i], err)
					if err == nil {
						offset += len(delta)
					}
				}
			})
		}
		wg.Wait()
		for i, id := range ids {
			got, err := db.Client.Story.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var want string
			for round, err := range errs[i] {
				switch {
				case i%10 == 0:
					if !errors.Is(err, errLeaseLost) {
						t.Errorf("story %d, round %d, another owner: %v, want errLeaseLost", i, round, err)
					}
				case i%7 == 0 && round == 1:
					if err == nil || errors.Is(err, errLeaseLost) {
						t.Errorf("story %d, round %d, wrong offset: %v, want an error", i, round, err)
					}
				case err != nil:
					t.Errorf("story %d, round %d: %v", i, round, err)
				default:
					want += fmt.Sprintf("<%d.%d>", i, round)
				}
			}
			if text, err := s.Text(ctx, got); err != nil || text != want {
				t.Errorf("story %d stored %q (%v), want %q", i, text, err, want)
			}
		}
		// Their ends, at once too, by the same owners: each story ends with
		// the end's text and status, and its lease is released.
		for i, id := range ids {
			wg.Go(func() {
				got, err := db.Client.Story.Get(ctx, id)
				if err != nil {
					t.Error(err)
					return
				}
				owner := "me"
				if i%10 == 0 {
					owner = "someone else"
				}
				status, err := s.end(ctx, id, owner, got.TextLength, ".", 9, entstory.StatusCompleted, nil, "m", nil)
				switch {
				case i%10 == 0:
					if !errors.Is(err, errLeaseLost) {
						t.Errorf("story %d, another owner's end: %v, want errLeaseLost", i, err)
					}
				case err != nil || status != entstory.StatusCompleted:
					t.Errorf("story %d, end: %s, %v", i, status, err)
				}
			})
		}
		wg.Wait()
		ended, err := db.Client.Story.Query().Where(entstory.StatusEQ(entstory.StatusCompleted), entstory.LeaseOwnerIsNil()).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := n - n/10; ended != want {
			t.Errorf("%d stories ended, want %d", ended, want)
		}
		// The ended stories' pieces are folded into their text and gone.
		for i, id := range ids {
			got, err := db.Client.Story.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if i%10 != 0 && (!strings.HasSuffix(got.Text, ">.") || got.TextLength != len(got.Text)) {
				t.Errorf("story %d ended with text %q (text_length %d)", i, got.Text, got.TextLength)
			}
		}
		left, err := db.Client.StoryPiece.Query().Where(storypiece.StoryIDIn(ids...)).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%d pieces left after the ends (the stories that never ended stored none)", left)
		}
	})
}
