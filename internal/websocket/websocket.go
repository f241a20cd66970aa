// Package websocket is what code running under a websocket connection's
// context may know of it and do to it: whether there is one (Over), close
// it with a reason (CloseWith), and the error that refuses its
// connection_init with a close code (CloseError). The transport
// (internal/subscription) puts its connections in their contexts with
// WithConn; this package depends on nothing, so that the services that
// act on connections (accounts) need not depend on the transport.
package websocket

import (
	"context"
	"fmt"
)

// Conn is a connection as code under its context sees it.
type Conn interface {
	// CloseWith closes the connection with a close frame of code and
	// reason.
	CloseWith(code int, reason string)
}

type connKey struct{}

// WithConn returns ctx carrying c.
func WithConn(ctx context.Context, c Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// CloseWith closes the websocket whose context ctx derives from (the
// connection_init's, an operation's) with a close frame of code and reason
// (4401 when its credentials were revoked, say). It reports false when ctx
// belongs to no websocket.
func CloseWith(ctx context.Context, code int, reason string) bool {
	c, _ := ctx.Value(connKey{}).(Conn)
	if c == nil {
		return false
	}
	c.CloseWith(code, reason)
	return true
}

// Over reports whether ctx belongs to a websocket connection.
func Over(ctx context.Context) bool {
	c, _ := ctx.Value(connKey{}).(Conn)
	return c != nil
}

// CloseError is an error of a connection_init check that closes the
// connection with Code and Reason.
type CloseError struct {
	Code   int
	Reason string
	Err    error
}

func (e *CloseError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("websocket closed: %d %s", e.Code, e.Reason)
}

// Unwrap returns the error that caused the close.
func (e *CloseError) Unwrap() error { return e.Err }
