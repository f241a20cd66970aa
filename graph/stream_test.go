package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/graph"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/story"
	"github.com/storybot/storybot/internal/subscription"
)

// pathRecorder is a field interceptor that records the path of every
// StoryEvent field it sees.
type pathRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (*pathRecorder) ExtensionName() string                   { return "pathRecorder" }
func (*pathRecorder) Validate(graphql.ExecutableSchema) error { return nil }
func (p *pathRecorder) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "StoryEvent" {
		p.mu.Lock()
		p.paths = append(p.paths, fc.Path().String())
		p.mu.Unlock()
	}
	return next(ctx)
}

// TestStreamEventPaths checks that the fields of a subscription's events
// sit under the subscription's root field, as the fields of any other
// result do: their paths (those of their errors too) start with its alias.
func TestStreamEventPaths(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		a := newAPI(t, db)
		id := a.addStory(a.createPrompt("a finished story"), entstory.StatusCompleted, "The end.")

		rec := &pathRecorder{}
		stories := story.New(db.Client, &llm.Storyteller{}, broker.NewMemory(), story.Config{})
		h := graph.NewHandler(graph.NewSchema(db.Client, stories, nil, nil), graph.HandlerOptions{
			Transports: []graphql.Transport{&subscription.SSE{}},
			Extensions: []graphql.HandlerExtension{rec},
		})
		url := a.serve(h)

		body, _ := json.Marshal(map[string]any{
			"query":     `subscription($id: ID!) { live: storyStream(storyID: $id) { seq delta status } }`,
			"variables": map[string]any{"id": id},
		})
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		stream, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(stream, []byte(`"delta":"The end."`)) {
			t.Fatalf("the stream did not carry the story: %s", stream)
		}

		rec.mu.Lock()
		defer rec.mu.Unlock()
		slices.Sort(rec.paths)
		if want := []string{"live.delta", "live.seq", "live.status"}; !slices.Equal(rec.paths, want) {
			t.Errorf("event field paths %q, want %q", rec.paths, want)
		}
	})
}
