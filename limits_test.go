package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestAbuseLimits checks the limits on starting stories: per client, with
// RATE_LIMITED and retryAfter, and server-wide, with a bounded queue.
func TestAbuseLimits(t *testing.T) {
	t.Run("per-client rate", func(t *testing.T) {
		s := start(t, map[string]string{"STORY_RATE_PER_MINUTE": "1", "STORY_RATE_BURST": "2", "STORYTELLER_TOKENS_PER_SECOND": "0"})
		var p struct{ CreatePrompt struct{ ID string } }
		s.mustGQL(`mutation { createPrompt(input: {content: "rate me"}) { id } }`, nil, &p)
		gen := `mutation($p: ID!) { generateStory(input: {promptID: $p, maxTokens: 3}) { id } }`
		vars := map[string]any{"p": p.CreatePrompt.ID}
		for range 2 {
			s.mustGQL(gen, vars, nil)
		}
		errs := s.gql(gen, vars, nil)
		if len(errs) != 1 || errs[0].Extensions["code"] != "RATE_LIMITED" || errs[0].Extensions["retryAfter"] == nil ||
			!strings.Contains(errs[0].Message, "try again in") {
			t.Fatalf("third story: %+v, want RATE_LIMITED with retryAfter", errs)
		}
		// A forged X-Forwarded-For from an untrusted peer changes nothing.
		req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", strings.NewReader(`{"query":"mutation { generateStory(input: {promptID: \"`+p.CreatePrompt.ID+`\"}) { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		if _, body := s.send(req); !strings.Contains(body, "RATE_LIMITED") {
			t.Errorf("a forged X-Forwarded-For escaped the limit: %s", body)
		}
		var list struct{ Stories struct{ TotalCount int } }
		s.mustGQL(`{ stories { totalCount } }`, nil, &list)
		if list.Stories.TotalCount != 2 {
			t.Errorf("%d stories stored, want the 2 allowed", list.Stories.TotalCount)
		}
		// Other operations are not limited.
		s.mustGQL(`{ prompts { totalCount } }`, nil, nil)
	})

	t.Run("server-wide cap with a bounded queue", func(t *testing.T) {
		s := start(t, map[string]string{"STORY_MAX_RUNNING": "1", "STORY_MAX_QUEUED": "1", "STORYTELLER_TOKENS_PER_SECOND": "20"})
		running := s.generate("the one that runs", 2000)
		queued := s.generate("the one that waits", 2000)
		s.waitFor(running.ID, func(st storedStory) bool { return st.Status == "GENERATING" })
		if st := s.story(queued.ID); st.Status != "PENDING" {
			t.Errorf("the second story is %s, want PENDING while the first runs", st.Status)
		}
		var p struct{ CreatePrompt struct{ ID string } }
		s.mustGQL(`mutation { createPrompt(input: {content: "one too many"}) { id } }`, nil, &p)
		errs := s.gql(`mutation($p: ID!) { generateStory(input: {promptID: $p}) { id } }`, map[string]any{"p": p.CreatePrompt.ID}, nil)
		if len(errs) != 1 || errs[0].Extensions["code"] != "UNAVAILABLE" {
			t.Fatalf("third story: %+v, want UNAVAILABLE", errs)
		}
		// Cancelling the running one lets the waiting one start.
		s.mustGQL(`mutation($id: ID!) { cancelStory(id: $id) { id } }`, map[string]any{"id": running.ID}, nil)
		s.waitFor(queued.ID, func(st storedStory) bool { return st.Status == "GENERATING" })
		// A waiting story can be cancelled too.
		third := s.generate("waits and is cancelled", 10)
		var out struct{ CancelStory storedStory }
		s.mustGQL(`mutation($id: ID!) { cancelStory(id: $id) { `+storyFields+` } }`, map[string]any{"id": third.ID}, &out)
		if out.CancelStory.Status != "CANCELLED" || out.CancelStory.Text != "" {
			t.Errorf("cancelled while waiting: %+v", out.CancelStory)
		}
	})
}
