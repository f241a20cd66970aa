package story

import (
	"strings"
	"sync"
	"sync/atomic"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/pulid"
)

// view is a story's text and status as one replica knows them, shared by
// every local subscriber of the story. Writers append under mu and publish
// an immutable snapshot; readers load the latest snapshot without locking
// (thousands of subscribers wake on every token) and wait on its changed
// channel, which the next change closes, so one change wakes them all.
type view struct {
	mu      sync.Mutex
	text    strings.Builder
	tokens  int
	status  entstory.Status
	errMsg  *string
	changed chan struct{}
	cur     atomic.Pointer[snapshot]
	fan     *fanout // its local subscribers
}

func newView(s *Service, id pulid.ID, text string, tokens int, status entstory.Status, errMsg *string) *view {
	v := &view{tokens: tokens, status: status, errMsg: errMsg, changed: make(chan struct{})}
	v.text.WriteString(text)
	v.publish()
	v.fan = newFanout(s, id, v)
	return v
}

// publish makes the current state the snapshot readers see. The caller
// holds mu (or owns v).
func (v *view) publish() {
	// strings.Builder never rewrites bytes it has handed out, so the string
	// stays valid while the builder grows.
	v.cur.Store(&snapshot{text: v.text.String(), tokens: v.tokens, status: v.status, errMsg: v.errMsg, changed: v.changed})
}

// snapshot is one consistent reading of a view.
type snapshot struct {
	text    string // the whole text so far; later appends never change it
	tokens  int
	status  entstory.Status
	errMsg  *string
	changed <-chan struct{}
}

func (v *view) snapshot() snapshot { return *v.cur.Load() }

// length returns the byte length of the text.
func (v *view) length() int { return len(v.cur.Load().text) }

// update changes the view under its lock and wakes the subscribers. f
// reports whether it changed anything.
func (v *view) update(f func(v *view) bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if isTerminal(v.status) {
		return
	}
	if f(v) {
		old := v.changed
		v.changed = make(chan struct{})
		v.publish()
		close(old)
	}
}

// appendText adds generated text and tokens.
func (v *view) appendText(delta string, tokens int) {
	v.update(func(v *view) bool {
		v.text.WriteString(delta)
		v.tokens += tokens
		return true
	})
}

// setStatus moves the view to status (with an error message for FAILED).
func (v *view) setStatus(status entstory.Status, errMsg *string) {
	v.update(func(v *view) bool {
		if v.status == status {
			return false
		}
		v.status, v.errMsg = status, errMsg
		return true
	})
}

// isTerminal reports whether a story with status s has ended.
func isTerminal(s entstory.Status) bool {
	switch s {
	case entstory.StatusCompleted, entstory.StatusFailed, entstory.StatusCancelled:
		return true
	}
	return false
}
