package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/storybot/storybot/internal/pulid"
)

// MaxPageSize caps first and last on every connection, and the IDs one nodes
// query may ask for.
const MaxPageSize = 100

// PageLimit is a gqlgen extension that rejects first/last above MaxPageSize
// (or below zero) and nodes queries of more than MaxPageSize IDs, with a
// BAD_USER_INPUT error, before the resolver runs.
type PageLimit struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.FieldInterceptor
} = PageLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (PageLimit) ExtensionName() string { return "PageLimit" }

// Validate implements graphql.HandlerExtension.
func (PageLimit) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptField implements graphql.FieldInterceptor.
func (PageLimit) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || len(fc.Args) == 0 {
		return next(ctx)
	}
	for _, name := range [...]string{"first", "last"} {
		n, ok := fc.Args[name].(*int)
		if !ok || n == nil {
			continue
		}
		if *n < 0 {
			return nil, badInput("%s must not be negative, got %d", name, *n)
		}
		if *n > MaxPageSize {
			return nil, badInput("%s must be at most %d, got %d", name, MaxPageSize, *n)
		}
	}
	if ids, ok := fc.Args["ids"].([]pulid.ID); ok && len(ids) > MaxPageSize {
		return nil, badInput("at most %d ids per request, got %d", MaxPageSize, len(ids))
	}
	return next(ctx)
}
