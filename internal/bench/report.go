//go:build linux

package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// results is everything one run measured; a nil part did not run.
type results struct {
	machine  machine
	command  string
	started  time.Time
	took     time.Duration
	queries  *queryReport
	tracing  *tracingReport // beside the query scenario (tracing.go)
	fanout   []*streamResult
	writes   *writesResult
	live     []*liveResult
	failures []string // scenarios that could not finish
	// loadBefore and loadAfter are the machine's load averages, a hint of
	// how much else ran beside the harness.
	loadBefore, loadAfter string
	revision              string // the commit measured
}

// verdict says whether a measured figure meets its target.
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
}

func kib(bytes float64) string { return fmt.Sprintf("%.1f KiB", bytes/1024) }

// queryHeader is the header of the query tables (1 and 1b).
var queryHeader = []string{"server", "req/s", "vs baseline", "p50", "p99", "server CPU per request", "vs baseline",
	"allocations per request", "Postgres CPU per request", "Postgres transactions per request", "harness CPU per request", "machine busy", "failures"}

// queryRow is the row of queryHeader for res, measured beside base.
func queryRow(label string, res, base loadResult) []string {
	return []string{label, fmt.Sprintf("%.0f", res.throughput()), fmt.Sprintf("%.0f%%", 100*res.throughput()/base.throughput()),
		ms(res.latencies.percentile(0.5)), ms(res.latencies.percentile(0.99)),
		micros2(res.cpuPerRequest()), fmt.Sprintf("%.1f×", float64(res.cpuPerRequest())/float64(base.cpuPerRequest())),
		fmt.Sprintf("%.0f", res.allocsPerRequest()),
		micros2(res.usage.postgres / time.Duration(max(res.requests, 1))),
		fmt.Sprintf("%.2f", float64(res.transactions)/float64(max(res.requests, 1))),
		micros2(res.usage.harness / time.Duration(max(res.requests, 1))),
		fmt.Sprintf("%.0f%%", 100*res.usage.machineBusy), fmt.Sprint(res.failures)}
}

