package story

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/storybot/storybot/ent"
	entstory "github.com/storybot/storybot/ent/story"
	"github.com/storybot/storybot/internal/broker"
	"github.com/storybot/storybot/internal/limits"
	"github.com/storybot/storybot/internal/llm"
	"github.com/storybot/storybot/internal/telemetry"
)

// run is one story being generated on this replica. Its generator goroutine
// emits into view; its flush loop (the run's own goroutine) stores and
// publishes the text, renews the lease and ends the story.
type run struct {
	s      *Service
	story  *ent.Story // as the run began: for a continuation, with the text before it
	job    job
	view   *view
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}  // closed when the run has ended and stored its end
	ticket *limits.Ticket // its place at the gate; nil without one

	span      trace.Span // the run's, from its creation to its end
	queued    trace.Span // the wait for a place at the gate
	genSpan   trace.Span // the model's work, from the call to its end; set before it starts
	createdAt time.Time

	mu        sync.Mutex
	pending   int           // tokens emitted but not yet stored
	wake      chan struct{} // signalled when pending reaches FlushTokens
	firstAt   time.Time     // when the first token came
	flushed   int           // bytes of text stored (and published)
	renewedAt time.Time
	startedAt time.Time
	started   bool // generation began (and was counted as started)
}

// job is what a run is to write: a new story, or more of a finished one
// (whose text, all in the story's row, the run starts from).
type job struct {
	prompt      string
	continued   bool         // the run writes more of a finished story
	instruction string       // a continuation's, or ""
	quota       *reservation // what it reserved of its owner's quota
}

// newRun makes the run of st, started by the request of reqCtx: the run's
// span is a child of the request's, in its trace.
func newRun(reqCtx context.Context, s *Service, st *ent.Story, j job, ticket *limits.Ticket) *run {
	ctx := telemetry.ContextWithTraceID(telemetry.ContextWithTraceOf(s.base, reqCtx), st.TraceID)
	ctx, span := telemetry.Start(ctx, "story.run", trace.WithAttributes(
		attribute.String("storybot.story.id", string(st.ID)), semconv.GenAIRequestModel(st.Model),
		attribute.Bool("storybot.story.continued", j.continued),
	))
	_, queued := telemetry.Start(ctx, "story.queued")
	ctx, cancel := context.WithCancelCause(ctx)
	return &run{
		span: span, queued: queued, createdAt: time.Now(),
		s: s, story: st, job: j,
		view: newView(s, st.ID, st.Text, st.TokenCount, entstory.StatusPending, nil),
		ctx:  ctx, cancel: cancel,
		done:      make(chan struct{}),
		ticket:    ticket,
		flushed:   len(st.Text),
		wake:      make(chan struct{}, 1),
		renewedAt: time.Now(),
	}
}

// usage is what the run used as it ends: the model server's counts when it
// reported them, else the prompt's estimate and the tokens generated. A
// continuation adds them to what the story used before.
func (r *run) usage(tokens int, res llm.Result) *usage {
	st, q := r.story, r.job.quota
	if st.UserID == "" {
		return nil
	}
	u := &usage{user: st.UserID, day: q.day, reserved: q.total, promptTokens: q.promptTokens, completion: tokens - st.TokenCount}
	if res.PromptTokens > 0 || res.CompletionTokens > 0 {
		u.promptTokens, u.completion = res.PromptTokens, res.CompletionTokens
	}
	if r.job.continued {
		u.basePrompt, u.baseCompletion = st.PromptTokens, st.CompletionTokens
	}
	return u
}

// outcome is how a generation ended.
type outcome struct {
	status entstory.Status
	errMsg *string
	result llm.Result
}

