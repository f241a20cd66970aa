package telemetry

import (
	"errors"
	"fmt"
	"log/slog"
)

// Error is the one way storybot logs an error: the ECS error object, with
// error.message (err.Error()) and error.type (the Go type of the innermost
// error err wraps, such as *pgconn.PgError). A nil err adds nothing.
//
//	log.WarnContext(ctx, "storing the story's text failed", telemetry.Error(err))
func Error(err error) slog.Attr {
	if err == nil {
		return slog.Attr{}
	}
	return slog.Group("error",
		slog.String("message", err.Error()),
		slog.String("type", errorType(err)),
	)
}

// ErrorMessage logs an error known only by its text (a story's stored
// error) as the ECS error object's error.message. An empty msg adds nothing.
func ErrorMessage(msg string) slog.Attr {
	if msg == "" {
		return slog.Attr{}
	}
	return slog.Group("error", slog.String("message", msg))
}

// Panic logs a recovered panic as the ECS error object: error.message (the
// panic value), error.type ("panic", or the Go type of a panic that is an
// error) and error.stack_trace.
func Panic(v any, stack []byte) slog.Attr {
	typ := "panic"
	if err, ok := v.(error); ok {
		typ = errorType(err)
	}
	return slog.Group("error",
		slog.String("message", fmt.Sprint(v)),
		slog.String("type", typ),
		slog.String("stack_trace", string(stack)),
	)
}

// errorType is the Go type of the innermost error err wraps through single
// wrapping (fmt.Errorf's %w, Unwrap() error); wrapping by several errors
// (errors.Join) ends the walk there.
func errorType(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return fmt.Sprintf("%T", err)
		}
		err = next
	}
}
