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
// It intercepts root fields only: a field interceptor would cost a closure
// and a context lookup on every field of every answer.
type RateLimit struct {
	// Fields are "Object.field" names, e.g. "Mutation.generateStory".
	Fields  []string
	Limiter *limits.RateLimiter[netip.Prefix]
}

var _ interface {
	graphql.HandlerExtension
	graphql.RootFieldInterceptor
} = RateLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (RateLimit) ExtensionName() string { return "RateLimit" }

// Validate implements graphql.HandlerExtension.
func (RateLimit) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptRootField implements graphql.RootFieldInterceptor. A refused
// field answers null with the error at its path and location, as an error
// of its resolver would.
func (l RateLimit) InterceptRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	// gqlgen puts the root object's name in the root object's field
	// context, and the field's name in RootFieldContext.Object.
	rfc, root := graphql.GetRootFieldContext(ctx), graphql.GetFieldContext(ctx)
	if rfc == nil || root == nil || !l.limited(root.Object, rfc.Field.Name) {
		return next(ctx)
	}
	addr, _ := limits.ClientIPFromContext(ctx)
	if err := l.Limiter.Check(limits.ClientKey(addr)); err != nil {
		fctx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: root.Object, Field: rfc.Field, IsResolver: true})
		graphql.AddError(fctx, graphql.AddFieldLocationToError(fctx, err))
		return graphql.Null
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
