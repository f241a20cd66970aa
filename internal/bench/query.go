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
	sql       string                // the SQL storybot ran, from pg_stat_activity
	sqlSame   bool                  // it is the baseline's
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
	if err := newGQLClient(on.addr).seedPrompts(ctx, b.cfg.prompts); err != nil {
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
	rep.sameJSON, rep.answer, err = sameAnswers(ctx, targets)
	if err != nil {
		return nil, err
	}

	body, _ := json.Marshal(map[string]string{"query": promptsQuery})
	for round := range b.cfg.queryRounds {
		for _, t := range targets {
			load := &httpLoad{addr: t.c.addr, path: "/graphql", body: body, clients: b.cfg.queryClients, server: t.c, backends: b.db.backends}
			var profile sync.WaitGroup
			if round == 0 && t.c.pprof != "" {
				load.onMeasure = func() {
					profile.Go(func() { b.captureProfile(ctx, t.c, t.c.name, "cpu", rep.windowPer) })
				}
			}
			b.progress("query: round %d of %d, %s: %s warm-up, %s measured", round+1, b.cfg.queryRounds, t.label, rep.warmup, rep.windowPer)
			var xactsBefore int64
			load.onMeasure = chain(load.onMeasure, func() { xactsBefore, _ = b.db.transactions(ctx) })
			res, err := load.run(ctx, rep.warmup, rep.windowPer)
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
			if round == 0 && t.c == on {
				if rep.sql, err = b.db.promptsSQL(ctx); err != nil {
					rep.sql = "(not seen in pg_stat_activity: " + err.Error() + ")"
				}
				rep.sqlSame = normalizeSQL(rep.sql) == normalizeSQL(baselineSQL)
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

// normalizeSQL folds whitespace, so that statements compare by content.
func normalizeSQL(s string) string { return strings.Join(strings.Fields(s), " ") }

// sameAnswers asks every target the query once and compares the data of
// the answers (trace IDs differ by design).
func sameAnswers(ctx context.Context, targets []queryTarget) (bool, string, error) {
	body, _ := json.Marshal(map[string]string{"query": promptsQuery})
	var first any
	var firstLen int
	for i, t := range targets {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+t.c.addr+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
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
