package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// refusal is an HTTP answer decoded as a GraphQL error response.
type refusal struct {
	Errors []struct {
		Message    string            `json:"message"`
		Extensions map[string]string `json:"extensions"`
	} `json:"errors"`
	Extensions map[string]string `json:"extensions"`
}

// TestHTTPRefusalsAreGraphQLErrors sends what the transports refuse: each
// answer keeps its status, is a GraphQL error with extensions.code and the
// trace ID (also in X-Trace-Id), and never quotes the request back.
func TestHTTPRefusalsAreGraphQLErrors(t *testing.T) {
	s := start(t, map[string]string{"STORYBOT_MAX_BODY_BYTES": "4096"})
	const marker = "ECHO-MARKER-7f3a"
	mutation := `mutation { createPrompt(input: {content: "` + marker + `"}) { id } }`
	for _, tc := range []struct {
		name, method, contentType, body, query string
		status                                 int
		code                                   string
	}{
		{"text/plain POST", http.MethodPost, "text/plain", `{"query":"` + strings.ReplaceAll(mutation, `"`, `\"`) + `"}`, "", 400, "BAD_REQUEST"},
		{"form POST", http.MethodPost, "application/x-www-form-urlencoded", "query=" + url.QueryEscape(mutation), "", 400, "BAD_REQUEST"},
		{"PUT", http.MethodPut, "application/json", `{"query":"{ models }"}`, "", 400, "BAD_REQUEST"},
		{"GET mutation", http.MethodGet, "", "", "query=" + url.QueryEscape(mutation), 405, "BAD_REQUEST"},
		{"GET with variables that are not JSON", http.MethodGet, "", "", "query=" + url.QueryEscape("{ models }") + "&variables=" + marker, 400, "BAD_REQUEST"},
		{"malformed JSON", http.MethodPost, "application/json", `{"query": "{ models }", "` + marker, "", 400, "BAD_REQUEST"},
		{"JSON of the wrong shape", http.MethodPost, "application/json", `{"query": 5, "operationName": "` + marker + `"}`, "", 400, "BAD_REQUEST"},
		{"body too large", http.MethodPost, "application/json", `{"query":"{ models }","variables":{"x":"` + marker + strings.Repeat("x", 5000) + `"}}`, "", 413, "BAD_USER_INPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := s.base + "/graphql"
			if tc.query != "" {
				target += "?" + tc.query
			}
			req, _ := http.NewRequest(tc.method, target, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, raw := s.send(req)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
			var r refusal
			if err := json.Unmarshal([]byte(raw), &r); err != nil || len(r.Errors) == 0 {
				t.Fatalf("not a GraphQL error response (%v): %s", err, raw)
			}
			e := r.Errors[0]
			if e.Extensions["code"] != tc.code {
				t.Errorf("code %q, want %s: %s", e.Extensions["code"], tc.code, raw)
			}
			id := resp.Header.Get("X-Trace-Id")
			if id == "" || r.Extensions["traceId"] != id {
				t.Errorf("extensions.traceId %q, X-Trace-Id %q: want both, equal", r.Extensions["traceId"], id)
			}
			if strings.Contains(raw, marker) {
				t.Errorf("the answer quotes the request: %s", raw)
			}
			if e.Message == "" || strings.Contains(e.Message, "input:") {
				t.Errorf("message %q", e.Message)
			}
		})
	}
	var list struct{ Prompts struct{ TotalCount int } }
	s.mustGQL(`{ prompts { totalCount } }`, nil, &list)
	if list.Prompts.TotalCount != 0 {
		t.Errorf("refused requests created %d prompts", list.Prompts.TotalCount)
	}
}

// TestErrorMessagesCarryNoLocation fails operations in every way a client
// can, over HTTP, both websocket protocols and SSE: no message carries
// gqlgen's "input:line:column: field" prefix; locations and path say that.
func TestErrorMessagesCarryNoLocation(t *testing.T) {
	s := start(t, nil)
	done := s.generate("A story that has ended", 5)
	s.waitFor(done.ID, func(st storedStory) bool { return st.Status == "COMPLETED" })
	var p struct{ CreatePrompt struct{ ID string } }
	s.mustGQL(`mutation { createPrompt(input: {content: "to delete"}) { id } }`, nil, &p)
	s.mustGQL(`mutation($id: ID!) { deletePrompt(id: $id) }`, map[string]any{"id": p.CreatePrompt.ID}, nil)

	var messages []string
	for _, op := range []struct {
		query string
		vars  map[string]any
	}{
		{`mutation($p: ID!) { generateStory(input: {promptID: $p}) { id } }`, map[string]any{"p": p.CreatePrompt.ID}},
		{`mutation($p: ID!) { generateStory(input: {promptID: $p, maxTokens: 0}) { id } }`, map[string]any{"p": p.CreatePrompt.ID}},
		{`mutation($id: ID!) { cancelStory(id: $id) { id } }`, map[string]any{"id": done.ID}},
		{`mutation($id: ID!) { deletePrompt(id: $id) }`, map[string]any{"id": p.CreatePrompt.ID}},
		{`mutation { createPrompt(input: {content: "   "}) { id } }`, nil},
		{`mutation { updatePrompt(id: "pr_nonsense", input: {content: "x"}) { id } }`, nil},
		{`query { node(id: "st_01J00000000000000000000000") { id } }`, nil},
		{`{ prompts(first: 1000) { totalCount } }`, nil},
		{`{ nosuchfield }`, nil},
		{`mutation { signIn(input: {email: "nobody@example.com", password: "nothing at all"}) { id } }`, nil},
		{`mutation { createApiToken(input: {name: ""}) { token } }`, nil},
	} {
		errs := s.gql(op.query, op.vars, nil)
		if len(errs) == 0 {
			t.Errorf("%s did not fail", op.query)
		}
		for _, e := range errs {
			messages = append(messages, e.Message)
		}
	}
	for name, subscribe := range transports {
		res := subscribe(t, s, "st_01J00000000000000000000000", nil)
		if len(res.errors) == 0 {
			t.Errorf("%s: a stream of a story that does not exist did not fail", name)
		}
		for _, e := range res.errors {
			messages = append(messages, e.Message)
		}
	}
	for _, m := range messages {
		if strings.Contains(m, "input:") || m == "" {
			t.Errorf("message %q", m)
		}
	}
}
