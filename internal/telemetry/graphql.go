package telemetry

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TraceIDExtension is the key of the trace ID in a GraphQL response's
// extensions.
const TraceIDExtension = "traceId"

// defaultErrorCodes are the extensions.code values counted under their own
// name by graphql_errors_total; WithErrorCodes adds more. Other codes are
// counted as OTHER.
var defaultErrorCodes = []string{
	errcode.ParseFailed,
	errcode.ValidationFailed,
	"PERSISTED_QUERY_NOT_FOUND",
	"PERSISTED_QUERY_NOT_SUPPORTED",
	"COMPLEXITY_LIMIT_EXCEEDED",
	"BAD_USER_INPUT",
	"UNAUTHENTICATED",
	"FORBIDDEN",
	"NOT_FOUND",
	"CONFLICT",
	"RATE_LIMITED",
	"UNAVAILABLE",
	"INTERNAL",
	"INTERNAL_SERVER_ERROR",
}

// maxLoggedCodes bounds the distinct error codes one log line lists.
const maxLoggedCodes = 16

// GraphQLExtension is a gqlgen handler extension that measures operations
// and resolver fields, counts errors, puts the trace ID in every response's
// extensions, logs one line per operation and keeps the websocket and
// subscription gauges. Add it with (*handler.Server).Use, and pass its
// WebsocketInit and WebsocketClose to the websocket transport.
type GraphQLExtension struct {
	metrics      *Metrics
	logger       *slog.Logger
	fieldTimings bool
	codes        map[string]bool
	// fields holds each field's histogram, by [object, field]: looking a
	// series up by its labels hashes them and takes the vector's lock, on
	// every resolver a query runs.
	fields sync.Map
}

// ExtensionOption configures NewGraphQLExtension.
type ExtensionOption func(*GraphQLExtension)

// WithFieldTimings turns the per-field histogram on (the default) or off.
func WithFieldTimings(on bool) ExtensionOption {
	return func(e *GraphQLExtension) { e.fieldTimings = on }
}

// WithErrorCodes adds extensions.code values to the allow-list of
// graphql_errors_total's code label. The list starts with gqlgen's codes
// (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED,
// PERSISTED_QUERY_NOT_FOUND, PERSISTED_QUERY_NOT_SUPPORTED,
// COMPLEXITY_LIMIT_EXCEEDED) and common ones (BAD_USER_INPUT,
// UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, RATE_LIMITED,
// UNAVAILABLE, INTERNAL, INTERNAL_SERVER_ERROR).
func WithErrorCodes(codes ...string) ExtensionOption {
	return func(e *GraphQLExtension) {
		for _, c := range codes {
			e.codes[c] = true
		}
	}
}

// NewGraphQLExtension returns the extension, recording into m and logging
// with logger.
func NewGraphQLExtension(m *Metrics, logger *slog.Logger, opts ...ExtensionOption) *GraphQLExtension {
	e := &GraphQLExtension{
		metrics:      m,
		logger:       logger,
		fieldTimings: true,
		codes:        make(map[string]bool, len(defaultErrorCodes)),
	}
	for _, c := range defaultErrorCodes {
		e.codes[c] = true
	}
	for _, opt := range opts {
		opt(e)
	}
	return e
}

var (
	_ graphql.HandlerExtension     = (*GraphQLExtension)(nil)
	_ graphql.OperationInterceptor = (*GraphQLExtension)(nil)
	_ graphql.ResponseInterceptor  = (*GraphQLExtension)(nil)
	_ graphql.FieldInterceptor     = (*GraphQLExtension)(nil)
)

// ExtensionName names the extension for gqlgen.
func (e *GraphQLExtension) ExtensionName() string {
	return "StorybotTelemetry"
}

// Validate accepts every schema.
func (e *GraphQLExtension) Validate(graphql.ExecutableSchema) error {
	return nil
}

// InterceptField observes the duration of fields that run a resolver.
// Plain struct fields are not observed: they cost nothing worth a series.
func (e *GraphQLExtension) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	if !e.fieldTimings {
		return next(ctx)
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	start := time.Now()
	res, err := next(ctx)
	// Field.Name is the schema's name, not the client's alias.
	e.fieldObserver(fc.Object, fc.Field.Name).Observe(time.Since(start).Seconds())
	return res, err
}

// fieldObserver returns the histogram of object's field, from e.fields once
// it has been looked up.
func (e *GraphQLExtension) fieldObserver(object, field string) prometheus.Observer {
	key := [2]string{object, field}
	if o, ok := e.fields.Load(key); ok {
		return o.(prometheus.Observer)
	}
	o := e.metrics.fieldDuration.WithLabelValues(object, field)
	e.fields.Store(key, o)
	return o
}

