package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// marshalSequentially marshals the n elements of a list in the calling
// goroutine, each in its own field context and with its own panic recovery,
// as gqlgen's MarshalSliceConcurrently does with a goroutine per element.
// generated.go calls it instead (see internal/trimgen).
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
