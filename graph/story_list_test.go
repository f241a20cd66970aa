package graph_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/graph"
	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
)

func TestStoriesAndNodes(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		a := newAPI(t, db)
		p1 := a.createPrompt("a cat who runs a bakery")
		p2 := a.createPrompt("a lighthouse on the moon")
		s1 := a.addStory(p1, entstory.StatusCompleted, "Once upon a time")
		s2 := a.addStory(p1, entstory.StatusFailed, "It was a dark")
		s3 := a.addStory(p2, entstory.StatusCompleted, "The moon")

		t.Run("stories newest first", func(t *testing.T) {
			var out struct{ Stories page }
			a.mustDo(`{ stories { totalCount edges { node { id } } } }`, nil, &out)
			if diff := cmp.Diff([]string{s3, s2, s1}, out.Stories.ids()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
		t.Run("stories by status", func(t *testing.T) {
			var out struct{ Stories page }
			a.mustDo(`{ stories(where: {status: COMPLETED}) { totalCount edges { node { id } } } }`, nil, &out)
			if diff := cmp.Diff([]string{s3, s1}, out.Stories.ids()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			a.mustDo(`{ stories(where: {statusIn: [FAILED, CANCELLED]}) { totalCount edges { node { id } } } }`, nil, &out)
			if diff := cmp.Diff([]string{s2}, out.Stories.ids()); diff != "" {
				t.Errorf("statusIn (-want +got):\n%s", diff)
			}
		})
		t.Run("a prompt's stories", func(t *testing.T) {
			var out struct {
				Node struct {
					Stories struct {
						TotalCount int
						Edges      []struct {
							Node struct {
								ID, Status, Text, Model string
								TokenCount              int
								Error                   *string
								Prompt                  struct{ ID string }
							}
						}
					}
				}
			}
			a.mustDo(`query($id: ID!) { node(id: $id) { ... on Prompt { stories(orderBy: {field: CREATED_AT, direction: ASC}) {
				totalCount edges { node { id status text tokenCount model error prompt { id } } } } } } }`,
				map[string]any{"id": p1}, &out)
			got := out.Node.Stories
			if got.TotalCount != 2 || len(got.Edges) != 2 {
				t.Fatalf("stories of p1: %+v", got)
			}
			first := got.Edges[0].Node
			if first.ID != s1 || first.Status != "COMPLETED" || first.Text != "Once upon a time" ||
				first.TokenCount != 4 || first.Prompt.ID != p1 || first.Error != nil {
				t.Errorf("first story: %+v", first)
			}
		})
		t.Run("node and nodes", func(t *testing.T) {
			var out struct {
				Nodes []*struct {
					Typename string `json:"__typename"`
					ID       string
				}
			}
			a.mustDo(`query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`, map[string]any{"ids": []string{s2, p2}}, &out)
			if len(out.Nodes) != 2 || out.Nodes[0].Typename != "Story" || out.Nodes[0].ID != s2 ||
				out.Nodes[1].Typename != "Prompt" || out.Nodes[1].ID != p2 {
				t.Errorf("nodes: %+v", out.Nodes)
			}
			a.wantError("NOT_FOUND", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": "st_01JDQ3K8Z6V4X0M2T5R7N9B1C3"})
			a.wantError("BAD_USER_INPUT", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": "st_nope"})
			a.wantError("BAD_USER_INPUT", `{ node(id: "") { id } }`, nil)

			errs := a.do(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
				map[string]any{"ids": []string{p1, "pr_01JDQ3K8Z6V4X0M2T5R7N9B1C3", s1}}, &out)
			if len(errs) != 1 || errs[0].Code() != "NOT_FOUND" || len(out.Nodes) != 3 || out.Nodes[1] != nil || out.Nodes[2].ID != s1 {
				t.Errorf("nodes with a missing id: %+v %+v", out.Nodes, errs)
			}
			many := make([]string, 101)
			for i := range many {
				many[i] = p1
			}
			a.wantError("BAD_USER_INPUT", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": many})
		})
	})
}

// TestPanicBecomesInternalError runs a resolver that panics (generateStory
// with no story service behind it): the client gets INTERNAL with no
// details, and the server goes on serving.
func TestPanicBecomesInternalError(t *testing.T) {
	db := dbtest.Open(t, "sqlite3")
	a := serve(t, db, graph.NewHandler(graph.NewSchema(db.Client, nil, nil, nil), graph.HandlerOptions{}))
	p := a.createPrompt("a prompt")
	e := a.wantError("INTERNAL", `mutation($p: ID!) { generateStory(input: {promptID: $p}) { id } }`, map[string]any{"p": p})
	if e.Message != "internal error" {
		t.Errorf("message %q leaks details", e.Message)
	}
	var out struct{ Prompts struct{ TotalCount int } }
	a.mustDo(`{ prompts { totalCount } }`, nil, &out)
	if out.Prompts.TotalCount != 1 {
		t.Errorf("after the panic: %+v", out)
	}
}
