// Package graph is storybot's GraphQL layer: the schema (Ent-generated plus the
// hand-written *.graphqls files), thin resolvers, and the mapping of domain
// errors to GraphQL error codes. Resolvers read through Ent directly and call
// one service method for anything with behaviour.
package graph

import (
	"github.com/99designs/gqlgen/graphql"

	"github.com/storybot/storybot/ent"
	"github.com/storybot/storybot/internal/story"
)

// Resolver is the root resolver: the one place where dependencies enter the
// GraphQL layer.
type Resolver struct {
	client  *ent.Client
	stories *story.Service
}

// NewSchema returns the executable schema: plain reads go to client, story
// generation and streams to stories.
func NewSchema(client *ent.Client, stories *story.Service) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{
		Resolvers: &Resolver{client: client, stories: stories},
	})
}
