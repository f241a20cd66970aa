//go:build linux

package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"
)

// streamSpec is one streaming scenario: stories generated on one replica
// and followed by subscribers on the same or another one.
type streamSpec struct {
	name        string
	stories     int
	subscribers int // spread round-robin over the stories
	tokens      int // per story
	rate        int // tokens per second per story
	gen, sub    *child
	// hub says the server is the baseline process's hub, not storybot.
	hub bool
	// profile names the profiles captured during the run ("" for none).
	profile string
}

// streamResult is what a streaming scenario measured.
type streamResult struct {
	spec        streamSpec
	storyIDs    []string
	connectTime time.Duration // from the first dial to every first event
	subscribed  int           // subscribers that got their first event
	completed   int           // got the final event and "complete"
	textOK      int           // completed with the stored text, token count and unbroken seq
	failures    []string      // a few of the subscribers' errors
	events      int           // "next" messages received in all
	tokensSeen  int           // bench tokens found in the deltas, in all
	latency     *histogram    // from the model server's write to the subscriber's read, per token
	lag         *histogram    // from the token's due time on the model's schedule to the subscriber's read
	skew        *histogram    // per token, each subscriber's read after the first subscriber's read of it
	pace        *histogram    // how late the model server wrote its tokens
	released    time.Time     // when the model server started streaming
	streamTime  time.Duration // from then to the last subscriber's end
	usage       usage         // CPU time while streaming (servers: both replicas when two)
	rssBefore   int64         // subscribing server, before connecting
	rssIdle     int64         // after connecting, before the first token
	rssPeak     int64         // largest while streaming
	before      runtimeStats  // the subscribing server's Go runtime before connecting
	idle        runtimeStats  // and after
	// dbWaits and dbWait are the generating server's waits for a database
	// connection while streaming, and their total time.
	dbWaits  int
	dbWait   time.Duration
	warnings int    // warning and error log lines of the servers
	warning  string // the first of them
}

