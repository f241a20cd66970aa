package story

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound is returned for a story or prompt that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrFinished is returned when cancelling a story that has already ended.
	ErrFinished = errors.New("story has already finished")
	// ErrInvalidInput is wrapped by every error about bad generation
	// parameters; its message says which and why.
	ErrInvalidInput = errors.New("invalid input")
	// ErrBusy is returned when too many generations run and wait already.
	ErrBusy = errors.New("the server is busy")
	// ErrShuttingDown is returned for new generations once Shutdown began.
	ErrShuttingDown = errors.New("the server is shutting down")
)

// invalid returns an error about bad input, whose message is for the
// client, and which matches ErrInvalidInput with errors.Is.
func invalid(format string, args ...any) error {
	return &inputError{fmt.Sprintf(format, args...)}
}

type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == ErrInvalidInput }
