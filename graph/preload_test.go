package graph_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/storybot/storybot/ent"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/graph"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/database/dbtest"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/story"
)

// statements records every SQL statement an Ent client sends.
type statements struct {
	mu   sync.Mutex
	list []string
}

func (s *statements) log(_ context.Context, v ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, fmt.Sprint(v...))
}

func (s *statements) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.list
	s.list = nil
	return l
}

// TestEdgeQueryStatements runs a query that follows an edge from every
// prompt of a page against Postgres and counts the SQL statements the
// handler sends: the stories must be preloaded, in a bounded number of
// statements that does not grow with the page size.
func TestEdgeQueryStatements(t *testing.T) {
	db := dbtest.Open(t, dialect.Postgres)
	seed := newAPI(t, db)
	for i := range 25 {
		p := seed.createPrompt(fmt.Sprintf("prompt %d", i))
		for j := range 4 {
			seed.addStory(p, entstory.StatusCompleted, fmt.Sprintf("story %d of %d", j, i))
		}
	}

	// The same store, through a client that records its statements.
	var sent statements
	client := ent.NewClient(ent.Driver(dialect.DebugWithContext(entsql.OpenDB(dialect.Postgres, db.SQL), sent.log)))
	stories := story.New(client, &llm.Storyteller{}, broker.NewMemory(), story.Config{})
	a := seed
	a.url = a.serve(graph.NewHandler(graph.NewSchema(client, stories, nil, nil), graph.HandlerOptions{}))

	counts := map[int]int{}
	for _, first := range []int{1, 5, 20} {
		var out struct {
			Prompts struct {
				Edges []struct {
					Node struct {
						ID      string
						Stories struct {
							Edges []struct{ Node struct{ ID, Status string } }
						}
					}
				}
			}
		}
		sent.take()
		a.mustDo(`query($n: Int) { prompts(first: $n) { edges { node { id stories(first: 3) { edges { node { id status } } } } } } }`,
			map[string]any{"n": first}, &out)
		list := sent.take()
		counts[first] = len(list)

		if len(out.Prompts.Edges) != first {
			t.Fatalf("first %d: %d prompts", first, len(out.Prompts.Edges))
		}
		for _, e := range out.Prompts.Edges {
			if n := len(e.Node.Stories.Edges); n != 3 {
				t.Errorf("first %d: prompt %s has %d stories, want 3", first, e.Node.ID, n)
			}
		}
		if len(list) == 0 || len(list) > 2 {
			t.Errorf("first %d: %d statements, want 1 or 2 (prompts, then all their stories):\n%s",
				first, len(list), strings.Join(list, "\n"))
		}
	}
	if counts[1] != counts[5] || counts[5] != counts[20] {
		t.Errorf("statements by page size %v: they grow with the page", counts)
	}
	t.Logf("statements by page size: %v", counts)
}