// InterceptOperation follows one operation from its start to its last
// response. An operation on a websocket connection gets a trace ID of its
// own, stored in its context beside the connection's.
func (e *GraphQLExtension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	opCtx := graphql.GetOperationContext(ctx)
	if connectionFromContext(ctx) != nil || transport.GetInitPayload(ctx) != nil {
		ctx = contextWithOperationTraceID(ctx, NewTraceID(), TraceIDFromContext(ctx))
	}
	op := &operation{
		ext:   e,
		typ:   operationType(opCtx),
		name:  operationName(opCtx),
		start: operationStart(ctx, opCtx),
	}
	ctx = context.WithValue(ctx, operationKey{}, op)
	op.ctx = ctx
	op.traceID = TraceIDFromContext(ctx)
	if op.traceID != "" {
		op.extensions = map[string]any{TraceIDExtension: op.traceID}
	}
	if op.typ == "subscription" {
		op.active = true
		e.metrics.subscriptions.Inc()
	}
	// The operation's context ends when the client goes away (a closed
	// websocket, a stopped subscription, an ended request): that ends the
	// operation even when its stream never returns again.
	stop := context.AfterFunc(ctx, op.finish)

	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp == nil {
			op.finish()
			stop()
			return nil
		}
		op.record(resp)
		if op.typ != "subscription" && (resp.HasNext == nil || !*resp.HasNext) {
			op.finish()
			stop()
		}
		return resp
	}
}

// InterceptResponse handles the responses of requests that failed before
// their operation began (bad JSON, syntax or validation errors): gqlgen
// sends those without running InterceptOperation. Responses of operations
// are handled there.
func (e *GraphQLExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if ctx.Value(operationKey{}) != nil {
		return next(ctx)
	}
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	typ, name := unknownLabel, ""
	var start time.Time
	if graphql.HasOperationContext(ctx) {
		opCtx := graphql.GetOperationContext(ctx)
		if opCtx.Operation != nil {
			typ = operationType(opCtx)
		}
		name = opCtx.OperationName
		start = opCtx.Stats.OperationStart
	}
	if start.IsZero() {
		start = graphql.GetStartTime(ctx)
	}
	op := &operation{
		ext:     e,
		ctx:     ctx,
		typ:     typ,
		name:    name,
		start:   start,
		traceID: TraceIDFromContext(ctx),
	}
	op.record(resp)
	op.finish()
	return resp
}

type operationKey struct{}

// operation is what the extension knows about one running operation.
type operation struct {
	ext     *GraphQLExtension
	ctx     context.Context
	typ     string
	name    string
	start   time.Time
	traceID string
	// extensions is {"traceId": traceID}, shared by the responses that have
	// no extensions of their own (a subscription's events): telemetry is the
	// outermost extension, so nothing writes to it after record.
	extensions map[string]any
	// active is set when the operation counts in graphql_active_subscriptions.
	active bool

	mu        sync.Mutex
	finished  bool
	responses int
	errors    int
	codes     []string
}

// record puts the trace ID in resp's extensions and counts its errors.
func (op *operation) record(resp *graphql.Response) {
	if op.traceID != "" {
		switch {
		case resp.Extensions != nil:
			resp.Extensions[TraceIDExtension] = op.traceID
		case op.extensions != nil:
			resp.Extensions = op.extensions
		default:
			resp.Extensions = map[string]any{TraceIDExtension: op.traceID}
		}
	}
	codes := make([]string, len(resp.Errors))
	for i, err := range resp.Errors {
		codes[i] = op.ext.errorCode(err)
		op.ext.metrics.graphqlError(codes[i])
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	op.responses++
	op.errors += len(resp.Errors)
	for _, c := range codes {
		if !slices.Contains(op.codes, c) && len(op.codes) < maxLoggedCodes {
			op.codes = append(op.codes, c)
		}
	}
}

// finish counts and logs the operation, once.
func (op *operation) finish() {
	op.mu.Lock()
	if op.finished {
		op.mu.Unlock()
		return
	}
	op.finished = true
	responses, errs, codes := op.responses, op.errors, op.codes
	op.mu.Unlock()

	e := op.ext
	if op.active {
		e.metrics.subscriptions.Dec()
	}
	outcome := outcomeOK
	if errs > 0 {
		outcome = outcomeError
	}
	d := time.Duration(-1)
	if !op.start.IsZero() {
		d = time.Since(op.start)
	}
	e.metrics.operationFinished(op.typ, outcome, d)

	level := slog.LevelInfo
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String("graphql.operation.type", op.typ),
		slog.String("graphql.operation.name", op.name),
		slog.String("event.outcome", ecsOutcome(outcome)),
	)
	if d >= 0 {
		attrs = append(attrs, slog.Duration("event.duration", d))
	}
	if errs > 0 {
		level = slog.LevelWarn
		attrs = append(attrs,
			slog.Int("storybot.graphql.errors", errs),
			slog.Any("storybot.graphql.error_codes", codes),
		)
	}
	if op.typ == "subscription" {
		attrs = append(attrs,
			slog.Int("storybot.graphql.subscription.events", responses),
			slog.Bool("storybot.graphql.subscription.cancelled", op.ctx.Err() != nil),
		)
	}
	e.logger.LogAttrs(op.ctx, level, "graphql operation", attrs...)
}

