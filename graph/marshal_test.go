package graph

import (
	"testing"

	"github.com/vektah/gqlparser/v2"
)

// TestSelectsConcurrent checks, on queries validated against storybot's
// schema, which selections marshalBySelection marshals concurrently.
func TestSelectsConcurrent(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	for _, c := range []struct {
		query string
		want  bool
	}{
		{`{ prompts(first: 20) { edges { node { id content createdAt } } } }`, false},
		{`{ prompts(first: 20) { edges { node { id stories(first: 3) { edges { node { id status } } } } } } }`, true},
		{`{ prompts { edges { cursor } pageInfo { hasNextPage } } }`, false},
		{`{ stories { edges { node { id title text } } } }`, true},
		{`{ stories { edges { node { id prompt { id } } } } }`, true},
		{`{ prompts { edges { node { ...P } } } } fragment P on Prompt { stories { totalCount } }`, true},
		{`{ prompts { edges { node { ...P } } } } fragment P on Prompt { id content }`, false},
		{`query($id: ID!) { nodes(ids: [$id]) { id ... on Prompt { content } } }`, false},
		{`query($id: ID!) { nodes(ids: [$id]) { ... on Prompt { stories { totalCount } } } }`, true},
		{`query($id: ID!) { nodes(ids: [$id]) { ... on Story { text } } }`, true},
	} {
		doc, err := gqlparser.LoadQuery(schema, c.query)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		// The selection of the root field's elements is what a list
		// marshaller gets; the root field's own selection reaches the same
		// fields and more.
		root := doc.Operations[0].SelectionSet
		if got := concurrentlyResolved.selected(root); got != c.want {
			t.Errorf("selectsConcurrent(%s) = %v, want %v", c.query, got, c.want)
		}
	}
}
