package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// TraceIDHeader is the HTTP header that carries a request's trace ID, both
// ways.
const TraceIDHeader = "X-Trace-Id"

// maxTraceIDLen is the longest trace ID accepted from a client.
const maxTraceIDLen = 64

type traceIDKey struct{}

type connectionTraceIDKey struct{}

// carrierKey holds the span context that ContextWithTraceID made to carry a
// trace ID where no span exists: Tracing.Start starts a new root in its
// trace rather than a child of a span that was never recorded.
type carrierKey struct{}

// linkKey holds the span context that the span Start makes next links to:
// a websocket operation's span links to its connection's.
type linkKey struct{}

// TraceIDFromContext returns the trace ID of ctx: a client's own ID that is
// no W3C trace ID when ContextWithTraceID stored one (see
// TraceIDFromRequest), else its OpenTelemetry span context's trace ID, else
// "".
func TraceIDFromContext(ctx context.Context) string {
	if id, _ := ctx.Value(traceIDKey{}).(string); id != "" {
		return id
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// SpanIDFromContext returns the span ID of ctx's span context, or "".
func SpanIDFromContext(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasSpanID() {
		return sc.SpanID().String()
	}
	return ""
}

// ContextWithTraceID returns a copy of ctx carrying id as its trace ID. A W3C
// trace ID (32 lowercase hex digits) becomes ctx's span context, unless ctx
// is in that trace already, so that it travels in traceparent headers and a
// span started from ctx is in that trace. Any other id that ValidTraceID
// accepts (a client's own) is what TraceIDFromContext returns, for headers
// and logs, while spans keep a trace ID of their own. An id that
// ValidTraceID rejects is not stored: ctx is returned unchanged.
func ContextWithTraceID(ctx context.Context, id string) context.Context {
	if !ValidTraceID(id) {
		return ctx
	}
	tid, ok := w3cTraceID(id)
	if !ok {
		return context.WithValue(ctx, traceIDKey{}, id)
	}
	if id, _ := ctx.Value(traceIDKey{}).(string); id != "" {
		ctx = context.WithValue(ctx, traceIDKey{}, "")
	}
	if trace.SpanContextFromContext(ctx).TraceID() == tid {
		return ctx
	}
	return withCarrier(ctx, tid, trace.TraceFlags(0))
}

// w3cTraceID returns id as a trace ID when it is one in the W3C form: 32
// lowercase hex digits, not all zero.
func w3cTraceID(id string) (trace.TraceID, bool) {
	tid, err := trace.TraceIDFromHex(id)
	return tid, err == nil && tid.String() == id
}

// withCarrier makes a span context in trace tid, with a new span ID, ctx's
// span context.
func withCarrier(ctx context.Context, tid trace.TraceID, flags trace.TraceFlags) context.Context {
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: randomSpanID(), TraceFlags: flags})
	return trace.ContextWithSpanContext(context.WithValue(ctx, carrierKey{}, sc), sc)
}

// isCarrier reports whether sc is a span context that withCarrier made.
func isCarrier(ctx context.Context, sc trace.SpanContext) bool {
	c, ok := ctx.Value(carrierKey{}).(trace.SpanContext)
	return ok && c.Equal(sc)
}

// ConnectionTraceIDFromContext returns the trace ID of the websocket
// connection that an operation runs on, or "" outside a websocket
// connection. The operation's own ID is TraceIDFromContext.
func ConnectionTraceIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(connectionTraceIDKey{}).(string)
	return id
}

// contextWithOperationTraceID gives an operation on a websocket connection
// its own trace ID, keeping the connection's beside it; the operation's span
// links to the connection's.
func contextWithOperationTraceID(ctx context.Context, id, connectionID string) context.Context {
	ctx = context.WithValue(ctx, connectionTraceIDKey{}, connectionID)
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && !isCarrier(ctx, sc) {
		ctx = context.WithValue(ctx, linkKey{}, sc)
	}
	tid, ok := w3cTraceID(id)
	if !ok {
		return context.WithValue(ctx, traceIDKey{}, id)
	}
	return withCarrier(context.WithValue(ctx, traceIDKey{}, ""), tid, trace.TraceFlags(0))
}

