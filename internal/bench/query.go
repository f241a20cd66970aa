//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"
)

// promptsQuery is the query of scenarios 1 and 3.
const promptsQuery = `{ prompts(first: 20) { edges { node { id content createdAt } } } }`

// queryTarget is one server the query load runs against.
type queryTarget struct {
	label string
	c     *child
}

// queryReport is what scenarios 1 and 3 measured.
type queryReport struct {
	targets   []string              // labels, in table order
	results   map[string]loadResult // by label
	sameJSON  bool                  // every target answered with the same data
	answer    string                // what differed, when not the same
	sql       []sqlCheck            // storybot's statements against the baseline's
	prompts   int
	clients   int
	rounds    int
	warmup    time.Duration
	windowPer time.Duration
}

const (
	labelBaseline   = "baseline net/http"
	labelStorybot   = "storybot"
	labelNoTimings  = "storybot, field timings off"
	storybotTimings = labelStorybot + " (field timings on)"
)

// runQueries seeds the prompts and measures the query on the baseline,
// storybot and storybot without field timings, in interleaved rounds so
// that a noisy neighbour hurts all three alike.
func (b *bench) runQueries(ctx context.Context) (*queryReport, error) {
	on, err := b.startStorybot(ctx, "query", "STORYBOT_FIELD_TIMINGS=true")
	if err != nil {
		return nil, err
	}
	defer b.stopChild(on)
	off, err := b.startStorybot(ctx, "query-notimings", "STORYBOT_FIELD_TIMINGS=false")
	if err != nil {
		return nil, err
	}
	defer b.stopChild(off)
	base, err := b.startBaseline(ctx)
	if err != nil {
		return nil, err
	}
	defer b.stopChild(base)

	b.progress("query: storing %d prompts", b.cfg.prompts)
	if err := b.client(on).seedPrompts(ctx, b.cfg.prompts); err != nil {
		return nil, err
	}
	targets := []queryTarget{{labelBaseline, base}, {storybotTimings, on}, {labelNoTimings, off}}
	rep := &queryReport{
		results: map[string]loadResult{}, prompts: b.cfg.prompts, clients: b.cfg.queryClients, rounds: b.cfg.queryRounds,
		warmup: b.cfg.queryWarmup, windowPer: b.cfg.queryDuration / time.Duration(b.cfg.queryRounds),
	}
	for _, t := range targets {
		rep.targets = append(rep.targets, t.label)
	}
	rep.sameJSON, rep.answer, err = sameAnswers(ctx, targets, b.token)
	if err != nil {
		return nil, err
	}

	body, _ := json.Marshal(map[string]string{"query": promptsQuery})
	for round := range b.cfg.queryRounds {
		for _, t := range targets {
			load := &httpLoad{addr: t.c.addr, path: "/graphql", body: body, token: b.token, clients: b.cfg.queryClients, server: t.c, backends: b.db.backends}
			var profile sync.WaitGroup
			if round == 0 && t.c.pprof != "" {
				load.onMeasure = func() {
					profile.Go(func() { b.captureProfile(ctx, t.c, t.c.name, "cpu", rep.windowPer) })
				}
			}
			b.progress("query: round %d of %d, %s: %s warm-up, %s measured", round+1, b.cfg.queryRounds, t.label, rep.warmup, rep.windowPer)
			var xactsBefore int64
			load.onMeasure = chain(load.onMeasure, func() { xactsBefore, _ = b.db.transactions(ctx) })
			var sqlSeen chan []sqlCheck
			if round == 0 && t.c == on {
				// During the warm-up, which runs the same load unmeasured.
				sqlSeen = make(chan []sqlCheck, 1)
				go func() { sqlSeen <- b.watchSQL(ctx, rep.warmup) }()
			}
			res, err := load.run(ctx, rep.warmup, rep.windowPer)
			if sqlSeen != nil {
				rep.sql = <-sqlSeen
			}
			if xacts, err := b.db.transactions(ctx); err == nil {
				res.transactions = xacts - xactsBefore
			}
			profile.Wait()
			if err != nil {
				return nil, err
			}
			if round == 0 && t.c.pprof != "" {
				// Allocations since start: almost all of them this load's.
				b.captureProfile(ctx, t.c, t.c.name, "heap", 0)
			}
			r := rep.results[t.label]
			r.merge(res)
			rep.results[t.label] = r
			b.progress("query: %s: %.0f req/s, p50 %s, p99 %s, %d failures", t.label, res.throughput(),
				res.latencies.percentile(0.5), res.latencies.percentile(0.99), res.failures)
		}
	}
	return rep, nil
}

