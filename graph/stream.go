package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// gqlgen marshals each event of a subscription under the operation's
// context, not under the context of the root field that produced it, so
// every field of every event searches the whole context chain for a parent
// it never finds (and its path lacks the root field). With thousands of
// subscribers to a story, those searches were a tenth of the server's CPU.
// streamParent fixes both: the root field's resolver notes its field
// context (noteStreamField), and each event is marshalled under it.

// streamParent is a gqlgen extension: add it with (*handler.Server).Use.
type streamParent struct{}

var (
	_ graphql.HandlerExtension     = streamParent{}
	_ graphql.OperationInterceptor = streamParent{}
	_ graphql.ResponseInterceptor  = streamParent{}
)

// streamFieldKey keys a subscription's *streamField in its context.
type streamFieldKey struct{}

// streamField holds a subscription's root field context, once its resolver
// has run.
type streamField struct{ fc *graphql.FieldContext }

// ExtensionName implements graphql.HandlerExtension.
func (streamParent) ExtensionName() string { return "StreamParent" }

// Validate implements graphql.HandlerExtension.
func (streamParent) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation makes room for a subscription's root field context.
func (streamParent) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if op := graphql.GetOperationContext(ctx).Operation; op == nil || op.Operation != ast.Subscription {
		return next(ctx)
	}
	return next(context.WithValue(ctx, streamFieldKey{}, &streamField{}))
}

// InterceptResponse marshals a subscription's events under its root field
// context.
func (streamParent) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if sf, ok := ctx.Value(streamFieldKey{}).(*streamField); ok && sf.fc != nil {
		ctx = graphql.WithFieldContext(ctx, sf.fc)
	}
	return next(ctx)
}

// noteStreamField records the field context of a subscription's root field,
// from its resolver's context, for the events that follow. It keeps a copy:
// WithFieldContext sets the parent of the context it is given, which for
// the copy is the same on every event (their context has no field above
// it), and the subscription's events are marshalled one at a time.
func noteStreamField(ctx context.Context) {
	sf, ok := ctx.Value(streamFieldKey{}).(*streamField)
	if fc := graphql.GetFieldContext(ctx); ok && fc != nil {
		root := *fc
		sf.fc = &root
	}
}