// tables returns the report's tables, targets first.
func (r *results) tables() []*table {
	targets := &table{title: "Targets", header: []string{"target", "measured", "verdict"}}
	var out []*table
	var timings *table // scenario 3, shown after the fan-out, in the order

	if q := r.queries; q != nil {
		base, on, off := q.results[labelBaseline], q.results[storybotTimings], q.results[labelNoTimings]
		t := &table{
			title:  fmt.Sprintf("1. Query throughput: %s, %d keep-alive clients", promptsQuery, q.clients),
			header: queryHeader,
		}
		for _, label := range q.targets {
			t.add(queryRow(label, q.results[label], base)...)
		}
		t.note("%d rounds, each server in turn: %s warm-up, then %s measured; %d prompts stored.", q.rounds, q.warmup, q.windowPer, q.prompts)
		t.note("Server CPU per request is the server process's user+system time over the requests it answered: disturbed less than req/s by other work on the machine, though not immune to it.")
		if q.sameJSON {
			t.note("Every server answered with the same data and the same JSON shape.")
		} else {
			t.note("The answers differ: %s.", q.answer)
		}
		t.note("Requests carry the API token of one account, which owns every prompt; storybot and the baseline check it, then read that account's prompts.")
		for _, c := range q.sql {
			if c.same() {
				t.note("storybot's SQL for %s (from pg_stat_activity) is the baseline's: `%s`.", c.what, c.want)
			} else {
				t.note("For %s, storybot ran `%s`; the baseline runs `%s`.", c.what, normalizeSQL(c.got), c.want)
			}
		}
		for _, label := range q.targets {
			if f := q.results[label].firstFail; f != "" {
				t.note("%s, first failure: %.200s", label, f)
			}
		}
		out = append(out, t)

		eBase, eOn := q.edge[labelBaseline], q.edge[storybotTimings]
		te := &table{title: fmt.Sprintf("1b. Query following an edge: %s, %d keep-alive clients", edgeQuery, q.clients), header: queryHeader}
		for _, label := range []string{labelBaseline, storybotTimings} {
			te.add(queryRow(label, q.edge[label], eBase)...)
		}
		te.note("Same rounds as table 1, run after it in each round; %d stories stored for each prompt. The baseline runs Ent's two statements (the page of prompts, then the first stories of all of them, by a window function); graph/preload_test.go counts storybot's.", storiesPerPrompt)
		if q.edgeSame {
			te.note("Both servers answered with the same data and the same JSON shape.")
		} else {
			te.note("The answers differ: %s.", q.edgeAnswer)
		}
		for _, label := range []string{labelBaseline, storybotTimings} {
			if f := q.edge[label].firstFail; f != "" {
				te.note("%s, first failure: %.200s", label, f)
			}
		}
		out = append(out, te)
		eRatio := eOn.throughput() / eBase.throughput()
		targets.add("edge query: ≥ 80% of the baseline's throughput",
			fmt.Sprintf("%.0f%% (%.0f vs %.0f req/s; p99 %s vs %s)", 100*eRatio, eOn.throughput(), eBase.throughput(),
				ms(eOn.latencies.percentile(0.99)), ms(eBase.latencies.percentile(0.99))),
			verdict(eRatio >= 0.8))

		ratio := on.throughput() / base.throughput()
		targets.add("queries: ≥ 80% of the baseline's throughput",
			fmt.Sprintf("%.0f%% (%.0f vs %.0f req/s; server CPU per request %.1f× the baseline's)", 100*ratio, on.throughput(), base.throughput(),
				float64(on.cpuPerRequest())/float64(base.cpuPerRequest())),
			verdict(ratio >= 0.8))
		p99 := on.latencies.percentile(0.99)
		targets.add("queries: p99 < 20 ms", fmt.Sprintf("%s (baseline %s)", ms(p99), ms(base.latencies.percentile(0.99))), verdict(p99 < 20*time.Millisecond))
		targets.add("queries: p99 < 2× the baseline's", fmt.Sprintf("%s (baseline %s)", ms(p99), ms(base.latencies.percentile(0.99))),
			verdict(p99 < 2*base.latencies.percentile(0.99)))
		tputCost := 1 - on.throughput()/off.throughput()
		cpuCost := float64(on.cpuPerRequest())/float64(off.cpuPerRequest()) - 1
		targets.add("field timings cost ≤ 10% of throughput",
			fmt.Sprintf("%+.1f%% server CPU per request; %+.1f%% throughput (%.0f on vs %.0f off req/s)", 100*cpuCost, 100*tputCost, on.throughput(), off.throughput()),
			verdict(cpuCost <= 0.10))

		t3 := &table{
			title:  "3. Field instrumentation cost (scenario 1, same run)",
			header: []string{"STORYBOT_FIELD_TIMINGS", "req/s", "p50", "p99", "server CPU per request"},
		}
		for _, x := range []struct {
			name string
			res  loadResult
		}{{"true", on}, {"false", off}} {
			t3.add(x.name, fmt.Sprintf("%.0f", x.res.throughput()), ms(x.res.latencies.percentile(0.5)), ms(x.res.latencies.percentile(0.99)),
				micros2(x.res.cpuPerRequest()))
		}
		t3.note("Cost of timings on: %+.1f%% server CPU per request, %+.1f%% throughput. The verdict uses CPU per request: on a CPU-bound server it sets throughput, and it moves less than req/s with what else the machine runs. A negative cost is noise.", 100*cpuCost, 100*tputCost)
		timings = t3
	}

	if len(r.fanout) > 0 {
		out = append(out, r.fanoutTables(targets)...)
	}

	if timings != nil {
		out = append(out, timings)
	}
	if r.tracing != nil {
		out = append(out, r.tracing.tracingTable(targets))
	}

	if w := r.writes; w != nil {
		s := w.stream
		t := &table{
			title:  fmt.Sprintf("4. Database writes: %d stories at %d tokens/s each", s.spec.stories, s.spec.rate),
			header: []string{"stories", "tokens each", "stream time", "UPDATEs per story", "per story per second", "most in any one second", "shortest gap", "complete, same text"},
		}
		t.add(fmt.Sprint(s.spec.stories), fmt.Sprint(s.spec.tokens), ms(w.duration), fmt.Sprint(w.perStory),
			fmt.Sprintf("%.1f", w.perSecond), fmt.Sprint(w.maxWindow), ms(w.minGap), fmt.Sprintf("%d / %d", s.textOK, s.spec.subscribers))
		t.note("Counted by an AFTER UPDATE trigger on stories, from the first token to the end, the final UPDATE (COMPLETED) included. Before that, while the stories waited at the model server's gate, they had %d UPDATEs in all (the start, GENERATING, and lease renewals).", w.before)
		r.streamNotes(t, s)
		out = append(out, t)
		targets.add("≤ 10 database writes per story per second", fmt.Sprintf("%.1f on average, %d at most in one second", w.perSecond, w.maxWindow), verdict(w.maxWindow <= 10))
	}

	out = append(out, r.liveTables(targets)...)
	for _, f := range r.failures {
		targets.note("Did not finish: %s", f)
	}
	return append([]*table{targets}, out...)
}

