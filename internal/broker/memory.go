package broker

import (
	"context"
	"sync/atomic"
)

// Memory is a [Broker] within one process, for a single replica. Events are
// delivered during Publish, so the events of one story published from one
// goroutine arrive in the order published.
type Memory struct {
	hub    *hub
	closed atomic.Bool
}

var _ Broker = (*Memory)(nil)

// NewMemory returns an in-process broker. Of the options only
// [WithBufferSize] applies.
func NewMemory(opts ...Option) *Memory {
	o := newOptions(opts)
	return &Memory{hub: newHub(o.bufferSize)}
}

// Publish delivers ev to the story's subscribers without waiting for any of
// them. It fails with [ErrInvalidEvent] or, after Close, [ErrClosed].
func (m *Memory) Publish(ctx context.Context, ev Event) error {
	if err := validate(ev); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.hub.deliver(ev)
	return nil
}

// Subscribe returns a subscription to the events of storyID. After Close
// its channel is already closed.
func (m *Memory) Subscribe(storyID string) *Subscription {
	return m.hub.subscribe(storyID)
}

// Close closes every subscription. Later calls do nothing.
func (m *Memory) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	m.hub.close()
	return nil
}
