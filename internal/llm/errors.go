package llm

import (
	"context"
	"errors"
	"fmt"
)

// Errors returned by the generators. They are wrapped with a message that
// says what happened in words a reader of the story can follow, so
// err.Error() can be stored and shown as it is; test for them with
// [errors.Is].
var (
	// ErrUnavailable means the model server could not be reached: the
	// connection was refused, the host was not found, or no connection
	// came up within the connect time-out.
	ErrUnavailable = errors.New("model server unavailable")

	// ErrTimeout means the model server was reached but too slow: no text
	// arrived within the first-token time-out, or the stream stalled for
	// longer than the idle time-out. A connect time-out is both ErrTimeout
	// and ErrUnavailable.
	ErrTimeout = errors.New("model server timed out")

	// ErrProvider means the model server answered with an error: an HTTP
	// error status, an error object in the middle of the stream, a chunk
	// that could not be read, or a stream that broke off before the model
	// finished.
	ErrProvider = errors.New("model server error")

	// ErrRateLimited means the model server refused the request with HTTP
	// 429 Too Many Requests. It always comes with ErrProvider.
	ErrRateLimited = errors.New("model server rate limit reached")

	// ErrInvalidConfig means a generator was configured with values it
	// cannot work with, such as a malformed base URL or no model.
	ErrInvalidConfig = errors.New("invalid generator configuration")
)

// multiError is an error whose message is that of err, and which also
// matches the sentinels in also. It lets one error be, for example, both a
// time-out and an unavailable server without repeating both in its text.
type multiError struct {
	err  error
	also []error
}

func (e *multiError) Error() string { return e.err.Error() }

func (e *multiError) Unwrap() []error { return append([]error{e.err}, e.also...) }

// withAlso returns err, additionally matching each of also.
func withAlso(err error, also ...error) error {
	return &multiError{err: err, also: also}
}

// canceled returns the error for a generation stopped through ctx. It
// satisfies errors.Is with context.Canceled or context.DeadlineExceeded, and
// with the context's cause when one was given.
func canceled(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return fmt.Errorf("generation stopped: %w: %w", err, cause)
	}
	return fmt.Errorf("generation stopped: %w", err)
}
