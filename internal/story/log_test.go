package story_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/story"
	"github.com/storybot/storybot/internal/viewer"
)

// TestTextIsAppendedNeverRewritten writes a story of 4,096 tokens and
// watches every statement on its rows with triggers: while it runs, its
// text column never changes and no piece is ever updated; pieces are
// inserted at contiguous offsets and stay as first written (their xmin too);
// the one statement that changes the story's text is its end, which folds
// the pieces in and deletes them.
func TestTextIsAppendedNeverRewritten(t *testing.T) {
	db := dbtest.Open(t, "postgres")
	for _, q := range []string{
		`CREATE TABLE text_changes (story_id text NOT NULL, what text NOT NULL)`,
		`CREATE FUNCTION note_text_change() RETURNS trigger AS $$ BEGIN
			IF TG_TABLE_NAME = 'story_pieces' THEN
				INSERT INTO text_changes VALUES (OLD.story_id, 'piece ' || TG_OP);
			ELSIF OLD.text IS DISTINCT FROM NEW.text THEN
				INSERT INTO text_changes VALUES (NEW.id, 'text, now ' || NEW.status);
			END IF;
			RETURN NULL;
		END $$ LANGUAGE plpgsql`,
		`CREATE TRIGGER note_text_change AFTER UPDATE ON stories FOR EACH ROW EXECUTE FUNCTION note_text_change()`,
		`CREATE TRIGGER note_piece_change AFTER UPDATE ON story_pieces FOR EACH ROW EXECUTE FUNCTION note_text_change()`,
	} {
		if _, err := db.SQL.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	const tokens = 4096
	chunks := make([]string, tokens)
	for i := range chunks {
		chunks[i] = fmt.Sprintf(" w%d", i)
	}
	model := fakeModel(t, chunks, 500*time.Microsecond, "stop")
	gen, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: model.URL + "/v1", Model: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	r := newReplica(t, db, gen, story.Config{})
	ctx := ownerCtx(t, db)
	st, err := r.Generate(ctx, story.GenerateInput{PromptID: addPrompt(t, db, "A long one"), MaxTokens: intp(tokens)})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := r.Subscribe(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}

	// While it runs, read its pieces now and then: each reading holds the
	// ones before it unchanged, and starts where the last one ended.
	type piece struct {
		text string
		xmin string
	}
	seen := map[int]piece{}
	readings, stored := 0, 0
	done := make(chan []*story.Event)
	go func() { done <- collect(t, ch) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var events []*story.Event
	for events == nil {
		select {
		case events = <-done:
			continue
		case <-tick.C:
		}
		var text string
		var length int
		if err := db.SQL.QueryRow(`SELECT text, text_length FROM stories WHERE id = $1 AND status = 'GENERATING'`, string(st.ID)).Scan(&text, &length); err != nil {
			continue // not running (yet, or any more)
		}
		if text != "" {
			t.Fatalf("a running story's text column holds %d bytes; its text belongs in pieces", len(text))
		}
		rows, err := db.SQL.Query(`SELECT start, text, xmin::text FROM story_pieces WHERE story_id = $1 ORDER BY start`, string(st.ID))
		if err != nil {
			t.Fatal(err)
		}
		next := 0
		for rows.Next() {
			var start int
			var p piece
			if err := rows.Scan(&start, &p.text, &p.xmin); err != nil {
				t.Fatal(err)
			}
			if start != next {
				t.Fatalf("a piece starts at byte %d, the one before it ends at %d", start, next)
			}
			next = start + len(p.text)
			if was, ok := seen[start]; ok && was != p {
				t.Fatalf("the piece at byte %d changed: was %q (xmin %s), now %q (xmin %s)", start, was.text, was.xmin, p.text, p.xmin)
			}
			seen[start] = p
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if next < length {
			t.Fatalf("pieces hold %d bytes, the story says %d", next, length)
		}
		readings++
		stored = max(stored, next)
	}
	got := checkStream(t, db, st.ID, events, "COMPLETED")
	if got.TokenCount != tokens || !strings.HasSuffix(got.Text, fmt.Sprintf(" w%d", tokens-1)) {
		t.Errorf("stored %d tokens ending %q", got.TokenCount, got.Text[max(0, len(got.Text)-20):])
	}
	if readings < 3 || len(seen) < 3 || stored == 0 {
		t.Fatalf("%d readings saw %d pieces (%d bytes) while the story ran; too few to tell", readings, len(seen), stored)
	}
	var changes []string
	rows, err := db.SQL.Query(`SELECT what FROM text_changes WHERE story_id = $1`, string(st.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var what string
		if err := rows.Scan(&what); err != nil {
			t.Fatal(err)
		}
		changes = append(changes, what)
	}
	if len(changes) != 1 || changes[0] != "text, now COMPLETED" {
		t.Errorf("statements that changed stored text: %q; want only the end's", changes)
	}
	var left int
	if err := db.SQL.QueryRow(`SELECT count(*) FROM story_pieces WHERE story_id = $1`, string(st.ID)).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 || got.TextLength != len(got.Text) {
		t.Errorf("after the end: %d pieces left, text_length %d for %d bytes", left, got.TextLength, len(got.Text))
	}
	// Read through the service as a running story's would be: the same.
	text, err := r.Text(viewer.System(context.Background()), got)
	if err != nil || text != got.Text {
		t.Errorf("Text of the ended story: %d bytes, %v", len(text), err)
	}
	t.Logf("%d tokens, %d bytes: %d pieces seen over %d readings", got.TokenCount, len(got.Text), len(seen), readings)
}