// loop waits for the story's turn, then runs the generation and the
// flushing until the story ends. The lease is renewed all along, also while
// the story waits in the queue.
func (r *run) loop() {
	s := r.s
	defer func() {
		r.queued.End() // when the run ended in the queue
		r.span.End()
		s.mu.Lock()
		delete(s.runs, r.story.ID)
		s.mu.Unlock()
		r.cancel(nil)
		close(r.done)
		s.runsDone.Done()
	}()
	log := s.log.With(slog.String("storybot.story.id", string(r.story.ID)))

	admitted := make(chan func(), 1)
	go func() {
		release := func() {}
		if r.ticket != nil {
			var err error
			if release, err = r.ticket.Wait(r.ctx); err != nil {
				release = nil // the story ended while it waited
			}
		}
		admitted <- release
	}()

	var (
		genDone   chan outcome // set once generating
		release   = func() {}
		lastWrite time.Time
	)
	defer func() { release() }()
	// Writes are at least FlushInterval apart, so a story never makes more
	// than 1/FlushInterval writes in any second, whatever the token rate.
	t := time.NewTimer(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case rel := <-admitted:
			if rel == nil {
				r.finish(r.endedEarly(), log)
				return
			}
			release = rel
			r.queued.End()
			if err := r.start(); errors.Is(err, errCancelledElsewhere) {
				r.finish(outcome{status: entstory.StatusCancelled}, log)
				return
			} else if err != nil {
				log.ErrorContext(r.ctx, "starting the story failed", telemetry.Error(err))
				r.finish(outcome{status: entstory.StatusFailed, errMsg: ptr("could not start: the store is unavailable")}, log)
				return
			}
			lastWrite = time.Now()
			s.cfg.Observer.StoryStarted()
			r.started = true
			genDone = make(chan outcome, 1)
			genCtx, genSpan := telemetry.Start(r.ctx, "story.generate")
			r.genSpan = genSpan
			go func() { genDone <- r.generate(genCtx) }()
			continue
		case out := <-genDone:
			release()
			// Keep to at most one write per FlushInterval, the final one too.
			if wait := s.cfg.FlushInterval - time.Since(lastWrite); wait > 0 {
				time.Sleep(wait)
			}
			r.finish(out, log)
			return
		case <-t.C:
			if wait := s.cfg.FlushInterval - time.Since(lastWrite); wait > 0 {
				t.Reset(wait)
				continue
			}
		case <-r.wake:
			if time.Since(lastWrite) < s.cfg.FlushInterval {
				continue // the timer will write it
			}
			t.Stop() // reset below; since Go 1.23 a stopped timer delivers nothing stale
		}
		wroteAt, err := r.flush()
		if wroteAt.IsZero() {
			t.Reset(s.cfg.FlushInterval) // nothing written, or a failure: retry in a while
		} else {
			// The next write is due FlushInterval after this one
			// committed; publishing it took some of that time already.
			lastWrite = wroteAt
			t.Reset(max(s.cfg.FlushInterval-time.Since(lastWrite), time.Millisecond))
		}
		switch {
		case errors.Is(err, errLeaseLost):
			log.WarnContext(r.ctx, "lost the story's lease; stopping its generation")
			r.cancel(errLeaseLost)
			if genDone != nil {
				<-genDone
			}
			r.observeEnd(entstory.StatusFailed)
			r.view.setStatus(entstory.StatusFailed, ptr("interrupted"))
			return
		case errors.Is(err, errCancelledElsewhere):
			r.cancel(errCancelled)
		case err != nil:
			log.WarnContext(r.ctx, "storing the story's text failed; will retry", telemetry.Error(err))
		}
	}
}

// endedEarly is the outcome of a story stopped before it was generated.
func (r *run) endedEarly() outcome {
	switch cause := context.Cause(r.ctx); {
	case errors.Is(cause, errCancelled):
		return outcome{status: entstory.StatusCancelled}
	case cause != nil:
		return outcome{status: entstory.StatusFailed, errMsg: ptr(cause.Error())}
	}
	return outcome{status: entstory.StatusFailed, errMsg: ptr("stopped before it started")}
}

// start moves the story to GENERATING.
func (r *run) start() error {
	now := time.Now().UTC()
	r.startedAt = now
	upd := r.s.client.Story.Update().
		Where(entstory.ID(r.story.ID), entstory.LeaseOwner(r.s.cfg.Owner), entstory.StatusEQ(entstory.StatusPending)).
		SetStatus(entstory.StatusGenerating).
		SetUpdatedAt(now).
		SetLeaseExpiresAt(now.Add(r.s.cfg.LeaseDuration))
	if r.story.StartedAt == nil { // a continued story keeps its first start
		upd.SetStartedAt(now)
	}
	n, err := upd.Save(r.ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return errCancelledElsewhere
	}
	r.view.setStatus(entstory.StatusGenerating, nil)
	return r.publish(r.flushed, "", entstory.StatusGenerating, r.story.TokenCount, nil)
}

// generate calls the generator, with ctx (r.ctx in the generation's span),
// and says how it ended.
func (r *run) generate(ctx context.Context) outcome {
	out := r.outcome(r.s.gen.Generate(ctx, r.request(), r.emit))
	if r.genSpan.IsRecording() {
		r.genSpan.SetAttributes(attribute.String("storybot.story.status", out.status.String()),
			semconv.GenAIUsageOutputTokens(out.result.CompletionTokens))
		if out.errMsg != nil {
			r.genSpan.SetStatus(codes.Error, *out.errMsg)
		}
	}
	r.genSpan.End()
	return out
}

