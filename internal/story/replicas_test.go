package story_test

import (
	"testing"
	"time"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/story"
)

// TestAcrossReplicas runs two replicas on one Postgres database: stories
// generated on A are followed on B, also when B's listening connection is
// killed mid-stream, and a story can be cancelled from either.
func TestAcrossReplicas(t *testing.T) {
	dbA := dbtest.Open(t, "postgres")
	dbB := second(t, dbA)
	a := newReplica(t, dbA, &llm.Storyteller{TokensPerSecond: 100}, story.Config{Owner: "replica-a"})
	b := newReplica(t, dbB, &llm.Storyteller{TokensPerSecond: 100}, story.Config{Owner: "replica-b"},
		broker.WithListenerName("storybot-test-listener-b"), broker.WithReconnect(50*time.Millisecond, 200*time.Millisecond))
	ctx := ownerCtx(t, dbA)

	t.Run("follow", func(t *testing.T) {
		st, err := a.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, dbA, "A ferry between two moons"), MaxTokens: intp(150)})
		if err != nil {
			t.Fatal(err)
		}
		ch, err := b.Subscribe(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		events := collect(t, ch)
		checkStream(t, dbB, st.ID, events, "COMPLETED")
		if len(events) < 3 {
			t.Errorf("replica B got %d events: it did not follow live", len(events))
		}
	})

	t.Run("listener killed mid-stream", func(t *testing.T) {
		st, err := a.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, dbA, "A radio that only plays tomorrow"), MaxTokens: intp(400)})
		if err != nil {
			t.Fatal(err)
		}
		ch, err := b.Subscribe(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		var events []*story.Event
		killed := false
		for ev := range ch {
			events = append(events, ev)
			if !killed && len(events) >= 3 {
				var n int
				err := dbA.SQL.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
					WHERE application_name = 'storybot-test-listener-b'`).Scan(&n)
				if err != nil || n != 1 {
					t.Fatalf("terminating B's listener: %d backends, %v", n, err)
				}
				killed = true
			}
		}
		if !killed {
			t.Fatal("the story ended before the listener could be killed")
		}
		checkStream(t, dbB, st.ID, events, "COMPLETED")
	})

	t.Run("cancel from the other replica", func(t *testing.T) {
		st, err := a.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, dbA, "A clock that runs on stories"), MaxTokens: intp(2000)})
		if err != nil {
			t.Fatal(err)
		}
		chA, _ := a.Subscribe(ctx, st.ID)
		chB, _ := b.Subscribe(ctx, st.ID)
		for ev := range chA {
			if ev.TokenCount >= 10 {
				break
			}
		}
		got, err := b.Cancel(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != entstory.StatusCancelled || got.LeaseOwner != nil {
			t.Errorf("Cancel on B returned %s, lease %v", got.Status, got.LeaseOwner)
		}
		var restA []*story.Event
		for ev := range chA {
			restA = append(restA, ev)
		}
		if len(restA) == 0 || restA[len(restA)-1].Status != entstory.StatusCancelled {
			t.Errorf("A's subscriber did not see the cancellation")
		}
		checkStream(t, dbB, st.ID, collect(t, chB), "CANCELLED")
		stored, _ := dbA.Client.Story.Get(ctx, st.ID)
		time.Sleep(300 * time.Millisecond)
		after, _ := dbA.Client.Story.Get(ctx, st.ID)
		if after.Text != stored.Text || after.Text != got.Text {
			t.Errorf("text changed after the cancellation: %d then %d bytes", len(stored.Text), len(after.Text))
		}
	})
}