// chain returns a function that calls f (when not nil), then g.
func chain(f, g func()) func() {
	return func() {
		if f != nil {
			f()
		}
		g()
	}
}

// sqlCheck is one statement of the query's path: what storybot ran, as
// pg_stat_activity shows it, and what the baseline runs.
type sqlCheck struct {
	what  string
	table string // the statement is a SELECT from this table
	want  string // the baseline's
	got   string // storybot's: want once seen, else the first other SELECT from table
}

func (c sqlCheck) same() bool { return normalizeSQL(c.got) == normalizeSQL(c.want) }

// watchSQL looks at the statements of storybot's database connections
// until it has seen the baseline's statement for each table of the query's
// path (the API token, its user, the prompts) or d has passed. It runs
// beside the load: a request's last statement is the prompts', so the idle
// connections afterwards show only that one. A table read only by other
// statements (or by none) is reported with the first of them.
func (b *bench) watchSQL(ctx context.Context, d time.Duration) []sqlCheck {
	checks := []sqlCheck{
		{what: "the API token", table: "api_tokens", want: baselineTokenSQL},
		{what: "its user", table: "users", want: baselineUserSQL},
		{what: "the prompts", table: "prompts", want: baselineSQL},
	}
	deadline := time.Now().Add(d)
	for pending := len(checks); pending > 0 && time.Now().Before(deadline) && ctx.Err() == nil; {
		statements, _ := b.db.statements(ctx)
		pending = 0
		for i, c := range checks {
			for _, q := range statements {
				if c.same() || !strings.HasPrefix(q, "SELECT") || !strings.Contains(q, `FROM "`+c.table+`"`) {
					continue
				}
				if c.got == "" || normalizeSQL(q) == normalizeSQL(c.want) {
					c.got = q
				}
			}
			if !c.same() {
				pending++
			}
			checks[i] = c
		}
		settle(ctx, 10*time.Millisecond)
	}
	for i := range checks {
		if checks[i].got == "" {
			checks[i].got = "(not seen in pg_stat_activity)"
		}
	}
	return checks
}

// normalizeSQL folds whitespace, so that statements compare by content.
func normalizeSQL(s string) string { return strings.Join(strings.Fields(s), " ") }

// sameAnswers asks every target the query once, with the API token, and
// compares the data of the answers (trace IDs differ by design).
func sameAnswers(ctx context.Context, targets []queryTarget, token string) (bool, string, error) {
	body, _ := json.Marshal(map[string]string{"query": promptsQuery})
	var first any
	var firstLen int
	for i, t := range targets {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+t.c.addr+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, "", fmt.Errorf("%s: %w", t.label, err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return false, "", err
		}
		var r struct {
			Data   any `json:"data"`
			Errors any `json:"errors"`
		}
		if err := json.Unmarshal(raw, &r); err != nil || r.Errors != nil || resp.StatusCode != http.StatusOK {
			return false, "", fmt.Errorf("%s answered HTTP %d: %.300s", t.label, resp.StatusCode, raw)
		}
		if i == 0 {
			first, firstLen = r.Data, len(raw)
			continue
		}
		if !reflect.DeepEqual(first, r.Data) {
			return false, fmt.Sprintf("%s's data differs from %s's", t.label, targets[0].label), nil
		}
		if d := len(raw) - firstLen; d > 8 || d < -8 {
			return false, fmt.Sprintf("%s's answer is %d bytes, %s's %d", t.label, len(raw), targets[0].label, firstLen), nil
		}
	}
	return true, "", nil
}
