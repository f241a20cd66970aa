package main

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzGraphQLEndpoint posts arbitrary bodies to /graphql: whatever comes in,
// storybot answers without a 5xx and keeps serving. The seed corpus is in
// testdata/fuzz/FuzzGraphQLEndpoint; CI fuzzes for a short fixed time.
func FuzzGraphQLEndpoint(f *testing.F) {
	for _, seed := range []string{
		`{"query":"{ prompts(first: 3) { totalCount edges { cursor node { id content } } } }"}`,
		`{"query":"mutation($c: String!) { createPrompt(input: {content: $c}) { id } }","variables":{"c":"a fuzzed prompt"}}`,
		`{"query":"query($id: ID!) { node(id: $id) { id ... on Story { text prompt { id } } } }","variables":{"id":"st_01JDQ3K8Z6V4X0M2T5R7N9B1C3"}}`,
		`{"query":"{ stories(where: {statusIn: [COMPLETED, FAILED]}, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount } }"}`,
		`{"query":"{ prompts(after: \"gqFp\") { totalCount } }"}`,
		`{"query":"fragment F on Prompt { id ...F } { prompts { edges { node { ...F } } } }"}`,
		`{"query":"{ __schema { types { name } } }"}`,
		`[{"query":"{ prompts { totalCount } }"}]`,
		`{"query":"mutation { generateStory(input: {promptID: \"pr_x\", maxTokens: -1}) { id } }"}`,
		`{"query":null,"variables":[]}`,
		`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`,
	} {
		f.Add(seed)
	}
	s := start(f, map[string]string{"STORYTELLER_TOKENS_PER_SECOND": "0", "LOG_LEVEL": "error"})
	f.Fuzz(func(t *testing.T, body string) {
		req, err := http.NewRequest(http.MethodPost, s.base+"/graphql", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("the server did not answer: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for %q", resp.StatusCode, body)
		}
	})
}
