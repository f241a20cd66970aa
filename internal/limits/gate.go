package limits

import (
	"container/list"
	"context"
	"errors"
	"strconv"
	"sync"
)

// ErrQueueFull is returned by Gate.Acquire when every slot is taken and the
// queue is full, so waiting would only pile up more work.
var ErrQueueFull = errors.New("the server is busy: too many requests are waiting; try again later")

// Gate caps how many operations run at once, server-wide. Callers beyond the
// cap wait in a bounded queue and are let in first come, first served; when
// the queue is full, they are turned away at once. It is safe for concurrent
// use and starts no goroutines.
type Gate struct {
	maxActive int
	maxQueued int

	mu      sync.Mutex
	active  int
	waiters list.List // of chan struct{}, closed when the waiter is let in
}

// NewGate returns a gate that lets maxActive operations run at once and
// queues up to maxQueued more (0 for no queue). It panics if maxActive is
// less than 1 or maxQueued is negative.
func NewGate(maxActive, maxQueued int) *Gate {
	if maxActive < 1 {
		panic("limits: a gate needs at least 1 active slot, got " + strconv.Itoa(maxActive))
	}
	if maxQueued < 0 {
		panic("limits: a gate's queue cannot be negative, got " + strconv.Itoa(maxQueued))
	}
	return &Gate{maxActive: maxActive, maxQueued: maxQueued}
}

// Acquire waits for a slot and returns the function that gives it back;
// calling that function more than once is harmless. It returns ErrQueueFull
// at once if the queue is full, and ctx's error if ctx ends first, in which
// case the caller leaves the queue and holds nothing.
func (g *Gate) Acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := g.Reserve()
	if err != nil {
		return nil, err
	}
	return t.Wait(ctx)
}

// Reserve takes a place at once, without waiting: a slot if one is free,
// else a place at the back of the queue; ErrQueueFull when neither is. The
// Ticket's Wait then waits for the slot. A caller can so refuse work
// synchronously and wait for its turn elsewhere.
func (g *Gate) Reserve() (*Ticket, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.active < g.maxActive && g.waiters.Len() == 0 {
		g.active++
		return &Ticket{g: g}, nil
	}
	if g.waiters.Len() >= g.maxQueued {
		return nil, ErrQueueFull
	}
	ready := make(chan struct{})
	return &Ticket{g: g, ready: ready, elem: g.waiters.PushBack(ready)}, nil
}

// Ticket is a place taken by Reserve: a slot, or a place in the queue.
type Ticket struct {
	g     *Gate
	ready chan struct{} // nil when the slot was free at once
	elem  *list.Element
}

// Cancel gives the place back without using it.
func (t *Ticket) Cancel() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if release, err := t.Wait(ctx); err == nil {
		release()
	}
}

// Wait waits for the ticket's slot and returns the function that gives it
// back. If ctx ends first, it leaves the queue, holds nothing and returns
// ctx's error. Call Wait once.
func (t *Ticket) Wait(ctx context.Context) (release func(), err error) {
	g := t.g
	if t.ready == nil {
		return g.releaseOnce(), nil
	}
	select {
	case <-t.ready:
		return g.releaseOnce(), nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	select {
	case <-t.ready:
		g.mu.Unlock()
		g.release()
	default:
		g.waiters.Remove(t.elem)
		g.mu.Unlock()
	}
	return nil, ctx.Err()
}

// Active returns the number of slots in use.
func (g *Gate) Active() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.active
}

// Queued returns the number of callers waiting for a slot.
func (g *Gate) Queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiters.Len()
}

func (g *Gate) releaseOnce() func() {
	var once sync.Once
	return func() { once.Do(g.release) }
}

// release hands the slot to the first waiter, or frees it.
func (g *Gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if front := g.waiters.Front(); front != nil {
		close(g.waiters.Remove(front).(chan struct{}))
		return
	}
	g.active--
}
