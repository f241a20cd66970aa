package story

import (
	"context"
	"sync"
	"time"

	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/pulid"
)

// Event is one message of a story stream: GraphQL's StoryEvent.
type Event struct {
	StoryID pulid.ID `json:"storyID"`
	// Seq numbers the events of one subscription: 1, 2, 3...
	Seq int `json:"seq"`
	// Delta is the text that follows everything sent before; the first
	// event's Delta is all the text generated so far.
	Delta      string          `json:"delta"`
	Status     entstory.Status `json:"status"`
	TokenCount int             `json:"tokenCount"`
	Error      *string         `json:"error"`
	// End is the byte offset in the story's text after Delta (Cursor).
	End int `json:"-"`
}

// subscriber is one local subscription to a view. Only its fan-out's
// goroutine touches its fields after it joined.
type subscriber struct {
	ch      chan *Event // capacity 1; closed after the last event
	sent    int         // bytes of the text sent
	status  entstory.Status
	seq     int
	gone    bool // its context ended: drop it
	stop    func() bool
	onLeave func()
}

// fanout delivers one view to all its local subscribers from a single
// goroutine, which runs while the view has subscribers. On every change it
// offers each subscriber what is new since its last event; a subscriber
// whose previous event is still unread is skipped and offered everything it
// missed, merged, on the next round (a short retry while any lag), so a slow
// reader costs no memory, no goroutine and no time of the others.
type fanout struct {
	s  *Service
	id pulid.ID
	v  *view

	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	cohorts map[*Cohort]map[*Member]struct{} // members of cohorts, by cohort
	running bool
	kick    chan struct{} // capacity 1: a subscriber joined or left
}

// retryLagging is how soon a subscriber that could not take its event is
// offered it again when nothing else changes.
const retryLagging = 5 * time.Millisecond

func newFanout(s *Service, id pulid.ID, v *view) *fanout {
	return &fanout{s: s, id: id, v: v, subs: map[*subscriber]struct{}{}, cohorts: map[*Cohort]map[*Member]struct{}{}, kick: make(chan struct{}, 1)}
}

// join adds a subscriber that lives until ctx ends or the story ends, and
// returns its channel. onLeave runs once it has left.
//
// The subscriber has the text up to byte offset from already (0: none): its
// first event holds what follows. An offset beyond the text so far (a
// cursor from a replica that is ahead) waits for the text to reach it.
//
// A ctx made by a Member's Context joins that member's cohort instead.
func (f *fanout) join(ctx context.Context, from int, onLeave func()) <-chan *Event {
	if m := memberFrom(ctx); m != nil {
		return f.joinCohort(ctx, m, from, onLeave)
	}
	sub := &subscriber{ch: make(chan *Event, 1), sent: from, onLeave: onLeave}
	sub.stop = context.AfterFunc(ctx, func() {
		f.mu.Lock()
		sub.gone = true
		f.mu.Unlock()
		f.poke()
	})
	f.mu.Lock()
	f.subs[sub] = struct{}{}
	f.mu.Unlock()
	f.start()
	return sub.ch
}

// joinCohort adds m, which has the text up to from already, to the
// fan-out's cohort members.
func (f *fanout) joinCohort(ctx context.Context, m *Member, from int, onLeave func()) <-chan *Event {
	m.ch, m.sent, m.onLeave = make(chan *Event), from, onLeave
	m.woken.Store(f)
	m.stop = context.AfterFunc(ctx, func() {
		f.mu.Lock()
		m.gone = true
		f.mu.Unlock()
		f.poke()
	})
	f.mu.Lock()
	ms := f.cohorts[m.c]
	if ms == nil {
		ms = map[*Member]struct{}{}
		f.cohorts[m.c] = ms
	}
	ms[m] = struct{}{}
	f.mu.Unlock()
	m.joined.Store(true)
	f.start()
	return m.ch
}

// start runs the fan-out's goroutine unless it runs already, else wakes it.
func (f *fanout) start() {
	f.mu.Lock()
	start := !f.running
	f.running = true
	f.mu.Unlock()
	if start {
		f.s.subs.Add(1)
		go f.run()
	} else {
		f.poke()
	}
}

func (f *fanout) poke() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// run delivers until no subscriber is left.
func (f *fanout) run() {
	defer f.s.subs.Done()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		snap := f.v.snapshot()
		lagging, left := f.deliver(snap, false)
		if left {
			return
		}
		var retryC <-chan time.Time
		if lagging {
			retry.Reset(retryLagging)
			retryC = retry.C
		}
		select {
		case <-snap.changed:
		case <-f.kick:
		case <-retryC:
		case <-f.s.stopped:
			f.shutdown()
			return
		}
		if lagging && !retry.Stop() {
			select {
			case <-retry.C:
			default:
			}
		}
	}
}

