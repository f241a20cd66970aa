package graph_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/database/dbtest"
)

func TestCreatePrompt(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		a := newAPI(t, db)
		for _, tc := range []struct{ name, in, want string }{
			{"trimmed", "  A lighthouse keeper finds a letter \n", "A lighthouse keeper finds a letter"},
			{"emoji", "🐉 A dragon who is afraid of 🔥", "🐉 A dragon who is afraid of 🔥"},
			{"non-Latin", "月の上の図書館", "月の上の図書館"},
			{"4000 characters", strings.Repeat("é", 4000), strings.Repeat("é", 4000)},
			{"one character", "x", "x"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var out struct {
					CreatePrompt struct {
						ID, Content          string
						CreatedAt, UpdatedAt string
						Stories              struct{ TotalCount int }
					}
				}
				a.mustDo(`mutation($c: String!) { createPrompt(input: {content: $c}) {
					id content createdAt updatedAt stories { totalCount } } }`, map[string]any{"c": tc.in}, &out)
				got := out.CreatePrompt
				if got.Content != tc.want {
					t.Errorf("content = %q, want %q", got.Content, tc.want)
				}
				if !strings.HasPrefix(got.ID, "pr_") || got.CreatedAt == "" || got.UpdatedAt == "" {
					t.Errorf("incomplete prompt: %+v", got)
				}
				var node struct{ Node struct{ Content string } }
				a.mustDo(`query($id: ID!) { node(id: $id) { ... on Prompt { content } } }`, map[string]any{"id": got.ID}, &node)
				if node.Node.Content != tc.want {
					t.Errorf("stored content = %q, want %q", node.Node.Content, tc.want)
				}
			})
		}
	})
}

func TestCreatePromptRejectsBadContent(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		a := newAPI(t, db)
		a.createPrompt("an existing prompt")
		for _, tc := range []struct{ name, content, wantMsg string }{
			{"empty", "", "must not be empty"},
			{"only white space", " \t\n ", "must not be empty"},
			{"4001 characters", strings.Repeat("a", 4001), "at most 4000 characters"},
			{"4001 emoji", strings.Repeat("🙂", 4001), "at most 4000 characters"},
			{"NUL byte", "once upon\x00a time", "control character"},
			{"escape character", "once \x1b[31m upon", "control character"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a.unchanged(func() {
					e := a.wantError("BAD_USER_INPUT",
						`mutation($c: String!) { createPrompt(input: {content: $c}) { id } }`, map[string]any{"c": tc.content})
					if !strings.Contains(e.Message, tc.wantMsg) || !strings.HasPrefix(e.Message, "invalid content: ") {
						t.Errorf("message %q, want it to say %q", e.Message, tc.wantMsg)
					}
				})
			})
		}
		t.Run("missing content", func(t *testing.T) {
			a.unchanged(func() {
				errs := a.do(`mutation { createPrompt(input: {}) { id } }`, nil, nil)
				if len(errs) != 1 || errs[0].Code() != "GRAPHQL_VALIDATION_FAILED" {
					t.Errorf("want a validation error, got %+v", errs)
				}
			})
		})
	})
}

func TestUpdatePrompt(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		a := newAPI(t, db)
		id := a.createPrompt("a first draft")
		var before struct{ Node struct{ UpdatedAt string } }
		a.mustDo(`query($id: ID!) { node(id: $id) { ... on Prompt { updatedAt } } }`, map[string]any{"id": id}, &before)

		var out struct {
			UpdatePrompt struct{ ID, Content, UpdatedAt string }
		}
		a.mustDo(`mutation($id: ID!, $c: String) { updatePrompt(id: $id, input: {content: $c}) { id content updatedAt } }`,
			map[string]any{"id": id, "c": "  a second draft "}, &out)
		if out.UpdatePrompt.ID != id || out.UpdatePrompt.Content != "a second draft" {
			t.Errorf("updatePrompt = %+v", out.UpdatePrompt)
		}
		if out.UpdatePrompt.UpdatedAt <= before.Node.UpdatedAt {
			t.Errorf("updatedAt %s did not advance past %s", out.UpdatePrompt.UpdatedAt, before.Node.UpdatedAt)
		}

		storyID := a.addStory(id, entstory.StatusCompleted, "a story")
		const update = `mutation($id: ID!, $c: String) { updatePrompt(id: $id, input: {content: $c}) { id } }`
		for _, tc := range []struct {
			name, id, content, code string
		}{
			{"empty content", id, " ", "BAD_USER_INPUT"},
			{"too long", id, strings.Repeat("x", 4001), "BAD_USER_INPUT"},
			{"malformed id", "42", "ok", "BAD_USER_INPUT"},
			{"unknown type prefix", "zz_01JDQ3K8Z6V4X0M2T5R7N9B1C3", "ok", "BAD_USER_INPUT"},
			{"missing prompt", "pr_01JDQ3K8Z6V4X0M2T5R7N9B1C3", "ok", "NOT_FOUND"},
			{"a story's id", storyID, "ok", "NOT_FOUND"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a.unchanged(func() { a.wantError(tc.code, update, map[string]any{"id": tc.id, "c": tc.content}) })
			})
		}
	})
}

