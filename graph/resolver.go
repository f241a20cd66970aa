// Package graph is storybot's GraphQL layer: the schema (Ent-generated plus the
// hand-written *.graphqls files), thin resolvers, and the mapping of domain
// errors to GraphQL error codes. Resolvers read through Ent directly and call
// one service method for anything with behaviour.
package graph

import (
	"github.com/99designs/gqlgen/graphql"

	"github.com/storybot/storybot/ent"
)

// Resolver is the root resolver: the one place where dependencies enter the
// GraphQL layer.
type Resolver struct {
	client *ent.Client
}

// NewSchema returns the executable schema, resolving against client.
func NewSchema(client *ent.Client) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{
		Resolvers: &Resolver{client: client},
	})
}