// outcome says how a generation that returned res and err ended.
func (r *run) outcome(res llm.Result, err error) outcome {
	q := r.job.quota
	switch cause := context.Cause(r.ctx); {
	case err == nil && q.budget < q.maxTokens && res.FinishReason == llm.FinishLength:
		// Cut by its owner's quota rather than by its own maxTokens.
		return outcome{status: entstory.StatusFailed, errMsg: ptr(quotaReachedMsg), result: res}
	case err == nil:
		return outcome{status: entstory.StatusCompleted, result: res}
	case errors.Is(cause, errCancelled):
		return outcome{status: entstory.StatusCancelled, result: res}
	case cause != nil:
		return outcome{status: entstory.StatusFailed, errMsg: ptr(cause.Error()), result: res}
	default:
		return outcome{status: entstory.StatusFailed, errMsg: ptr(err.Error()), result: res}
	}
}

// request is what the generator is asked.
func (r *run) request() llm.Request {
	st := r.story
	return llm.Request{
		Prompt: r.job.prompt, Options: st.Options, Story: st.Text, Instruction: r.job.instruction,
		MaxTokens: r.job.quota.budget, Temperature: st.Temperature,
		Model: st.Model, Seed: st.Seed, TraceID: st.TraceID,
	}
}

// emit takes one piece of generated text: it reaches local subscribers at
// once and the store at the next flush.
func (r *run) emit(delta string) {
	if delta == "" {
		return
	}
	r.view.appendText(delta, 1)
	r.mu.Lock()
	r.pending++
	first := r.firstAt.IsZero()
	if first {
		r.firstAt = time.Now()
	}
	full := r.pending >= r.s.cfg.FlushTokens
	r.mu.Unlock()
	if first {
		r.s.cfg.Observer.FirstToken(time.Since(r.startedAt))
		// Waiting for the first token ends here; streaming begins.
		r.genSpan.AddEvent("first token")
	}
	if full {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

var (
	errLeaseLost          = errors.New("lease lost")
	errCancelledElsewhere = errors.New("cancelled on another replica")
)

// flush stores and publishes the text emitted since the last flush, and
// renews the lease when it is due. It returns when the write committed, or
// the zero time when it wrote nothing.
func (r *run) flush() (time.Time, error) {
	snap := r.view.snapshot()
	r.mu.Lock()
	offset := r.flushed
	delta := snap.text[offset:]
	pending := r.pending
	renew := time.Since(r.renewedAt) > r.s.cfg.LeaseDuration/3
	r.mu.Unlock()
	if delta == "" && !renew {
		return time.Time{}, nil
	}
	status, err := r.s.appendText(r.ctx, r.story.ID, r.s.cfg.Owner, offset, delta, snap.tokens)
	if err != nil {
		return time.Time{}, err
	}
	wroteAt := time.Now()
	r.mu.Lock()
	r.flushed += len(delta)
	r.pending -= pending
	r.renewedAt = wroteAt
	r.mu.Unlock()
	r.s.cfg.Observer.TokensStreamed(pending)
	if delta != "" {
		if err := r.publish(offset, delta, entstory.StatusGenerating, snap.tokens, nil); err != nil {
			r.s.log.WarnContext(r.ctx, "publishing story text failed; other replicas will reload it", telemetry.Error(err))
		}
	}
	if status == entstory.StatusCancelled {
		return wroteAt, errCancelledElsewhere
	}
	return wroteAt, nil
}

// finish stores the rest of the text and the final status, gives up the
// lease and publishes the end. It retries while the store is unreachable,
// within the lease, so that what subscribers were shown is kept.
func (r *run) finish(out outcome, log *slog.Logger) {
	s := r.s
	snap := r.view.snapshot()
	r.mu.Lock()
	offset := r.flushed
	pending := r.pending
	r.mu.Unlock()
	delta := snap.text[offset:]
	model := r.story.Model
	if out.result.Model != "" {
		model = out.result.Model
	}
	var (
		status entstory.Status
		err    error
	)
	use := r.usage(snap.tokens, out.result)
	deadline := time.Now().Add(s.cfg.LeaseDuration)
	endCtx, endSpan := telemetry.Start(r.ctx, "story.final_write")
	defer endSpan.End()
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(endCtx), 5*time.Second)
		status, err = s.end(ctx, r.story.ID, s.cfg.Owner, offset, delta, snap.tokens, out.status, out.errMsg, model, use)
		cancel()
		if err == nil || errors.Is(err, errLeaseLost) || time.Now().After(deadline) {
			break
		}
		log.WarnContext(r.ctx, "storing the end of the story failed; retrying", telemetry.Error(err), slog.Int("storybot.story.store_attempt", attempt+1))
		time.Sleep(min(time.Duration(attempt+1)*200*time.Millisecond, 2*time.Second))
	}
	if err != nil {
		// The sweeper of some replica will end it from what was stored.
		log.ErrorContext(r.ctx, "could not store the end of the story", telemetry.Error(err))
		r.view.setStatus(entstory.StatusFailed, ptr("interrupted"))
		r.observeEnd(entstory.StatusFailed)
		return
	}
	if status == entstory.StatusCancelled {
		out.errMsg = nil
	}
	s.cfg.Observer.TokensStreamed(pending)
	r.view.setStatus(status, out.errMsg)
	if err := r.publish(offset, delta, status, snap.tokens, out.errMsg); err != nil {
		log.WarnContext(r.ctx, "publishing the end of the story failed", telemetry.Error(err))
	}
	r.observeEnd(status)
	r.observeModel(status, model, snap.tokens, out.result)
	s.entitle(r, snap.text)
	attrs := []any{
		slog.String("storybot.story.status", status.String()), slog.Int("storybot.story.tokens", snap.tokens),
		slog.Int("storybot.story.bytes", len(snap.text)), slog.String("storybot.story.model", model),
		slog.String("storybot.story.finish_reason", out.result.FinishReason),
		slog.Duration("event.duration", time.Since(r.startedAt)),
	}
	if out.errMsg != nil {
		attrs = append(attrs, telemetry.ErrorMessage(*out.errMsg))
	}
	log.InfoContext(r.ctx, "story finished", attrs...)
}

