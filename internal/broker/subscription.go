package broker

import "sync"

// Subscription receives the events of one story. Both brokers return it.
//
// Its buffer keeps one slot for a Resync: when the events the subscriber has
// not read yet fill the rest, a new event is dropped and a Resync takes that
// slot at once, behind the events already buffered. Events dropped while that
// Resync is still unread are covered by it, so each lag costs the subscriber
// one reload however many events it missed. A Resync carries only StoryID
// and Resync.
type Subscription struct {
	storyID string
	events  chan Event
	hub     *hub // nil for a subscription made after its broker closed

	mu         sync.Mutex // guards every send on events and the fields below
	closed     bool
	lastResync bool // the latest value sent on events was a Resync
}

// newSubscription returns a subscription to storyID with a buffer of size
// slots, which must be at least 2.
func newSubscription(storyID string, size int) *Subscription {
	return &Subscription{storyID: storyID, events: make(chan Event, size)}
}

// Events returns the channel of the story's events. It is closed when the
// subscription or its broker is closed.
func (s *Subscription) Events() <-chan Event {
	return s.events
}

// StoryID returns the ID of the story the subscription follows.
func (s *Subscription) StoryID() string {
	return s.storyID
}

// Close stops delivery, closes the channel of Events and releases the
// subscription. It may be called more than once and from any goroutine.
func (s *Subscription) Close() {
	if s.hub != nil {
		s.hub.remove(s)
	}
	s.close()
}

// close ends delivery without touching the hub.
func (s *Subscription) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	close(s.events)
}

// deliver queues ev without blocking. When only the slot kept for a Resync is
// free, ev is dropped and a Resync takes that slot, unless the latest value
// queued is a Resync the subscriber has not read yet, which already covers ev.
//
// Every send happens under s.mu, so while s.mu is held the buffer can only
// drain; that is what makes the checks on len exact enough: a buffer found
// with room keeps it.
func (s *Subscription) deliver(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	n := len(s.events)
	switch {
	case n < cap(s.events)-1:
		s.events <- ev
		s.lastResync = false
	case s.lastResync && n > 0:
		// Nothing was queued after the last Resync and the buffer is not
		// empty, so that Resync is still unread: it covers ev.
	default:
		// Only events were queued since the last Resync, so at most
		// cap-1 slots are taken and the kept slot is free.
		s.events <- Event{StoryID: s.storyID, Resync: true}
		s.lastResync = true
	}
}

// resync queues a Resync without blocking, unless an unread one is already
// the latest value queued. There is always room for it: see deliver.
func (s *Subscription) resync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || (s.lastResync && len(s.events) > 0) {
		return
	}
	s.events <- Event{StoryID: s.storyID, Resync: true}
	s.lastResync = true
}

// hub holds the subscriptions of one broker by story.
type hub struct {
	size int // buffer size of new subscriptions

	mu     sync.RWMutex
	closed bool
	subs   map[string]map[*Subscription]struct{}
}

// newHub returns a hub whose subscriptions buffer size events.
func newHub(size int) *hub {
	return &hub{size: size, subs: make(map[string]map[*Subscription]struct{})}
}

// subscribe adds a subscription to storyID. After close it returns a
// subscription that is already closed.
func (h *hub) subscribe(storyID string) *Subscription {
	s := newSubscription(storyID, h.size)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.close()
		return s
	}
	s.hub = h
	set := h.subs[storyID]
	if set == nil {
		set = make(map[*Subscription]struct{})
		h.subs[storyID] = set
	}
	set[s] = struct{}{}
	return s
}

// remove forgets s.
func (h *hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.subs[s.storyID]
	delete(set, s)
	if len(set) == 0 {
		delete(h.subs, s.storyID)
	}
}

// deliver queues ev on every subscription to its story.
func (h *hub) deliver(ev Event) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs[ev.StoryID] {
		s.deliver(ev)
	}
}

// resyncAll queues a Resync on every subscription.
func (h *hub) resyncAll() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, set := range h.subs {
		for s := range set {
			s.resync()
		}
	}
}

// count returns the number of open subscriptions.
func (h *hub) count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, set := range h.subs {
		n += len(set)
	}
	return n
}

// close closes every subscription; later ones are born closed.
func (h *hub) close() {
	h.mu.Lock()
	subs := h.subs
	h.subs = make(map[string]map[*Subscription]struct{})
	h.closed = true
	h.mu.Unlock()
	for _, set := range subs {
		for s := range set {
			s.close()
		}
	}
}