// NewTraceID returns a new random 128-bit trace ID as 32 lowercase hex
// digits, the form W3C Trace Context uses.
func NewTraceID() string {
	var b [16]byte
	// crypto/rand.Read never returns an error; it crashes the program if
	// the system's random source fails.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ValidTraceID reports whether s can be used as a trace ID: 1 to 64
// characters, each an ASCII letter or digit, '.', '_' or '-'.
func ValidTraceID(s string) bool {
	if len(s) == 0 || len(s) > maxTraceIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// TraceIDFromRequest returns the trace ID for r: its X-Trace-Id header when
// valid (see ValidTraceID), else the trace-id of a valid W3C traceparent
// header, else a new ID. Invalid header values are ignored.
//
// The trace ID is the OpenTelemetry trace's, except for an X-Trace-Id that
// is no W3C trace ID (32 lowercase hex digits): such a client's own ID is
// kept for the response headers and the logs, and the spans of the request
// are in a trace of their own (or the traceparent's). A W3C X-Trace-Id is
// the trace's ID, unless a traceparent names another trace: the
// traceparent wins, as it names the parent span too.
func TraceIDFromRequest(r *http.Request) string {
	return TraceIDFromContext(requestContext(r))
}

// requestContext returns r's context with the trace context of r's headers
// (traceparent, tracestate, baggage), or a span context carrying the trace
// ID of its X-Trace-Id header or a new one; and a client's own X-Trace-Id
// (see TraceIDFromRequest).
func requestContext(r *http.Request) context.Context {
	ctx := Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	header := r.Header.Get(TraceIDHeader)
	if !trace.SpanContextFromContext(ctx).IsValid() {
		tid, ok := w3cTraceID(header)
		if !ok {
			tid = randomTraceID()
		}
		ctx = withCarrier(ctx, tid, trace.TraceFlags(0))
	}
	if _, w3c := w3cTraceID(header); !w3c && ValidTraceID(header) {
		ctx = context.WithValue(ctx, traceIDKey{}, header)
	}
	return ctx
}

// TraceMiddleware is the Middleware of tracing that is off: it gives every
// request a trace ID and sets X-Trace-Id, and records no span.
func TraceMiddleware(next http.Handler) http.Handler {
	return (*Tracing)(nil).Middleware(next)
}

// Middleware gives every request a trace context (see TraceIDFromRequest),
// stores it in the request's context with t, and sets the X-Trace-Id
// response header before next runs, so that every response carries it:
// errors, streams and websocket upgrades included. When t is on, the request
// is a server span (a websocket's lasts as long as its connection).
func (t *Tracing) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := requestContext(r)
		if !t.Enabled() {
			w.Header().Set(TraceIDHeader, TraceIDFromContext(ctx))
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		ctx, span := t.Start(ContextWithTracing(ctx, t), r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				semconv.HTTPRequestMethodKey.String(methodLabel(r.Method)), semconv.URLPath(r.URL.Path),
				semconv.URLScheme(scheme(r)), semconv.ServerAddress(r.Host), semconv.UserAgentOriginal(r.UserAgent()),
			))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			code := sw.statusCode()
			span.SetAttributes(semconv.HTTPResponseStatusCode(code))
			if code >= http.StatusInternalServerError {
				span.SetStatus(codes.Error, http.StatusText(code))
			}
			span.End()
		}()
		w.Header().Set(TraceIDHeader, TraceIDFromContext(ctx))
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// ContextWithTraceOf returns base with the trace context of from: its span
// context, so that a span started from the result is a child of from's
// span, and its trace ID. Work that outlives a request (a story's run)
// derives its context so.
func ContextWithTraceOf(base, from context.Context) context.Context {
	if id, _ := from.Value(traceIDKey{}).(string); id != "" {
		base = context.WithValue(base, traceIDKey{}, id)
	}
	sc := trace.SpanContextFromContext(from)
	if !sc.IsValid() {
		return base
	}
	if isCarrier(from, sc) {
		base = context.WithValue(base, carrierKey{}, sc)
	}
	return trace.ContextWithSpanContext(base, sc)
}
