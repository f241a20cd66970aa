// Package graph is storybot's GraphQL layer: the schema (Ent-generated plus the
// hand-written *.graphqls files), thin resolvers, and the mapping of domain
// errors to GraphQL error codes. Resolvers read through Ent directly and call
// one service method for anything with behaviour.
package graph

import (
	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"

	"github.com/storybot/storybot/ent"
	"github.com/storybot/storybot/internal/auth"
	"github.com/storybot/storybot/internal/limits"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/story"
)

// Resolver is the root resolver: the one place where dependencies enter the
// GraphQL layer.
type Resolver struct {
	client   *ent.Client
	stories  *story.Service
	accounts *auth.Accounts
	watcher  *auth.Watcher
}

// NewSchema returns the executable schema: plain reads go to client, story
// generation and streams to stories, signing up and in to accounts; watcher
// ends share-link streams when their story is unshared.
func NewSchema(client *ent.Client, stories *story.Service, accounts *auth.Accounts, watcher *auth.Watcher) graphql.ExecutableSchema {
	cfg := Config{Resolvers: &Resolver{client: client, stories: stories, accounts: accounts, watcher: watcher}}
	// A connection costs its page size times its nodes' cost. Sizes over
	// MaxPageSize are costed at it: PageLimit rejects them with a clearer
	// message than the complexity limit's.
	page := func(child int, first, last *int) int {
		return limits.ConnectionComplexity(child, capped(first), capped(last), MaxPageSize)
	}
	cfg.Complexity.Query.Prompts = func(child int, _ *entgql.Cursor[pulid.ID], first *int, _ *entgql.Cursor[pulid.ID], last *int, _ *ent.PromptOrder, _ *ent.PromptWhereInput) int {
		return page(child, first, last)
	}
	cfg.Complexity.Query.Stories = func(child int, _ *entgql.Cursor[pulid.ID], first *int, _ *entgql.Cursor[pulid.ID], last *int, _ *ent.StoryOrder, _ *ent.StoryWhereInput) int {
		return page(child, first, last)
	}
	cfg.Complexity.Prompt.Stories = func(child int, _ *entgql.Cursor[pulid.ID], first *int, _ *entgql.Cursor[pulid.ID], last *int, _ *ent.StoryOrder, _ *ent.StoryWhereInput) int {
		return page(child, first, last)
	}
	cfg.Complexity.Query.Nodes = func(child int, ids []pulid.ID) int {
		return limits.ListComplexity(child, len(ids))
	}
	return NewExecutableSchema(cfg)
}

func capped(n *int) *int {
	if n != nil && *n > MaxPageSize {
		return new(MaxPageSize)
	}
	return n
}
