package graph

import (
	"context"
	"net/netip"

	"github.com/99designs/gqlgen/graphql"

	"github.com/storybot/storybot/internal/limits"
)

// RateLimit is a gqlgen extension that limits how often each client (by IP
// address, from limits.ClientIPMiddleware) may call the given root fields,
// such as Mutation.generateStory, which costs model time. A client over its
// limit gets RATE_LIMITED with retryAfter, and the resolver does not run.
type RateLimit struct {
	// Fields are "Object.field" names, e.g. "Mutation.generateStory".
	Fields  []string
	Limiter *limits.RateLimiter[netip.Prefix]
}

var _ interface {
	graphql.HandlerExtension
	graphql.FieldInterceptor
} = RateLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (RateLimit) ExtensionName() string { return "RateLimit" }

// Validate implements graphql.HandlerExtension.
func (RateLimit) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptField implements graphql.FieldInterceptor.
func (l RateLimit) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Parent == nil || fc.Parent.Parent != nil || !l.limited(fc.Object, fc.Field.Name) {
		return next(ctx)
	}
	addr, _ := limits.ClientIPFromContext(ctx)
	if err := l.Limiter.Check(limits.ClientKey(addr)); err != nil {
		return nil, err
	}
	return next(ctx)
}

func (l RateLimit) limited(object, field string) bool {
	for _, f := range l.Fields {
		if len(f) == len(object)+1+len(field) && f[:len(object)] == object && f[len(object)] == '.' && f[len(object)+1:] == field {
			return true
		}
	}
	return false
}