// streamNotes adds a streaming run's failures and warnings to t.
func (r *results) streamNotes(t *table, s *streamResult) {
	if len(s.failures) > 0 {
		t.note("%s: %d subscribed, %d completed; first failures: %s", s.spec.name, s.subscribed, s.completed, strings.Join(s.failures, "; "))
	}
	if late := s.pace.percentile(0.99); late > 50*time.Millisecond {
		t.note("%s: the harness's model server wrote its tokens up to %s after their due time (p99), the CPU being busy; latencies count from the actual write.", s.spec.name, ms(late))
	}
	if s.dbWaits > 0 {
		t.note("%s: the generating server waited %d times for a free database connection, %s in all.", s.spec.name, s.dbWaits, ms(s.dbWait))
	}
	if s.warnings > 0 {
		t.note("%s: the servers logged %d warnings, the first: %.300s", s.spec.name, s.warnings, s.warning)
	}
}

func (r *results) revisionText() string {
	if r.revision == "" {
		return "an unknown commit"
	}
	return "commit " + r.revision
}

// seconds formats a CPU time.
func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// micros2 formats a duration in microseconds.
func micros2(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

// text renders the report for a terminal.
func (r *results) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "storybot benchmark, %s, took %s\n", r.started.UTC().Format("2006-01-02 15:04 MST"), r.took.Round(time.Second))
	fmt.Fprintf(&b, "storybot: %s\nmachine: %s\ncommand: %s\nload average (1 min): %s at the start, %s at the end\n\n", r.revisionText(), r.machine, r.command, r.loadBefore, r.loadAfter)
	for _, t := range r.tables() {
		b.WriteString(t.text())
		b.WriteString("\n")
	}
	return b.String()
}

// markdown renders the report for docs/PERFORMANCE.md.
func (r *results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "storybot at %s, measured %s in %s with `%s`, on %s. Load average (1 min): %s at the start, %s at the end.\n\n",
		r.revisionText(), r.started.UTC().Format("2006-01-02 15:04 MST"), r.took.Round(time.Second), r.command, r.machine, r.loadBefore, r.loadAfter)
	for _, t := range r.tables() {
		b.WriteString(t.markdown())
	}
	return b.String()
}

// Markers delimit the generated part of docs/PERFORMANCE.md.
const (
	docBegin = "<!-- bench:begin (generated by go run ./internal/bench -doc; do not edit by hand) -->"
	docEnd   = "<!-- bench:end -->"
)

// updateDoc replaces what lies between the markers in the file at path
// with the Markdown report.
func (r *results) updateDoc(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := string(data)
	i, j := strings.Index(doc, docBegin), strings.Index(doc, docEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q ... %q section to replace", path, docBegin, docEnd)
	}
	doc = doc[:i+len(docBegin)] + "\n\n" + r.markdown() + doc[j:]
	return os.WriteFile(path, []byte(doc), 0o644)
}

