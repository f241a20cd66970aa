package story

import (
	"strings"
	"sync"

	entstory "github.com/storybot/storybot/ent/story"
)

// view is a story's text and status as one replica knows them, shared by
// every local subscriber of the story. Writers append; readers take
// snapshots and wait on changed, which is closed and replaced on every
// change, so one change wakes every waiting subscriber.
type view struct {
	mu      sync.Mutex
	text    strings.Builder
	tokens  int
	status  entstory.Status
	errMsg  *string
	changed chan struct{}
}

func newView(text string, tokens int, status entstory.Status, errMsg *string) *view {
	v := &view{tokens: tokens, status: status, errMsg: errMsg, changed: make(chan struct{})}
	v.text.WriteString(text)
	return v
}

// snapshot is one consistent reading of a view.
type snapshot struct {
	text    string // the whole text so far; later appends never change it
	tokens  int
	status  entstory.Status
	errMsg  *string
	changed <-chan struct{}
}

func (v *view) snapshot() snapshot {
	v.mu.Lock()
	defer v.mu.Unlock()
	// strings.Builder never rewrites bytes it has handed out, so the string
	// stays valid while the builder grows.
	return snapshot{text: v.text.String(), tokens: v.tokens, status: v.status, errMsg: v.errMsg, changed: v.changed}
}

// length returns the byte length of the text.
func (v *view) length() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.text.Len()
}

// update changes the view under its lock and wakes the subscribers. f
// reports whether it changed anything.
func (v *view) update(f func(v *view) bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if isTerminal(v.status) {
		return
	}
	if f(v) {
		close(v.changed)
		v.changed = make(chan struct{})
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