// deliver offers every subscriber what is new in snap. It reports whether a
// subscriber could not take its event, and whether none is left (then the
// fan-out has stopped running).
func (f *fanout) deliver(snap snapshot, final bool) (lagging, left bool) {
	f.mu.Lock()
	var leaving []*subscriber
	for sub := range f.subs {
		if sub.gone {
			close(sub.ch) // its context is done: the subscription ends
			delete(f.subs, sub)
			leaving = append(leaving, sub)
			continue
		}
		if sub.seq > 0 && len(snap.text) == sub.sent && snap.status == sub.status && !final {
			continue // nothing new
		}
		delta := ""
		switch {
		case sub.sent <= len(snap.text):
			delta = snap.text[sub.sent:]
		case !isTerminal(snap.status) && !final:
			continue // resumed ahead of this replica's copy: wait for the text to reach it
		}
		ev := &Event{
			StoryID: f.id, Seq: sub.seq + 1, Delta: delta,
			Status: snap.status, TokenCount: snap.tokens, Error: snap.errMsg,
			End: max(sub.sent, len(snap.text)),
		}
		select {
		case sub.ch <- ev:
			sub.seq, sub.sent, sub.status = ev.Seq, ev.End, snap.status
			if isTerminal(snap.status) || final {
				close(sub.ch)
				sub.stop()
				delete(f.subs, sub)
				leaving = append(leaving, sub)
			}
		default:
			lagging = true
		}
	}
	leavingMembers, busy := f.deliverCohorts(snap, final)
	lagging = lagging || busy
	if len(f.subs) == 0 && len(f.cohorts) == 0 {
		f.running = false
		left = true
	}
	f.mu.Unlock()
	for _, sub := range leaving {
		sub.onLeave()
	}
	for _, m := range leavingMembers {
		if m.gone && m.ended != nil {
			m.ended() // its context ended: tell the transport, if it does not know
		}
		m.onLeave()
	}
	return lagging, left
}

// deliverCohorts hands each cohort what is new in snap for its members, a
// batch per cohort, and returns the members that left. busy reports a
// cohort whose previous batch another fan-out handed over and that is not
// Done yet: it is offered the change again shortly (Done wakes the fan-out
// that handed it over). A member that is not ready is skipped; it calls
// Wake when it is. The caller holds f.mu.
func (f *fanout) deliverCohorts(snap snapshot, final bool) (leaving []*Member, busy bool) {
	base := Event{StoryID: f.id, Status: snap.status, TokenCount: snap.tokens, Error: snap.errMsg}
	ended := isTerminal(snap.status) || final
	for c, ms := range f.cohorts {
		if !c.claim(f) { // its last batch is still being handed out
			busy = busy || c.sender.Load() != f
			continue
		}
		r := cohortRound{index: map[deliveryKey]int{}}
		for m := range ms {
			switch {
			case m.gone:
				close(m.ch)
				delete(ms, m)
				leaving = append(leaving, m)
				continue
			case m.seq > 0 && len(snap.text) == m.sent && snap.status == m.status && !final:
				continue // nothing new
			case m.sent > len(snap.text) && !ended:
				continue // resumed ahead of this replica's copy: wait for the text to reach it
			case !m.ready():
				busy = busy || final // at shutdown, wait a little for it
				continue
			}
			r.offer(m, base, snap, final)
			if ended {
				m.stop()
				close(m.ch)
				delete(ms, m)
				leaving = append(leaving, m)
			}
		}
		if len(ms) == 0 {
			delete(f.cohorts, c)
		}
		if len(r.batch) == 0 {
			c.busy.Store(false) // nothing to hand over after all
			continue
		}
		c.work <- r.batch // empty: the claim holds until Done
	}
	return leaving, busy
}

// shutdown gives the subscribers still there a last event, merged (the end,
// for a story that ran here), waiting at most a second for slow readers,
// then completes every subscription.
func (f *fanout) shutdown() {
	deadline := time.Now().Add(time.Second)
	for {
		snap := f.v.snapshot()
		lagging, left := f.deliver(snap, isTerminal(snap.status))
		if left {
			return
		}
		if !lagging || time.Now().After(deadline) {
			break
		}
		time.Sleep(retryLagging)
	}
	f.mu.Lock()
	var leaving []*subscriber
	for sub := range f.subs {
		close(sub.ch)
		sub.stop()
		delete(f.subs, sub)
		leaving = append(leaving, sub)
	}
	var leavingMembers []*Member
	for c, ms := range f.cohorts {
		for m := range ms {
			close(m.ch)
			m.stop()
			leavingMembers = append(leavingMembers, m)
		}
		delete(f.cohorts, c)
	}
	f.running = false
	f.mu.Unlock()
	for _, sub := range leaving {
		sub.onLeave()
	}
	for _, m := range leavingMembers {
		if m.ended != nil {
			m.ended()
		}
		m.onLeave()
	}
}
