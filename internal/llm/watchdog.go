package llm

import (
	"context"
	"sync"
	"time"
)

// A watchdog cancels a generation's context when one phase of the stream
// (connecting, waiting for the first text, waiting for the next chunk) lasts
// longer than its time-out. The cancellation cause says which phase it was,
// so the caller can turn it into the right error.
//
// Its timer runs a function on a goroutine of the runtime's; stop makes sure
// no cancellation is left pending when the generation ends.
type watchdog struct {
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	timer    *time.Timer
	cause    error
	deadline time.Time
	stopped  bool
}

func newWatchdog(cancel context.CancelCauseFunc) *watchdog {
	return &watchdog{cancel: cancel}
}

// arm starts the time-out of a new phase, replacing the current one: after d
// the context is cancelled with cause. A d of zero or less disarms it.
func (w *watchdog) arm(d time.Duration, cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if d <= 0 {
		w.cause = nil
		if w.timer != nil {
			w.timer.Stop()
		}
		return
	}
	w.cause = cause
	w.deadline = time.Now().Add(d)
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
	} else {
		w.timer.Reset(d)
	}
}

// fire runs when the timer goes off. A timer that went off just as arm
// moved the deadline on finds the new deadline still ahead and does nothing.
func (w *watchdog) fire() {
	w.mu.Lock()
	cause := w.cause
	expired := !w.stopped && w.cause != nil && !time.Now().Before(w.deadline)
	w.mu.Unlock()
	if expired {
		w.cancel(cause)
	}
}

// stop disarms the watchdog for good.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
}
