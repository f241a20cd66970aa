package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// TraceIDHeader is the HTTP header that carries a request's trace ID, both
// ways.
const TraceIDHeader = "X-Trace-Id"

// traceparentHeader is the W3C Trace Context header.
const traceparentHeader = "Traceparent"

// maxTraceIDLen is the longest trace ID accepted from a client.
const maxTraceIDLen = 64

type traceIDKey struct{}

type connectionTraceIDKey struct{}

// TraceIDFromContext returns the trace ID stored in ctx, or "" when there is
// none.
func TraceIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(traceIDKey{}).(string)
	return id
}

// ContextWithTraceID returns a copy of ctx carrying id as its trace ID. An id
// that ValidTraceID rejects is not stored: ctx is returned unchanged.
func ContextWithTraceID(ctx context.Context, id string) context.Context {
	if !ValidTraceID(id) {
		return ctx
	}
	return context.WithValue(ctx, traceIDKey{}, id)
}

// ConnectionTraceIDFromContext returns the trace ID of the websocket
// connection that an operation runs on, or "" outside a websocket
// connection. The operation's own ID is TraceIDFromContext.
func ConnectionTraceIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(connectionTraceIDKey{}).(string)
	return id
}

// contextWithOperationTraceID gives an operation on a websocket connection
// its own trace ID, keeping the connection's beside it.
func contextWithOperationTraceID(ctx context.Context, id, connectionID string) context.Context {
	ctx = context.WithValue(ctx, connectionTraceIDKey{}, connectionID)
	return context.WithValue(ctx, traceIDKey{}, id)
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
// valid, else the trace-id of a valid W3C traceparent header, else a new ID.
// Invalid header values are ignored.
func TraceIDFromRequest(r *http.Request) string {
	if id := r.Header.Get(TraceIDHeader); ValidTraceID(id) {
		return id
	}
	if id, ok := parseTraceparent(r.Header.Get(traceparentHeader)); ok {
		return id
	}
	return NewTraceID()
}

// parseTraceparent returns the trace-id field of a W3C traceparent header
// value (version-traceid-parentid-flags), following the rules of the
// Trace Context specification: lowercase hex only, version ff and all-zero
// IDs are invalid, and versions after 00 may append fields.
func parseTraceparent(v string) (string, bool) {
	const (
		versionLen = 2
		traceIDLen = 32
		parentLen  = 16
		flagsLen   = 2
		minLen     = versionLen + 1 + traceIDLen + 1 + parentLen + 1 + flagsLen
	)
	if len(v) < minLen {
		return "", false
	}
	version := v[:versionLen]
	traceID := v[versionLen+1 : versionLen+1+traceIDLen]
	parentID := v[versionLen+1+traceIDLen+1 : versionLen+1+traceIDLen+1+parentLen]
	flags := v[minLen-flagsLen : minLen]
	if v[versionLen] != '-' || v[versionLen+1+traceIDLen] != '-' || v[minLen-flagsLen-1] != '-' {
		return "", false
	}
	if !lowerHex(version) || version == "ff" || !lowerHex(flags) {
		return "", false
	}
	if !lowerHex(traceID) || allZero(traceID) || !lowerHex(parentID) || allZero(parentID) {
		return "", false
	}
	switch {
	case len(v) == minLen:
	case version == "00":
		// Version 00 has exactly four fields.
		return "", false
	case v[minLen] != '-':
		return "", false
	}
	return traceID, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// TraceMiddleware gives every request a trace ID (see TraceIDFromRequest),
// stores it in the request's context and sets the X-Trace-Id response header
// before next runs, so that every response carries it: errors, streams and
// websocket upgrades included.
func TraceMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := TraceIDFromRequest(r)
		w.Header().Set(TraceIDHeader, id)
		next.ServeHTTP(w, r.WithContext(ContextWithTraceID(r.Context(), id)))
	})
}
