package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/storybot/storybot/ent"
	"github.com/storybot/storybot/internal/auth"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/story"
	"github.com/storybot/storybot/internal/viewer"
	"github.com/storybot/storybot/internal/websocket"
)

// RequireViewer is the gqlgen extension that keeps root fields for
// signed-in users: a root field that the schema does not mark @public fails
// with UNAUTHENTICATED without a viewer, and its resolver does not run. A
// new field needs credentials unless it says otherwise. A subscription is
// refused as a whole, before it starts, so that a websocket client gets an
// `error` message for it. Each operation also gets its own set of
// share-token grants (viewer.WithGrants).
type RequireViewer struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
	graphql.OperationInterceptor
	graphql.FieldInterceptor
} = RequireViewer{}

func init() {
	// Refusing an operation before it runs is a protocol error: gqlgen's
	// websocket transports then answer with an `error` message.
	errcode.RegisterErrorType(CodeUnauthenticated, errcode.KindProtocol)
}

// ExtensionName implements graphql.HandlerExtension.
func (RequireViewer) ExtensionName() string { return "RequireViewer" }

// Validate implements graphql.HandlerExtension.
func (RequireViewer) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator: it
// refuses an anonymous operation on a field that needs credentials when it
// is a subscription or comes over a websocket (where each refused operation
// gets an `error` message). Over HTTP, a query's public fields still answer.
func (RequireViewer) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Operation.Operation
	if viewer.FromContext(ctx) != nil || (op != ast.Subscription && !websocket.Over(ctx)) {
		return nil
	}
	root := map[ast.Operation]string{ast.Query: "Query", ast.Mutation: "Mutation", ast.Subscription: "Subscription"}[op]
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{root}) {
		if strings.HasPrefix(f.Name, "__") {
			continue // introspection
		}
		if !public(f.Field, oc.Variables) {
			err := gqlerror.Errorf("%s", auth.ErrUnauthenticated)
			errcode.Set(err, CodeUnauthenticated)
			return err
		}
	}
	return nil
}

// InterceptOperation implements graphql.OperationInterceptor.
func (RequireViewer) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return next(viewer.WithGrants(ctx))
}

// InterceptField implements graphql.FieldInterceptor.
func (RequireViewer) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Parent == nil || fc.Parent.Parent != nil || !fc.IsResolver || viewer.FromContext(ctx) != nil {
		return next(ctx)
	}
	if !public(fc.Field.Field, graphql.GetOperationContext(ctx).Variables) {
		return nil, auth.ErrUnauthenticated
	}
	return next(ctx)
}

// public reports whether the schema lets anyone call field: it is marked
// @public, and the argument @public(with:) names, if any, is given.
func public(field *ast.Field, vars map[string]any) bool {
	if field.Definition == nil {
		return false
	}
	d := field.Definition.Directives.ForName("public")
	if d == nil {
		return false
	}
	with := d.Arguments.ForName("with")
	if with == nil {
		return true
	}
	return field.ArgumentMap(vars)[with.Value.Raw] != nil
}

// errAdminsOnly refuses a field to users who are not admins.
var errAdminsOnly = &userError{code: CodeForbidden, msg: "only an admin may do this"}

// startSession runs a sign-in or sign-up and sets the session cookie of the
// session it started.
func startSession[In any](ctx context.Context, start func(context.Context, In) (*auth.Signed, error), in In) (*ent.User, error) {
	if err := auth.CanSetCookie(ctx); err != nil {
		return nil, err
	}
	signed, err := start(ctx, in)
	if err != nil {
		return nil, err
	}
	return signed.User, auth.SetSessionCookie(ctx, signed)
}

// followShared streams a story for whoever holds its share token; the
// stream ends when the story is unshared.
func (r *subscriptionResolver) followShared(ctx context.Context, storyID pulid.ID, token, after string) (<-chan *story.Event, error) {
	st, err := r.stories.Shared(ctx, token)
	if err != nil {
		return nil, err
	}
	if st == nil || st.ID != storyID {
		return nil, fmt.Errorf("story %w", story.ErrNotFound)
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := r.watcher.WatchShare(st.ID, token, cancel)
	context.AfterFunc(ctx, stop)
	events, err := r.stories.Resume(ctx, storyID, after)
	if err != nil {
		cancel()
	}
	return events, err
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
