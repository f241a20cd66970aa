package story

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/storybot/storybot/ent"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/telemetry"
)

// remote follows a story that another replica generates: one per story per
// replica, however many local subscribers it has. It applies broker events
// by offset and reloads the story from the store on a gap, a Resync, the
// end, and every pollInterval in case an end was never published (the
// sweeper of a replica that then died).
type remote struct {
	s    *Service
	id   pulid.ID
	view *view
	sub  *broker.Subscription
	stop context.CancelFunc
	refs int // local subscribers; guarded by s.mu
}

const pollInterval = 10 * time.Second

// follow starts following st, as just loaded with its text. The caller
// holds s.mu.
func (s *Service) follow(st *ent.Story, text string) *remote {
	ctx, cancel := context.WithCancel(s.base)
	id := st.ID
	rm := &remote{
		s: s, id: id, stop: cancel,
		view: newView(s, id, text, st.TokenCount, st.Status, st.Error),
		// Events published between the load and this subscription are
		// caught by the reload that the loop starts with.
		sub: s.broker.Subscribe(string(id)),
	}
	s.remotes[id] = rm
	s.subs.Add(1)
	go func() {
		defer s.subs.Done()
		rm.loop(ctx)
	}()
	return rm
}

// release drops one subscriber of rm and stops it after the last.
func (s *Service) release(rm *remote) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rm.refs--
	if rm.refs == 0 {
		rm.stop()
		if s.remotes[rm.id] == rm {
			delete(s.remotes, rm.id)
		}
	}
}

func (rm *remote) loop(ctx context.Context) {
	defer rm.sub.Close()
	var span trace.Span // following the story, in its run's trace once an event names it
	defer func() {
		if span != nil {
			span.End()
		}
	}()
	rm.reload(ctx)
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	for !isTerminal(rm.view.snapshot().status) {
		select {
		case ev, ok := <-rm.sub.Events():
			if !ok {
				return // the broker closed
			}
			if span == nil && ev.Traceparent != "" {
				span = rm.followSpan(ctx, ev.Traceparent)
			}
			rm.apply(ctx, ev)
		case <-poll.C:
			rm.reload(ctx)
		case <-ctx.Done():
			return
		}
	}
}

// apply adds a broker event to the view: the part of its text the view does
// not have yet. A gap, a Resync and the end are reloaded from the store.
func (rm *remote) apply(ctx context.Context, ev broker.Event) {
	status := entstory.Status(ev.Status)
	have := rm.view.length()
	if ev.Resync || ev.Offset > have || isTerminal(status) {
		rm.reload(ctx)
		return
	}
	if end := ev.Offset + len(ev.Delta); end > have {
		rm.view.update(func(v *view) bool {
			v.text.WriteString(ev.Delta[have-ev.Offset:])
			v.tokens = ev.TokenCount
			v.status = status
			return true
		})
	}
}

// reload adds to the view what the store has beyond it, reading only that
// part of the text, and takes the stored status.
func (rm *remote) reload(ctx context.Context) {
	st, err := rm.s.readFrom(ctx, rm.id, rm.view.length())
	if err != nil {
		if ctx.Err() == nil {
			rm.s.log.WarnContext(ctx, "reloading a followed story failed", slog.String("storybot.story.id", string(rm.id)), telemetry.Error(err))
		}
		return
	}
	rm.view.update(func(v *view) bool {
		changed := false
		// Only this goroutine appends to a followed story's view, so it
		// still ends where the read began.
		if st.text != "" {
			v.text.WriteString(st.text)
			changed = true
		}
		if st.tokens != v.tokens || st.status != v.status {
			v.tokens, v.status, v.errMsg = st.tokens, st.status, st.errMsg
			changed = true
		}
		return changed
	})
}

// followSpan starts the span of following the story here, a child of the
// run's span that traceparent names: one trace across the replicas.
func (rm *remote) followSpan(ctx context.Context, traceparent string) trace.Span {
	ctx = telemetry.Propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
	_, span := telemetry.Start(ctx, "story.follow", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		attribute.String("storybot.story.id", string(rm.id)), attribute.String("storybot.replica", rm.s.cfg.Owner)))
	return span
}
