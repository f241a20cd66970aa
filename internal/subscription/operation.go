package subscription

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/storybot/storybot/internal/story"
	"github.com/storybot/storybot/internal/telemetry"
)

// decodeParams decodes a GraphQL request. Numbers stay json.Number, as
// gqlgen's own transports keep them, so that Int variables coerce.
func decodeParams(data []byte, params *graphql.RawParams) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(params)
}

// frame is one message to write, in up to five parts (written in order,
// without copying): a cohort's payload is shared by its members, between
// each member's own head and tail, with its own seq in the middle.
type frame struct {
	parts [5][]byte
	op    *operation // whose event this is (its slot is freed once written), or nil
	close bool       // close the connection after it
}

// outbox holds the frames of one connection until its writer takes them.
// It is bounded: each operation has at most one event in it (its slot),
// and protocol messages answer the peer's own, which a peer that does not
// read cannot send without end; past maxQueued the connection is dropped.
type outbox struct {
	mu     sync.Mutex
	frames []frame
}

// maxQueued bounds the frames an outbox holds.
const maxQueued = 256

// push queues f and reports whether it fitted.
func (o *outbox) push(f frame) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.frames) >= maxQueued {
		return false
	}
	o.frames = append(o.frames, f)
	return true
}

// empty reports whether no frame is queued.
func (o *outbox) empty() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.frames) == 0
}

// take returns the frames queued, in order, and empties the outbox.
func (o *outbox) take(into []frame) []frame {
	o.mu.Lock()
	defer o.mu.Unlock()
	into = append(into[:0], o.frames...)
	clear(o.frames)
	o.frames = o.frames[:0]
	if cap(o.frames) > 16 {
		o.frames = nil // a burst is over: give its memory back
	}
	return into
}

// sink is where an operation's messages go: a websocket connection or an
// SSE response.
type sink interface {
	// queue adds a frame for the writer; false when the connection is gone
	// or cannot take more.
	queue(f frame) bool
	// framing returns the protocol's message shapes.
	framing() framing
	// finished tells the sink that op has ended (its last message queued).
	finished(op *operation)
}

// operation is one running operation of a connection: a subscription, or
// a query or mutation sent over a websocket.
type operation struct {
	id     string
	sink   sink
	ctx    context.Context
	cancel context.CancelFunc
	// slot holds a token for each of the operation's events that waits to
	// be written: at most slotDepth.
	slot chan struct{}

	// Set when it is a member of a cohort (cohort is cleared, under mu,
	// when it leaves).
	cohort *cohort
	member *story.Member
	root   *graphql.FieldContext // a subscription's root field, once resolved (see underRoot)
	head   []byte                // the framing of its next messages, before the payload
	tail   []byte                // and after: its extensions, the end of the message
	seqs   [slotDepth][11]byte   // its seq in the events waiting in its slot, in turn
	nseq   int                   // how many seqs were written into seqs

	mu      sync.Mutex
	ready   bool // its framing is set: it may take cohort events
	done    bool
	skipped bool // the cohort found its slot full: wake it once there is room
}

// slotDepth is how many events of one operation may wait to be written. A
// few let a reader that is a moment behind keep sharing its cohort's
// events; one that falls further behind is skipped and later gets what it
// missed merged into one event.
const slotDepth = 4

func newOperation(ctx context.Context, id string, s sink) *operation {
	ctx, cancel := context.WithCancel(ctx)
	return &operation{id: id, sink: s, ctx: ctx, cancel: cancel, slot: make(chan struct{}, slotDepth)}
}

// canTake reports whether a cohort event may be handed to op now.
func (op *operation) canTake() bool {
	op.mu.Lock()
	defer op.mu.Unlock()
	if len(op.slot) == cap(op.slot) {
		op.skipped = true
		return false
	}
	return op.ready && !op.done
}

// written is called once an event of op was written: there is room in its
// slot again, and a cohort that skipped it is told.
func (op *operation) written() {
	<-op.slot
	if op.member == nil {
		return
	}
	op.mu.Lock()
	wake := op.skipped
	op.skipped = false
	op.mu.Unlock()
	if wake {
		op.member.Wake()
	}
}

// joinCohort makes op's framing from its operation's context (the trace ID
// of the operation, for the extensions of its events) and lets the cohort
// hand it events.
func (op *operation) joinCohort(opCtx context.Context) {
	f := op.sink.framing()
	op.mu.Lock()
	op.head = f.nextHead(op.id)
	op.tail = f.tail(telemetry.TraceIDFromContext(opCtx))
	op.ready = true
	op.mu.Unlock()
	op.member.Wake()
}