// fanoutTables returns the fan-out scenario's tables and adds its targets.
func (r *results) fanoutTables(targets *table) []*table {
	first := r.fanout[0].spec
	t := &table{
		title: fmt.Sprintf("2. Subscription fan-out: graphql-transport-ws subscribers, %d tokens per story at %d tokens/s", first.tokens, first.rate),
		header: []string{"subscribers", "exact", "skew p99", "schedule lag p99", "delivery p99", "messages per subscriber per second",
			"idle per conn", "peak per conn", "server CPU per delivered event", "vs hub", "machine busy", "connect time"},
	}
	growth := &table{
		title:  "Cost as N grows (server, per connection)",
		header: []string{"subscribers", "RSS idle", "RSS peak", "Go heap idle", "goroutine stacks idle", "goroutines", "server CPU", "harness CPU"},
	}
	hubs := map[[2]int]*streamResult{}
	for _, s := range r.fanout {
		if s.spec.hub {
			hubs[[2]int{s.spec.subscribers, s.spec.stories}] = s
		}
	}
	hubOf := func(s *streamResult) *streamResult { return hubs[[2]int{s.spec.subscribers, s.spec.stories}] }
	for _, s := range r.fanout {
		n := float64(s.spec.subscribers)
		label := fanoutCase{s.spec.subscribers, s.spec.stories, s.spec.hub}.String()
		idle, peak := perConn(s)
		vsHub := ""
		if h := hubOf(s); h != nil && !s.spec.hub {
			vsHub = fmt.Sprintf("%.1f×", float64(cpuPerEvent(s))/float64(max(cpuPerEvent(h), 1)))
		}
		t.add(label,
			fmt.Sprintf("%d / %d", s.textOK, s.spec.subscribers),
			ms(s.skew.percentile(0.99)), ms(s.lag.percentile(0.99)), ms(s.latency.percentile(0.99)),
			fmt.Sprintf("%.1f", messagesPerSecond(s)),
			kib(idle), kib(peak), micros2(cpuPerEvent(s)), vsHub,
			fmt.Sprintf("%.0f%%", 100*s.usage.machineBusy), ms(s.connectTime))
		growth.add(label, kib(idle), kib(peak),
			kib((s.idle.heapInuse-s.before.heapInuse)/n), kib((s.idle.stackInuse-s.before.stackInuse)/n),
			fmt.Sprintf("%.2f", (s.idle.goroutines-s.before.goroutines)/n),
			seconds(s.usage.servers), seconds(s.usage.harness))
		r.streamNotes(t, s)
	}
	t.note("Exact: the subscriber completed with the stored text and token count, seq unbroken. Skew: for each token, how long after the first subscriber to read it each subscriber read it. Schedule lag: from the token's due time on the model server's schedule to the subscriber's read. Delivery: from the model server's actual write to the read (one clock).")
	t.note("Messages per subscriber per second: next messages received over the story's length (tokens / rate). Per connection: the server's RSS after connecting (idle) and its peak while streaming, minus its RSS before, over N. Server CPU per delivered event: the server's CPU time while streaming over the next messages delivered.")
	t.note("The baseline hub is the baseline process serving the same subscriptions with no GraphQL: one writer goroutine per subscriber, each delta encoded once per story. The harness's subscribers run on the same cores as the server.")

	for _, s := range r.fanout {
		if s.spec.hub {
			continue
		}
		h := hubOf(s)
		ref := func(v func(*streamResult) string) string {
			if h == nil {
				return ""
			}
			return " (hub " + v(h) + ")"
		}
		name := fanoutCase{s.spec.subscribers, s.spec.stories, false}.String()
		targets.add(name+": every subscriber exact", fmt.Sprintf("%d / %d", s.textOK, s.spec.subscribers), verdict(s.textOK == s.spec.subscribers))
		if s.spec.stories == 1 && s.spec.subscribers >= 10000 {
			p99 := s.skew.percentile(0.99)
			targets.add(name+": skew p99 < 100 ms", ms(p99)+ref(func(h *streamResult) string { return ms(h.skew.percentile(0.99)) }),
				verdict(p99 < 100*time.Millisecond && s.skew.count() > 0))
			mps := messagesPerSecond(s)
			targets.add(name+": ≥ 5 messages per second per subscriber", fmt.Sprintf("%.1f", mps)+ref(func(h *streamResult) string { return fmt.Sprintf("%.1f", messagesPerSecond(h)) }),
				verdict(mps >= 5))
		}
		idle, peak := perConn(s)
		targets.add(name+": ≤ 8 KiB per idle connection", kib(idle)+ref(func(h *streamResult) string { i, _ := perConn(h); return kib(i) }), verdict(idle <= 8<<10))
		targets.add(name+": ≤ 24 KiB per connection at peak", kib(peak)+ref(func(h *streamResult) string { _, p := perConn(h); return kib(p) }), verdict(peak <= 24<<10))
		if h != nil {
			ratio := float64(cpuPerEvent(s)) / float64(max(cpuPerEvent(h), 1))
			targets.add(name+": server CPU per delivered event ≤ 1.5× the hub's", fmt.Sprintf("%s, %.1f× (hub %s)", micros2(cpuPerEvent(s)), ratio, micros2(cpuPerEvent(h))), verdict(ratio <= 1.5))
		}
	}
	return []*table{t, growth}
}

// perConn returns a run's server memory per connection, idle and at peak.
func perConn(s *streamResult) (idle, peak float64) {
	n := float64(s.spec.subscribers)
	return float64(s.rssIdle-s.rssBefore) / n, float64(s.rssPeak-s.rssBefore) / n
}

// cpuPerEvent is the server CPU time per next message delivered.
func cpuPerEvent(s *streamResult) time.Duration {
	return s.usage.servers / time.Duration(max(s.events, 1))
}

// messagesPerSecond is the next messages each subscriber received per
// second of the story (its tokens over its rate).
func messagesPerSecond(s *streamResult) float64 {
	length := float64(s.spec.tokens) / float64(s.spec.rate)
	return float64(s.events) / float64(s.spec.subscribers) / length
}