// errorCode is err's extensions.code when it is in the allow-list, OTHER
// when it is not, and NONE when there is none.
func (e *GraphQLExtension) errorCode(err *gqlerror.Error) string {
	code, _ := err.Extensions["code"].(string)
	switch {
	case code == "":
		return noneLabel
	case e.codes[code]:
		return code
	default:
		return otherLabel
	}
}

func operationType(opCtx *graphql.OperationContext) string {
	if opCtx == nil || opCtx.Operation == nil {
		return unknownLabel
	}
	switch opCtx.Operation.Operation {
	case ast.Query:
		return "query"
	case ast.Mutation:
		return "mutation"
	case ast.Subscription:
		return "subscription"
	default:
		return unknownLabel
	}
}

func operationName(opCtx *graphql.OperationContext) string {
	if opCtx == nil {
		return ""
	}
	if opCtx.Operation != nil && opCtx.Operation.Name != "" {
		return opCtx.Operation.Name
	}
	return opCtx.OperationName
}

func operationStart(ctx context.Context, opCtx *graphql.OperationContext) time.Time {
	if opCtx != nil && !opCtx.Stats.OperationStart.IsZero() {
		return opCtx.Stats.OperationStart
	}
	if t := graphql.GetStartTime(ctx); !t.IsZero() {
		return t
	}
	return time.Now()
}

// ecsOutcome maps an operation outcome to ECS's event.outcome.
func ecsOutcome(outcome string) string {
	if outcome == outcomeOK {
		return "success"
	}
	return "failure"
}

type connectionKey struct{}

// connection is one GraphQL websocket connection.
type connection struct {
	start time.Time
	ended atomic.Bool
}

func connectionFromContext(ctx context.Context) *connection {
	c, _ := ctx.Value(connectionKey{}).(*connection)
	return c
}

// WebsocketInit is a transport.Websocket InitFunc. It names the connection
// with the traceId of the connection_init payload when that is a valid
// trace ID, else with the upgrade request's trace ID (see TraceMiddleware),
// else with a new one; it counts and logs the connection, and acknowledges
// with {"traceId": id}. An InitFunc of the server's own can call it and go
// on with the context it returns.
func (e *GraphQLExtension) WebsocketInit(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	id := payload.GetString(TraceIDExtension)
	if !ValidTraceID(id) {
		id = TraceIDFromContext(ctx)
	}
	if id == "" {
		id = NewTraceID()
	}
	ctx = ContextWithTraceID(ctx, id)
	c := &connection{start: time.Now()}
	ctx = context.WithValue(ctx, connectionKey{}, c)
	e.metrics.wsConnections.Inc()
	// The upgrade request's context ends when the connection's handler
	// returns; that ends the connection for the gauge even if CloseFunc is
	// never called with this context.
	context.AfterFunc(ctx, func() { e.endConnection(ctx, c, -1) })
	e.logger.LogAttrs(ctx, slog.LevelInfo, "websocket connection started")
	return ctx, &transport.InitPayload{TraceIDExtension: id}, nil
}

// WebsocketClose is a transport.Websocket CloseFunc: it counts and logs the
// end of a connection that WebsocketInit started.
func (e *GraphQLExtension) WebsocketClose(ctx context.Context, closeCode int) {
	if c := connectionFromContext(ctx); c != nil {
		e.endConnection(ctx, c, closeCode)
	}
}

// endConnection ends c once; closeCode < 0 means unknown.
func (e *GraphQLExtension) endConnection(ctx context.Context, c *connection, closeCode int) {
	if !c.ended.CompareAndSwap(false, true) {
		return
	}
	e.metrics.wsConnections.Dec()
	attrs := []slog.Attr{slog.Duration("event.duration", time.Since(c.start))}
	if closeCode >= 0 {
		attrs = append(attrs, slog.Int("storybot.websocket.close_code", closeCode))
	}
	e.logger.LogAttrs(ctx, slog.LevelInfo, "websocket connection ended", attrs...)
}