// runStream runs spec: it starts the stories (held at the model server's
// gate), connects and subscribes every subscriber, measures the idle
// server, releases the model, and follows every stream to its end.
func (b *bench) runStream(ctx context.Context, spec streamSpec) (*streamResult, error) {
	res := &streamResult{spec: spec}
	servers := []*child{spec.gen}
	if spec.sub != spec.gen {
		servers = append(servers, spec.sub)
	}
	logged := make([]int, len(servers)) // warnings before this run
	for i, s := range servers {
		logged[i], _ = s.logLines(0)
	}
	b.model.hold()
	b.progress("%s: starting %d stories of %d tokens at %d tokens/s", spec.name, spec.stories, spec.tokens, spec.rate)
	var err error
	if res.storyIDs, err = b.startStories(ctx, spec); err != nil {
		return nil, fmt.Errorf("starting the stories: %w", err)
	}
	// Every generation is at the gate before anything is measured.
	if err := waitUntil(ctx, 60*time.Second, func() bool { return b.model.streams.Load() >= int64(spec.stories) }); err != nil {
		return nil, fmt.Errorf("only %d of %d generations reached the model server: %w (%s)",
			b.model.streams.Load(), spec.stories, err, b.whyNotStarted(ctx, spec, res.storyIDs))
	}
	settle(ctx, time.Second)
	st, err := spec.sub.stats()
	if err != nil {
		return nil, err
	}
	res.rssBefore = st.rss
	res.before, _ = readRuntime(ctx, spec.sub.addr)

	b.progress("%s: connecting %d subscribers", spec.name, spec.subscribers)
	env := &subscriberEnv{
		url:     "ws://" + spec.sub.addr + "/graphql",
		init:    connectionInit(b.token),
		dialSem: make(chan struct{}, 64),
		latency: &sharedHistogram{},
		lag:     &sharedHistogram{},
	}
	subs := make([]*subscriber, spec.subscribers)
	var running sync.WaitGroup
	defer running.Wait()
	env.subscribe.Add(spec.subscribers)
	streamCtx, cancelStreams := context.WithCancel(ctx)
	defer cancelStreams()
	defer env.closeAll()
	start := time.Now()
	for i := range subs {
		subs[i] = &subscriber{index: i, storyID: res.storyIDs[i%spec.stories]}
		running.Go(func() { subs[i].run(streamCtx, env) })
	}
	if err := waitGroup(ctx, &env.subscribe, 5*time.Minute); err != nil {
		return nil, fmt.Errorf("subscribing: %w", err)
	}
	res.connectTime = time.Since(start)
	res.subscribed = int(env.firstEvents.Load())
	b.progress("%s: %d of %d subscribed in %s", spec.name, res.subscribed, spec.subscribers, res.connectTime.Round(time.Millisecond))

	settle(ctx, b.cfg.idleSettle)
	if st, err = spec.sub.stats(); err != nil {
		return nil, err
	}
	res.rssIdle = st.rss
	res.idle, _ = readRuntime(ctx, spec.sub.addr)
	if spec.profile != "" {
		b.captureProfile(ctx, spec.sub, spec.profile+"-idle", "heap", 0)
		b.captureProfile(ctx, spec.sub, spec.profile+"-idle", "goroutine", 0)
	}

	genBefore, _ := readRuntime(ctx, spec.gen.addr)
	meter, err := startUsage(b.db.backends, servers...)
	if err != nil {
		return nil, err
	}
	sampler := sampleRSS(spec.sub.pid(), 50*time.Millisecond)
	expected := time.Duration(spec.tokens) * time.Second / time.Duration(spec.rate)
	var profiles sync.WaitGroup
	if spec.profile != "" {
		for _, s := range servers {
			name := spec.profile
			if s != spec.sub {
				name += "-generator"
			}
			profiles.Go(func() { b.captureProfile(ctx, s, name, "cpu", max(expected, time.Second)) })
		}
		profiles.Go(func() {
			settle(ctx, expected*3/4)
			b.captureProfile(ctx, spec.sub, spec.profile+"-streaming", "heap", 0)
		})
	}
	b.progress("%s: streaming (about %s)", spec.name, expected.Round(time.Second))
	res.released = time.Now()
	b.model.release()

	finished := make(chan struct{})
	go func() { running.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(expected + 2*time.Minute):
		cancelStreams()
		<-finished
	case <-ctx.Done():
		cancelStreams()
		<-finished
		return nil, ctx.Err()
	}
	res.streamTime = time.Since(res.released)
	res.rssPeak = sampler.Stop()
	if res.usage, err = meter.stop(); err != nil {
		return nil, err
	}
	if genAfter, err := readRuntime(ctx, spec.gen.addr); err == nil {
		res.dbWaits = int(genAfter.dbWaits - genBefore.dbWaits)
		res.dbWait = time.Duration((genAfter.dbWaitSeconds - genBefore.dbWaitSeconds) * float64(time.Second))
	}
	res.pace = b.model.paceLateness()
	res.latency = env.latency.snapshot()
	res.lag = env.lag.snapshot()
	res.skew = skew(subs)
	profiles.Wait()

	var stored map[string]storedStory
	if spec.hub {
		stored, err = hubClient{spec.gen.addr}.stories(ctx, res.storyIDs)
	} else {
		stored, err = b.db.stories(ctx, res.storyIDs)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the stored stories: %w", err)
	}
	hashes := map[string]uint64{}
	for id, s := range stored {
		h := fnv.New64a()
		h.Write([]byte(s.text))
		hashes[id] = h.Sum64()
	}
	for _, s := range subs {
		res.events += s.events
		res.tokensSeen += s.tokens
		want, ok := stored[s.storyID]
		switch {
		case s.err != nil:
			res.fail(fmt.Sprintf("subscriber %d: %v", s.index, s.err))
			continue
		case !s.completed || s.status != "COMPLETED":
			res.fail(fmt.Sprintf("subscriber %d: ended with status %q (%s), completed %v", s.index, s.status, s.errMsg, s.completed))
			continue
		}
		res.completed++
		switch {
		case !ok:
			res.fail(fmt.Sprintf("subscriber %d: story %s not stored", s.index, s.storyID))
		case s.seqBroken:
			res.fail(fmt.Sprintf("subscriber %d: seq not 1, 2, 3...", s.index))
		case s.textLen != len(want.text) || s.textHash != hashes[s.storyID]:
			res.fail(fmt.Sprintf("subscriber %d: %d bytes of text differ from the %d stored", s.index, s.textLen, len(want.text)))
		case want.status != "COMPLETED" || want.tokens != spec.tokens || s.tokens != spec.tokens:
			res.fail(fmt.Sprintf("subscriber %d: stored %s with %d tokens, saw %d tokens, want %d", s.index, want.status, want.tokens, s.tokens, spec.tokens))
		default:
			res.textOK++
		}
	}
	for i, s := range servers {
		n, line := s.logLines(logged[i])
		res.warnings += n - logged[i]
		if res.warning == "" {
			res.warning = line
		}
	}
	b.progress("%s: %d of %d complete with the stored text; delivery p50 %s p99 %s; %d events for %d tokens",
		spec.name, res.textOK, spec.subscribers, res.latency.percentile(0.5), res.latency.percentile(0.99), res.events, res.tokensSeen)
	return res, nil
}

