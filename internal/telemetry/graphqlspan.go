package telemetry

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// GraphQLSpans is a gqlgen extension that makes a span of each GraphQL
// operation (named after the OpenTelemetry GraphQL conventions: its type
// and name) and a child span of each field that runs a resolver, where the
// reads and writes happen; plain struct fields get none. Use it only with
// tracing on, after GraphQLExtension, so that a websocket operation's span
// is in the operation's own trace, linked to its connection's.
type GraphQLSpans struct {
	Tracing *Tracing
}

var (
	_ graphql.HandlerExtension     = GraphQLSpans{}
	_ graphql.OperationInterceptor = GraphQLSpans{}
	_ graphql.FieldInterceptor     = GraphQLSpans{}
)

// ExtensionName names the extension for gqlgen.
func (GraphQLSpans) ExtensionName() string { return "StorybotSpans" }

// Validate accepts every schema.
func (GraphQLSpans) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation makes the operation's span. It ends with the
// operation's last response (a subscription's when its stream ends), or
// when the operation's context ends.
func (g GraphQLSpans) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	opCtx := graphql.GetOperationContext(ctx)
	typ, name := operationType(opCtx), operationName(opCtx)
	spanName := typ
	if name != "" {
		spanName = typ + " " + name
	}
	attrs := []attribute.KeyValue{semconv.GraphQLOperationTypeKey.String(typ)}
	if name != "" {
		attrs = append(attrs, semconv.GraphQLOperationName(name))
	}
	ctx, span := g.Tracing.Start(ctx, spanName, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	var once sync.Once
	end := func() { once.Do(func() { span.End() }) }
	stop := context.AfterFunc(ctx, end)
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp != nil && len(resp.Errors) > 0 {
			span.SetStatus(codes.Error, resp.Errors.Error())
		}
		if resp == nil || typ != "subscription" && (resp.HasNext == nil || !*resp.HasNext) {
			stop()
			end()
		}
		return resp
	}
}

// InterceptField makes a span of each field that runs a resolver.
func (g GraphQLSpans) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, span := g.Tracing.Start(ctx, fc.Object+"."+fc.Field.Name, trace.WithAttributes(
		attribute.String("graphql.field.name", fc.Field.Name), attribute.String("graphql.field.parent_type", fc.Object),
		attribute.String("graphql.field.path", fc.Path().String()),
	))
	res, err := next(ctx)
	EndSpan(span, err)
	return res, err
}