// GenerationObserver is told about each generation's model figures; the
// Observer may implement it (telemetry.Metrics does).
type GenerationObserver interface {
	ObserveGeneration(ctx context.Context, g telemetry.Generation)
}

// observeModel tells the observer, when it is a GenerationObserver, what a
// generation that was started came to, and sets them on the run's span.
func (r *run) observeModel(status entstory.Status, model string, tokens int, res llm.Result) {
	if !r.started {
		return
	}
	r.mu.Lock()
	firstAt := r.firstAt
	r.mu.Unlock()
	g := telemetry.Generation{
		Model: model, Outcome: strings.ToLower(status.String()),
		QueueWait: r.startedAt.Sub(r.createdAt), Duration: time.Since(r.startedAt),
		InputTokens: res.PromptTokens, OutputTokens: res.CompletionTokens,
	}
	if !firstAt.IsZero() {
		g.FirstToken = firstAt.Sub(r.startedAt)
	}
	if g.InputTokens == 0 && g.OutputTokens == 0 {
		g.InputTokens, g.OutputTokens = r.job.quota.promptTokens, tokens-r.story.TokenCount
	}
	if o, ok := r.s.cfg.Observer.(GenerationObserver); ok {
		o.ObserveGeneration(r.ctx, g)
	}
	if r.span.IsRecording() {
		r.span.SetAttributes(attribute.String("storybot.story.status", status.String()), semconv.GenAIResponseModel(model),
			semconv.GenAIUsageInputTokens(g.InputTokens), semconv.GenAIUsageOutputTokens(g.OutputTokens))
		if status == entstory.StatusFailed {
			r.span.SetStatus(codes.Error, "the story failed")
		}
	}
}

// observeEnd counts the end of a generation that was counted as started.
func (r *run) observeEnd(status entstory.Status) {
	if r.started {
		r.s.cfg.Observer.StoryFinished(strings.ToLower(status.String()), time.Since(r.startedAt))
	}
}

func (r *run) publish(offset int, delta string, status entstory.Status, tokens int, errMsg *string) error {
	ev := broker.Event{
		StoryID: string(r.story.ID), Offset: offset, Delta: delta,
		Status: status.String(), TokenCount: tokens,
	}
	if errMsg != nil {
		ev.Error = *errMsg
	}
	if r.span.IsRecording() {
		carrier := propagation.MapCarrier{}
		telemetry.Propagator.Inject(r.ctx, carrier)
		ev.Traceparent = carrier.Get("traceparent")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 5*time.Second)
	defer cancel()
	if err := r.s.broker.Publish(ctx, ev); err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
