package limits

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// eventually waits until cond holds. It asserts nothing about time: if cond
// never holds, the test's deadline ends it.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("gave up waiting until %s", what)
		}
		runtime.Gosched()
	}
}

// queue starts a goroutine that waits at g and reports its result on the
// returned channel once it is let in (or refused). It returns once the
// goroutine is in the queue.
func queue(t *testing.T, ctx context.Context, g *Gate) <-chan acquired {
	t.Helper()
	before := g.Queued()
	done := make(chan acquired, 1)
	go func() {
		release, err := g.Acquire(ctx)
		done <- acquired{release, err}
	}()
	eventually(t, "the caller is queued", func() bool { return g.Queued() == before+1 })
	return done
}

type acquired struct {
	release func()
	err     error
}

func TestGateCapsAndQueuesFIFO(t *testing.T) {
	g := NewGate(2, 3)
	ctx := t.Context()

	var held []func()
	for range 2 {
		release, err := g.Acquire(ctx)
		if err != nil {
			t.Fatalf("Acquire with a free slot: %v", err)
		}
		held = append(held, release)
	}
	if a, q := g.Active(), g.Queued(); a != 2 || q != 0 {
		t.Fatalf("Active, Queued = %d, %d; want 2, 0", a, q)
	}

	// Three more wait, in order.
	var waiters []<-chan acquired
	for range 3 {
		waiters = append(waiters, queue(t, ctx, g))
	}
	if a, q := g.Active(), g.Queued(); a != 2 || q != 3 {
		t.Fatalf("Active, Queued = %d, %d; want 2, 3", a, q)
	}
	for i, w := range waiters {
		select {
		case <-w:
			t.Fatalf("waiter %d let in while both slots are held", i)
		default:
		}
	}

	// Each release lets exactly the longest-waiting caller in.
	for i, w := range waiters {
		held[0]()
		held = held[1:]
		got := <-w
		if got.err != nil {
			t.Fatalf("waiter %d: %v", i, got.err)
		}
		held = append(held, got.release)
		for j, later := range waiters[i+1:] {
			select {
			case <-later:
				t.Fatalf("waiter %d let in before waiter %d's turn", i+1+j, i)
			default:
			}
		}
		if a, q := g.Active(), g.Queued(); a != 2 || q != 2-i {
			t.Fatalf("after release %d: Active, Queued = %d, %d; want 2, %d", i, a, q, 2-i)
		}
	}
	for _, release := range held {
		release()
	}
	if a, q := g.Active(), g.Queued(); a != 0 || q != 0 {
		t.Errorf("after all released: Active, Queued = %d, %d; want 0, 0", a, q)
	}
}

func TestGateQueueFull(t *testing.T) {
	tests := []struct {
		name                 string
		maxActive, maxQueued int
	}{
		{"no queue", 1, 0},
		{"queue of one", 1, 1},
		{"queue of three", 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGate(tt.maxActive, tt.maxQueued)
			ctx := t.Context()
			var releases []func()
			for range tt.maxActive {
				release, err := g.Acquire(ctx)
				if err != nil {
					t.Fatal(err)
				}
				releases = append(releases, release)
			}
			var waiters []<-chan acquired
			for range tt.maxQueued {
				waiters = append(waiters, queue(t, ctx, g))
			}
			release, err := g.Acquire(ctx)
			if !errors.Is(err, ErrQueueFull) || release != nil {
				t.Fatalf("Acquire with a full queue = %v, %v; want nil, ErrQueueFull", release != nil, err)
			}
			if q := g.Queued(); q != tt.maxQueued {
				t.Errorf("Queued = %d after a refusal, want %d", q, tt.maxQueued)
			}
			for _, release := range releases {
				release()
			}
			for _, w := range waiters {
				got := <-w
				if got.err != nil {
					t.Fatal(got.err)
				}
				got.release()
			}
			if a, q := g.Active(), g.Queued(); a != 0 || q != 0 {
				t.Errorf("Active, Queued = %d, %d; want 0, 0", a, q)
			}
		})
	}
}