func TestDeletePrompt(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		a := newAPI(t, db)
		keep := a.createPrompt("keep me")
		keptStory := a.addStory(keep, entstory.StatusCompleted, "kept")
		doomed := a.createPrompt("delete me")
		a.addStory(doomed, entstory.StatusCompleted, "one")
		a.addStory(doomed, entstory.StatusFailed, "two")

		const del = `mutation($id: ID!) { deletePrompt(id: $id) }`
		for _, tc := range []struct{ name, id, code string }{
			{"malformed id", "not-an-id", "BAD_USER_INPUT"},
			{"missing prompt", "pr_01JDQ3K8Z6V4X0M2T5R7N9B1C3", "NOT_FOUND"},
			{"a story's id", keptStory, "NOT_FOUND"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a.unchanged(func() { a.wantError(tc.code, del, map[string]any{"id": tc.id}) })
			})
		}

		var out struct{ DeletePrompt string }
		a.mustDo(del, map[string]any{"id": doomed}, &out)
		if out.DeletePrompt != doomed {
			t.Errorf("deletePrompt = %q, want %q", out.DeletePrompt, doomed)
		}
		var list struct {
			Stories struct{ TotalCount int }
			Prompts struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		a.mustDo(`{ stories { totalCount } prompts { edges { node { id } } } }`, nil, &list)
		if list.Stories.TotalCount != 1 || len(list.Prompts.Edges) != 1 || list.Prompts.Edges[0].Node.ID != keep {
			t.Errorf("after delete: %+v, want only %s and its one story", list, keep)
		}
		a.wantError("NOT_FOUND", del, map[string]any{"id": doomed})
	})
}

// page is one page of a connection, as the tests read it.
type page struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
	Edges []struct {
		Cursor string
		Node   struct{ ID, Content string }
	}
}

func (p page) ids() []string {
	var ids []string
	for _, e := range p.Edges {
		ids = append(ids, e.Node.ID)
	}
	return ids
}

const promptsQuery = `query($first: Int, $after: Cursor, $last: Int, $before: Cursor, $order: PromptOrder, $where: PromptWhereInput) {
	prompts(first: $first, after: $after, last: $last, before: $before, orderBy: $order, where: $where) {
		totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		edges { cursor node { id content } } } }`

