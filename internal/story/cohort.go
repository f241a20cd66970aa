package story

import (
	"context"
	"sync/atomic"

	entstory "github.com/storybot/storybot/ent/story"
)

// A Cohort is a group of subscribers of one story whose events are rendered
// alike (the same GraphQL operation, say), so that the story's fan-out hands
// each change to the cohort once, as Deliveries: an Event and the members
// it is for. Members that have received the same events so far share one
// Delivery; a member that joins, or that could not take the previous
// change, gets one of its own with everything it has not had, merged.
//
// A transport creates a Cohort per distinct operation, makes a Member for
// each subscriber, subscribes with the Member's Context (Subscribe and
// Resume then check access and the cursor as for anyone, and join the
// cohort), and renders what Work yields.
type Cohort struct {
	work chan []Delivery
	// busy is set while a batch is handed over and not yet Done; its
	// sender is poked when it is.
	busy   atomic.Bool
	sender atomic.Pointer[fanout]
}

// Delivery is one event for some members of a cohort: render it once and
// send the result to each of them. Members at the same position may have
// had different numbers of events (one joined later, one was merged): the
// event's Seq is the first member's, and Seqs has each member's.
type Delivery struct {
	Event   *Event
	Members []*Member
	Seqs    []int
	// Last is set when the event ends the members' subscriptions (a final
	// status, or the server shutting down): complete them after it.
	Last bool
}

// NewCohort returns an empty cohort.
func NewCohort() *Cohort {
	return &Cohort{work: make(chan []Delivery, 1)}
}

// Work yields the cohort's deliveries, a batch per change of the story.
// Call Done once a batch's events are handed to the members: the fan-out
// hands the next batch only then (members' readiness is checked against
// what they hold), so a slow renderer delays its own cohort and no other.
func (c *Cohort) Work() <-chan []Delivery { return c.work }

// Done tells the fan-out that the last batch from Work has been handed out.
func (c *Cohort) Done() {
	c.busy.Store(false)
	if f := c.sender.Load(); f != nil {
		f.poke()
	}
}

// claim marks the cohort busy for a batch that f hands over; it reports
// false when another batch is still being handed out.
func (c *Cohort) claim(f *fanout) bool {
	if !c.busy.CompareAndSwap(false, true) {
		return false
	}
	c.sender.Store(f)
	return true
}

// Member is one subscriber of a cohort.
type Member struct {
	c *Cohort
	// ready reports whether the member can take an event now; it is called
	// from the fan-out's goroutine while deliveries are built.
	ready func() bool
	// ended is called when the fan-out ends the member without a Last
	// delivery (at shutdown, or when its context ended).
	ended  func()
	joined atomic.Bool
	woken  atomic.Pointer[fanout]

	// Owned by the fan-out (under its mu) once joined.
	ch      chan *Event // handed to the resolver; closed when the member leaves
	sent    int         // bytes of the text delivered
	seq     int
	status  entstory.Status
	gone    bool
	stop    func() bool
	onLeave func()
}

// NewMember returns a member of c. It leaves when the context it
// subscribes with ends (the subscriber's, or one a resolver derived from it
// to end the stream early). ready reports whether it can take an event now
// (whether its connection has room for one); a member that was not ready
// is offered everything it missed, merged, once it calls Wake. ended, when
// not nil, is called if the fan-out ends the member without a Last
// delivery: at shutdown, or when the context it subscribed with ended
// (which may be the transport's own doing).
func (c *Cohort) NewMember(ready func() bool, ended func()) *Member {
	return &Member{c: c, ready: ready, ended: ended}
}

type memberKey struct{}

// Context returns ctx for Subscribe or Resume: the subscription then joins
// m's cohort instead of getting events of its own. The channel they return
// carries nothing and closes when the member has left.
func (m *Member) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, memberKey{}, m)
}

func memberFrom(ctx context.Context) *Member {
	m, _ := ctx.Value(memberKey{}).(*Member)
	return m
}

// Joined reports whether a subscription with m's Context joined the cohort.
// A story that had already ended, a refused subscription, do not join:
// their events come on the subscription's own channel.
func (m *Member) Joined() bool { return m.joined.Load() }

// Wake tells the fan-out that m can take an event again.
func (m *Member) Wake() {
	if f := m.woken.Load(); f != nil {
		f.poke()
	}
}

// deliveryKey is what members that share a delivery have in common: the
// position and status of what they have had.
type deliveryKey struct {
	sent   int
	status entstory.Status
}

// cohortRound gathers one cohort's deliveries during a fan-out round.
type cohortRound struct {
	index map[deliveryKey]int
	batch []Delivery
}

// offer adds m's next event to its cohort's round, sharing a delivery with
// the members that have had the same so far.
func (r *cohortRound) offer(m *Member, id Event, snap snapshot, final bool) {
	key := deliveryKey{sent: m.sent, status: m.status}
	i, ok := r.index[key]
	if !ok {
		ev := id
		ev.Seq = m.seq + 1
		ev.Delta = snap.text[min(m.sent, len(snap.text)):]
		ev.End = max(m.sent, len(snap.text))
		i = len(r.batch)
		r.index[key] = i
		r.batch = append(r.batch, Delivery{Event: &ev, Last: isTerminal(snap.status) || final})
	}
	d := &r.batch[i]
	m.seq++
	d.Members = append(d.Members, m)
	d.Seqs = append(d.Seqs, m.seq)
	m.sent, m.status = d.Event.End, snap.status
}