func TestGateCancelFreesQueueSlot(t *testing.T) {
	g := NewGate(1, 1)
	hold, err := g.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	w := queue(t, ctx, g)
	if _, err := g.Acquire(t.Context()); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Acquire with a full queue: %v, want ErrQueueFull", err)
	}
	cancel()
	if got := <-w; !errors.Is(got.err, context.Canceled) || got.release != nil {
		t.Fatalf("cancelled waiter got %v, %v; want nil, context.Canceled", got.release != nil, got.err)
	}
	if q := g.Queued(); q != 0 {
		t.Fatalf("Queued = %d after the waiter gave up, want 0", q)
	}

	// Its place can be taken, and the slot goes to the new waiter.
	next := queue(t, t.Context(), g)
	hold()
	got := <-next
	if got.err != nil {
		t.Fatal(got.err)
	}
	if a := g.Active(); a != 1 {
		t.Errorf("Active = %d, want 1", a)
	}
	got.release()
	if a, q := g.Active(), g.Queued(); a != 0 || q != 0 {
		t.Errorf("Active, Queued = %d, %d; want 0, 0", a, q)
	}
}

func TestGateDoneContext(t *testing.T) {
	g := NewGate(1, 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if release, err := g.Acquire(ctx); !errors.Is(err, context.Canceled) || release != nil {
		t.Fatalf("Acquire(done ctx) = %v, %v; want nil, context.Canceled", release != nil, err)
	}
	if a := g.Active(); a != 0 {
		t.Errorf("Active = %d after a refused Acquire, want 0", a)
	}
}

func TestGateReleaseTwice(t *testing.T) {
	g := NewGate(1, 0)
	release, err := g.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	release()
	release()
	if a := g.Active(); a != 0 {
		t.Fatalf("Active = %d, want 0", a)
	}
	if _, err := g.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Acquire(t.Context()); !errors.Is(err, ErrQueueFull) {
		t.Errorf("second Acquire = %v, want ErrQueueFull: a double release freed two slots", err)
	}
}

// TestGateUnderLoad races acquisitions, releases and cancellations; the cap
// must hold throughout and every slot must come back.
func TestGateUnderLoad(t *testing.T) {
	const (
		maxActive  = 3
		goroutines = 32
		rounds     = 200
	)
	g := NewGate(maxActive, 8)
	var running, peak atomic.Int64
	var outcomes sync.Map
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			for j := range rounds {
				ctx, cancel := context.WithCancel(t.Context())
				if (i+j)%5 == 0 {
					// Give up while (perhaps) queued, racing the grant.
					go cancel()
				}
				release, err := g.Acquire(ctx)
				cancel()
				switch {
				case err == nil:
					n := running.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					runtime.Gosched()
					running.Add(-1)
					release()
					outcomes.Store("ok", true)
				case errors.Is(err, ErrQueueFull):
					outcomes.Store("full", true)
				case errors.Is(err, context.Canceled):
					outcomes.Store("canceled", true)
				default:
					t.Errorf("Acquire: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > maxActive {
		t.Errorf("%d ran at once, want at most %d", p, maxActive)
	}
	if a, q := g.Active(), g.Queued(); a != 0 || q != 0 {
		t.Errorf("after the load: Active, Queued = %d, %d; want 0, 0", a, q)
	}
	var seen []string
	outcomes.Range(func(k, _ any) bool { seen = append(seen, k.(string)); return true })
	if _, ok := outcomes.Load("ok"); !ok {
		t.Errorf("no acquisition succeeded; outcomes: %v", seen)
	}
}

func TestNewGatePanics(t *testing.T) {
	for _, args := range [][2]int{{0, 1}, {-1, 0}, {1, -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewGate(%d, %d) did not panic", args[0], args[1])
				}
			}()
			NewGate(args[0], args[1])
		}()
	}
}

func BenchmarkGate(b *testing.B) {
	g := NewGate(4, 64)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			release, err := g.Acquire(ctx)
			if err == nil {
				release()
			}
		}
	})
}