func TestPromptsPagination(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		a := newAPI(t, db)
		var ids []string // oldest first
		for _, c := range []string{"alpha", "bravo", "charlie", "delta", "echo"} {
			ids = append(ids, a.createPrompt(c))
		}
		newest := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
		list := func(vars map[string]any) page {
			t.Helper()
			var out struct{ Prompts page }
			a.mustDo(promptsQuery, vars, &out)
			return out.Prompts
		}

		// Forwards, newest first by default.
		p1 := list(map[string]any{"first": 2})
		if diff := cmp.Diff(newest[:2], p1.ids()); diff != "" {
			t.Errorf("page 1 (-want +got):\n%s", diff)
		}
		if p1.TotalCount != 5 || !p1.PageInfo.HasNextPage || p1.PageInfo.HasPreviousPage {
			t.Errorf("page 1 info: total %d, %+v", p1.TotalCount, p1.PageInfo)
		}
		p2 := list(map[string]any{"first": 2, "after": *p1.PageInfo.EndCursor})
		p3 := list(map[string]any{"first": 2, "after": *p2.PageInfo.EndCursor})
		if diff := cmp.Diff(newest, append(append(p1.ids(), p2.ids()...), p3.ids()...)); diff != "" {
			t.Errorf("all pages forwards (-want +got):\n%s", diff)
		}
		if p3.PageInfo.HasNextPage {
			t.Error("the last page says it has a next page")
		}

		// Backwards from the end.
		b1 := list(map[string]any{"last": 2})
		if diff := cmp.Diff(newest[3:], b1.ids()); diff != "" {
			t.Errorf("last 2 (-want +got):\n%s", diff)
		}
		if !b1.PageInfo.HasPreviousPage {
			t.Error("last page backwards has no previous page")
		}
		b2 := list(map[string]any{"last": 2, "before": *b1.PageInfo.StartCursor})
		if diff := cmp.Diff(newest[1:3], b2.ids()); diff != "" {
			t.Errorf("2 before (-want +got):\n%s", diff)
		}

		// Explicit orders.
		asc := list(map[string]any{"order": map[string]any{"field": "CREATED_AT", "direction": "ASC"}})
		if diff := cmp.Diff(ids, asc.ids()); diff != "" {
			t.Errorf("oldest first (-want +got):\n%s", diff)
		}
		byContent := list(map[string]any{"first": 3, "order": map[string]any{"field": "CONTENT", "direction": "DESC"}})
		if diff := cmp.Diff([]string{ids[4], ids[3], ids[2]}, byContent.ids()); diff != "" {
			t.Errorf("by content, descending (-want +got):\n%s", diff)
		}

		// Filters.
		only := list(map[string]any{"where": map[string]any{"contentContains": "ar"}})
		if diff := cmp.Diff([]string{ids[2]}, only.ids()); diff != "" || only.TotalCount != 1 {
			t.Errorf("contentContains (-want +got):\n%s", diff)
		}
		fold := list(map[string]any{"where": map[string]any{"contentContainsFold": "ALP"}})
		if diff := cmp.Diff([]string{ids[0]}, fold.ids()); diff != "" {
			t.Errorf("contentContainsFold (-want +got):\n%s", diff)
		}
		none := list(map[string]any{"where": map[string]any{"contentContains": "zulu"}})
		if none.TotalCount != 0 || len(none.Edges) != 0 {
			t.Errorf("no match: %+v", none)
		}
	})
}

func TestPaginationLimits(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, db *database.DB) {
		a := newAPI(t, db)
		a.createPrompt("a prompt")
		for _, tc := range []struct {
			name  string
			query string
			vars  map[string]any
			msg   string
		}{
			{"first above the cap", promptsQuery, map[string]any{"first": 101}, "first must be at most 100"},
			{"huge first", promptsQuery, map[string]any{"first": 2147483647}, "at most 100"},
			{"last above the cap", promptsQuery, map[string]any{"last": 1000}, "last must be at most 100"},
			{"negative first", promptsQuery, map[string]any{"first": -1}, "must not be negative"},
			{"first and last", promptsQuery, map[string]any{"first": 1, "last": 1}, "first"},
			{"bad cursor", promptsQuery, map[string]any{"first": 1, "after": "not a cursor"}, "cursor"},
			{"nested connection", `{ prompts(first: 1) { edges { node { stories(first: 500) { totalCount } } } } }`, nil, "at most 100"},
			{"stories", `{ stories(last: 101) { totalCount } }`, nil, "at most 100"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				errs := a.do(tc.query, tc.vars, nil)
				if len(errs) == 0 {
					t.Fatal("no error")
				}
				if errs[0].Code() != "BAD_USER_INPUT" && errs[0].Code() != "GRAPHQL_VALIDATION_FAILED" {
					t.Errorf("code %q, want BAD_USER_INPUT: %+v", errs[0].Code(), errs)
				}
				if !strings.Contains(strings.ToLower(errs[0].Message), strings.ToLower(tc.msg)) {
					t.Errorf("message %q, want it to mention %q", errs[0].Message, tc.msg)
				}
			})
		}
		t.Run("exactly the cap", func(t *testing.T) {
			var out struct{ Prompts page }
			a.mustDo(promptsQuery, map[string]any{"first": 100}, &out)
			if out.Prompts.TotalCount != 1 {
				t.Errorf("totalCount %d", out.Prompts.TotalCount)
			}
		})
	})
}
