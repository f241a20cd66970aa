package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/storybot/storybot/internal/database/dbtest"
)

// storeSummary is what a bad request must leave unchanged.
func storeSummary(t *testing.T, s *server) string {
	t.Helper()
	var out struct {
		Prompts struct {
			TotalCount int
			Edges      []struct {
				Node struct{ ID, Content, UpdatedAt string }
			}
		}
		Stories struct{ TotalCount int }
	}
	s.mustGQL(`{ prompts(first: 100) { totalCount edges { node { id content updatedAt } } } stories { totalCount } }`, nil, &out)
	b, _ := json.Marshal(out)
	return string(b)
}

// nested returns a selection on Story that goes about depth levels deep, by
// going from story to prompt to its stories and back.
func nested(depth int) string {
	q := "id"
	for range depth / 4 {
		q = "prompt { stories(first: 1) { edges { node { " + q + " } } } }"
	}
	return q
}

// TestBadInput sends the requests an attacker or a broken client would:
// each gets a 4xx or a GraphQL error with a code, never a 5xx, and the
// store is unchanged afterwards.
func TestBadInput(t *testing.T) {
	s := start(t, map[string]string{"DATABASE_URL": dbtest.PostgresURL(t), "STORYTELLER_TOKENS_PER_SECOND": "0"})
	var p struct{ CreatePrompt struct{ ID string } }
	s.mustGQL(`mutation { createPrompt(input: {content: "the one prompt"}) { id } }`, nil, &p)
	promptID := p.CreatePrompt.ID
	var g struct{ GenerateStory struct{ ID string } }
	s.mustGQL(`mutation($p: ID!) { generateStory(input: {promptID: $p, maxTokens: 5}) { id } }`, map[string]any{"p": promptID}, &g)
	s.waitFor(g.GenerateStory.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
	before := storeSummary(t, s)

	gqlBody := func(query string, vars map[string]any) string {
		b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		return string(b)
	}
	aliases := make([]string, 1000)
	for i := range aliases {
		aliases[i] = fmt.Sprintf("a%d: prompts { totalCount }", i)
	}
	batch := make([]string, 100)
	for i := range batch {
		batch[i] = gqlBody(`mutation { createPrompt(input: {content: "batched"}) { id } }`, nil)
	}
	create := `mutation($c: String!) { createPrompt(input: {content: $c}) { id } }`

	for _, tc := range []struct {
		name, contentType, body string
		wantStatus              int    // 0: any 4xx
		wantCode                string // for answers with GraphQL errors
	}{
		{name: "malformed JSON", contentType: "application/json", body: `{"query": "{ prompts { totalCount } }"`, wantStatus: 400},
		{name: "wrong content type", contentType: "text/plain", body: `{ prompts { totalCount } }`},
		{name: "empty body", contentType: "application/json", body: ``, wantStatus: 400},
		{name: "no query", contentType: "application/json", body: `{}`},
		{name: "2 MiB query", contentType: "application/json", body: gqlBody("{ prompts { totalCount } }"+strings.Repeat(" ", 2<<20), nil), wantStatus: 413},
		{name: "depth 50", contentType: "application/json", body: gqlBody(`query($id: ID!) { node(id: $id) { ... on Story { `+nested(50)+` } } }`, map[string]any{"id": g.GenerateStory.ID}), wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "1,000 aliases", contentType: "application/json", body: gqlBody("{ "+strings.Join(aliases, " ")+" }", nil), wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "100-operation batch", contentType: "application/json", body: "[" + strings.Join(batch, ",") + "]"},
		{name: "unknown field", contentType: "application/json", body: gqlBody(`{ prompts { secrets } }`, nil), wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "unknown argument", contentType: "application/json", body: gqlBody(`mutation { deletePrompt(id: "x", force: true) }`, nil), wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "invalid id", contentType: "application/json", body: gqlBody(`mutation($id: ID!) { deletePrompt(id: $id) }`, map[string]any{"id": "'; DROP TABLE prompts; --"}), wantCode: "BAD_USER_INPUT"},
		{name: "foreign id", contentType: "application/json", body: gqlBody(`mutation($id: ID!) { deletePrompt(id: $id) }`, map[string]any{"id": g.GenerateStory.ID}), wantCode: "NOT_FOUND"},
		{name: "id of the wrong type", contentType: "application/json", body: gqlBody(`mutation($id: ID!) { deletePrompt(id: $id) }`, map[string]any{"id": 42}), wantCode: "BAD_USER_INPUT"},
		{name: "negative first", contentType: "application/json", body: gqlBody(`{ prompts(first: -5) { totalCount } }`, nil), wantCode: "BAD_USER_INPUT"},
		{name: "huge first", contentType: "application/json", body: gqlBody(`{ prompts(first: 2147483647) { totalCount } }`, nil), wantCode: "BAD_USER_INPUT"},
		{name: "first beyond Int", contentType: "application/json", body: gqlBody(`{ prompts(first: 99999999999) { totalCount } }`, nil), wantCode: "BAD_USER_INPUT"},
		{name: "NUL bytes in content", contentType: "application/json", body: gqlBody(create, map[string]any{"c": "a\x00b"}), wantCode: "BAD_USER_INPUT"},
		{name: "4,001 characters", contentType: "application/json", body: gqlBody(create, map[string]any{"c": strings.Repeat("é", 4001)}), wantCode: "BAD_USER_INPUT"},
		{name: "content of the wrong type", contentType: "application/json", body: gqlBody(create, map[string]any{"c": []int{1}}), wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "mutation by GET", body: "GET " + `mutation { createPrompt(input: {content: "x"}) { id } }`, wantStatus: 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			var body string
			if q, ok := strings.CutPrefix(tc.body, "GET "); ok {
				req, _ := http.NewRequest(http.MethodGet, s.base+"/graphql", nil)
				v := req.URL.Query()
				v.Set("query", q)
				req.URL.RawQuery = v.Encode()
				resp, body = s.send(req)
			} else {
				resp, body = s.post("/graphql", tc.contentType, tc.body)
			}
			if resp.StatusCode >= 500 {
				t.Fatalf("status %d: %.300s", resp.StatusCode, body)
			}
			if tc.wantStatus != 0 && resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d: %.300s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantCode != "" {
				var r struct{ Errors []gqlError }
				if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Errors) == 0 {
					t.Fatalf("want a %s error, got %d %.300s", tc.wantCode, resp.StatusCode, body)
				}
				if got := r.Errors[0].Extensions["code"]; got != tc.wantCode {
					t.Errorf("code %v, want %s: %.300s", got, tc.wantCode, body)
				}
			} else if tc.wantStatus == 0 && resp.StatusCode < 400 {
				t.Errorf("status %d, want a 4xx: %.300s", resp.StatusCode, body)
			}
			if strings.Contains(body, "pq:") || strings.Contains(body, "SQL") || strings.Contains(body, "goroutine ") {
				t.Errorf("the answer leaks internals: %.300s", body)
			}
		})
	}
	if after := storeSummary(t, s); after != before {
		t.Errorf("bad requests changed the store:\nbefore %s\nafter  %s", before, after)
	}

	t.Run("emoji are content, not bad input", func(t *testing.T) {
		var out struct{ CreatePrompt struct{ Content string } }
		s.mustGQL(`mutation($c: String!) { createPrompt(input: {content: $c}) { content } }`, map[string]any{"c": "🐉🔥 a dragon 🏰"}, &out)
		if out.CreatePrompt.Content != "🐉🔥 a dragon 🏰" {
			t.Errorf("stored %q", out.CreatePrompt.Content)
		}
	})
}
