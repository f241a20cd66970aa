package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// marshalSequentially marshals the n elements of a list in the calling
// goroutine, each in its own field context and with its own panic recovery,
// as gqlgen's MarshalSliceConcurrently does with a goroutine per element.
// generated.go calls it instead (see cmd/trimgen).
func marshalSequentially(ctx context.Context, n int, marshal func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	ret := make(graphql.Array, n)
	for i := range n {
		index := i
		elemCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &index})
		func() {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(elemCtx, graphql.Recover(elemCtx, r))
					ret[i] = graphql.Null
				}
			}()
			ret[i] = marshal(elemCtx, i)
		}()
	}
	return ret
}

// deferredGroup returns the group for the @defer fragments among an
// object's fields: gqlgen's, when one of fields is deferred, else an empty
// group, which costs nothing (gqlgen's walks the context for the object's
// path and allocates a map and a field set). Fields that resolve
// concurrently touch the group only when deferred. generated.go calls it
// instead (see cmd/trimgen).
func deferredGroup(ctx context.Context, fields []graphql.CollectedField) graphql.DeferredGroup {
	for _, f := range fields {
		if f.IsDeferred() {
			return graphql.NewDeferredGroup(ctx)
		}
	}
	return graphql.DeferredGroup{}
}
