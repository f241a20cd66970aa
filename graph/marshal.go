package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
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

// concurrentFields are the fields whose resolvers run concurrently. cmd/trimgen
// writes generated.go's concurrentlyResolved, and passes it to
// marshalBySelection.
type concurrentFields struct {
	objects map[[2]string]bool // by object and field name
	names   map[string]bool    // by field name, for fields selected on an interface
}

// marshalBySelection marshals the n elements of a list whose elements can
// reach a concurrently resolved field (a resolver, which may do I/O):
// concurrently, as gqlgen does, when sel, the elements' selection, asks for
// one of fields at any depth, and sequentially when it does not, where the
// goroutines would gain nothing. generated.go calls it instead of
// graphql.MarshalSliceConcurrently (see cmd/trimgen).
func marshalBySelection(ctx context.Context, sel ast.SelectionSet, fields *concurrentFields, n int, marshal func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if fields.selected(sel) {
		return graphql.MarshalSliceConcurrently(ctx, n, 0, false, marshal)
	}
	return marshalSequentially(ctx, n, marshal)
}

// selected reports whether sel, a validated selection, asks for one of
// fields at any depth. What it cannot tell counts as one.
func (fields *concurrentFields) selected(sel ast.SelectionSet) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			d := s.ObjectDefinition
			switch {
			case d == nil:
				return true
			case d.Kind == ast.Object && fields.objects[[2]string{d.Name, s.Name}]:
				return true
			case d.Kind != ast.Object && fields.names[s.Name]:
				return true
			}
			if fields.selected(s.SelectionSet) {
				return true
			}
		case *ast.InlineFragment:
			if fields.selected(s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition == nil || fields.selected(s.Definition.SelectionSet) {
				return true
			}
		default:
			return true
		}
	}
	return false
}