// shared queues a cohort's rendering of an event for op, whose seq it is.
// last completes op after it.
func (op *operation) shared(r *rendering, seq int, last bool) {
	select {
	case op.slot <- struct{}{}:
	default:
		return // cannot happen: the cohort offers events only to members that canTake
	}
	f := frame{op: op}
	switch len(r.seqAt) {
	case 0:
		f.parts = [5][]byte{op.head, r.payload, op.tail}
	case 1:
		// The slot holds at most slotDepth events: the buffer of the
		// slotDepth-th before this one has been written.
		buf := op.seqs[op.nseq%slotDepth][:0]
		op.nseq++
		digits := strconv.AppendInt(buf, int64(seq), 10)
		at := r.seqAt[0]
		f.parts = [5][]byte{op.head, r.payload[:at], digits, r.payload[at+len(seqPlaceholderText):], op.tail}
	default: // seq selected under several aliases
		digits := strconv.AppendInt(nil, int64(seq), 10)
		b := make([]byte, 0, len(r.payload)+len(r.seqAt)*len(digits))
		from := 0
		for _, at := range r.seqAt {
			b = append(append(b, r.payload[from:at]...), digits...)
			from = at + len(seqPlaceholderText)
		}
		f.parts = [5][]byte{op.head, append(b, r.payload[from:]...), op.tail}
	}
	if !op.sink.queue(f) {
		<-op.slot
		return
	}
	if last {
		op.complete()
	}
}

// serve sends the responses of an operation that is not in a cohort (a
// query, a mutation, a story that has ended), one at a time, then
// completes it.
func (op *operation) serve(responses graphql.ResponseHandler, ctx context.Context) {
	f := op.sink.framing()
	for {
		resp := responses(underRoot(ctx, op.root))
		if resp == nil {
			break
		}
		payload, err := json.Marshal(resp)
		if err != nil {
			break
		}
		select {
		case op.slot <- struct{}{}:
		case <-op.ctx.Done():
			return
		}
		if !op.sink.queue(frame{parts: [5][]byte{f.nextHead(op.id), payload, f.end()}, op: op}) {
			return
		}
	}
	if op.ctx.Err() == nil {
		op.complete()
	}
}

// complete queues op's complete message and ends it.
func (op *operation) complete() {
	if op.end() {
		op.sink.queue(frame{parts: [5][]byte{op.sink.framing().complete(op.id)}})
		op.sink.finished(op)
	}
}

// fail queues an error message with resp's errors for op and ends it.
func (op *operation) fail(resp *graphql.Response) {
	if op.end() {
		f := op.sink.framing()
		op.sink.queue(frame{parts: [5][]byte{f.errors(op.id, resp)}})
		// The error ends the operation; gqlgen's transports say so with a
		// complete too, which clients ignore and tools wait for.
		op.sink.queue(frame{parts: [5][]byte{f.complete(op.id)}})
		op.sink.finished(op)
	}
}

// stop ends op without a message (the client stopped it, the connection
// closed); it reports whether op was running.
func (op *operation) stop() bool {
	if !op.end() {
		return false
	}
	op.sink.finished(op)
	return true
}

// end marks op done, once, and cancels its context and leaves its cohort.
func (op *operation) end() bool {
	op.mu.Lock()
	if op.done {
		op.mu.Unlock()
		return false
	}
	op.done = true
	op.mu.Unlock()
	op.cancel()
	op.leaveCohort()
	return true
}

// leaveCohort takes op out of its cohort, if it is in one.
func (op *operation) leaveCohort() {
	op.mu.Lock()
	c := op.cohort
	op.cohort = nil
	op.mu.Unlock()
	if c != nil {
		c.leave(op.member)
	}
}

// gqlgen marshals each event of a subscription under the context the
// transport passes for it, which has no field context: the event's fields
// would lack the root field in their paths (and search the whole context
// chain for a parent on every field). The transport notes the root field's
// context when its resolver runs (noteRoot) and passes each event under it.

// noteRoot makes opCtx note the field context of its subscription's root
// field in *root when the field resolves.
func noteRoot(opCtx *graphql.OperationContext, root **graphql.FieldContext) {
	if opCtx.Operation == nil || opCtx.Operation.Operation != ast.Subscription {
		return
	}
	next := opCtx.ResolverMiddleware
	opCtx.ResolverMiddleware = func(ctx context.Context, resolve graphql.Resolver) (any, error) {
		if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "Subscription" && *root == nil {
			// A copy: WithFieldContext sets the parent of the context it
			// is given, the same (none) for every event.
			c := *fc
			*root = &c
		}
		return next(ctx, resolve)
	}
}

// underRoot returns ctx for rendering an event under the root field's
// context root (ctx itself when it is nil).
func underRoot(ctx context.Context, root *graphql.FieldContext) context.Context {
	if root == nil {
		return ctx
	}
	return graphql.WithFieldContext(ctx, root)
}