// skew returns, for every token every subscriber read, how long after the
// first subscriber to read it (of any story's; tokens are named by their
// emit time) it read it, and drops the subscribers' samples.
func skew(subs []*subscriber) *histogram {
	first := map[int64]time.Duration{}
	for _, s := range subs {
		for _, t := range s.samples {
			if m, ok := first[t.emitted]; !ok || t.latency < m {
				first[t.emitted] = t.latency
			}
		}
	}
	h := &histogram{}
	for _, s := range subs {
		for _, t := range s.samples {
			h.record(t.latency - first[t.emitted])
		}
		s.samples = nil
	}
	return h
}

// startStories starts spec's stories on its generating server, held at
// the model server's gate, and returns their ids.
func (b *bench) startStories(ctx context.Context, spec streamSpec) ([]string, error) {
	if spec.hub {
		return hubClient{spec.gen.addr}.startStories(ctx, b.model.baseURL(), spec.stories, spec.tokens, spec.rate)
	}
	gen := b.client(spec.gen)
	promptID, err := gen.createPrompt(ctx, "A choir of ten thousand listeners, hearing one story at once")
	if err != nil {
		return nil, fmt.Errorf("creating the prompt: %w", err)
	}
	return gen.generateStories(ctx, promptID, spec.stories, spec.tokens, spec.rate)
}

// whyNotStarted describes the stories of spec by stored status, and the
// generating server's first warning, for a run whose stories did not all
// reach the model server.
func (b *bench) whyNotStarted(ctx context.Context, spec streamSpec, ids []string) string {
	var out []string
	if !spec.hub {
		if stored, err := b.db.stories(ctx, ids); err == nil {
			byStatus := map[string]int{}
			for _, s := range stored {
				byStatus[s.status]++
			}
			out = append(out, fmt.Sprintf("stored statuses %v", byStatus))
		}
	}
	if n, line := spec.gen.logLines(0); n > 0 {
		out = append(out, fmt.Sprintf("%d warnings, the first: %.300s", n, line))
	}
	return strings.Join(out, "; ")
}

// fail keeps the first few failures.
func (r *streamResult) fail(msg string) {
	if len(r.failures) < 5 {
		r.failures = append(r.failures, msg)
	}
}

// cpuOf returns the CPU time the processes used so far, together.
func cpuOf(cs []*child) (time.Duration, error) {
	var total time.Duration
	for _, c := range cs {
		st, err := c.stats()
		if err != nil {
			return 0, err
		}
		total += st.cpu
	}
	return total, nil
}

// waitUntil polls cond every 10 ms until it holds, timeout passes or ctx ends.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// waitGroup waits for wg, at most timeout.
func waitGroup(ctx context.Context, wg *sync.WaitGroup, timeout time.Duration) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("not done within %s", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// settle waits d, or until ctx ends.
func settle(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
