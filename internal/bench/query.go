//go:build linux

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/storybot/storybot/internal/pulid"
)

// promptsQuery is the query of scenarios 1 and 3.
const promptsQuery = `{ prompts(first: 20) { edges { node { id content createdAt } } } }`

// edgeQuery is scenario 1's second query: it follows an edge from every
// prompt of the page, which Ent must preload in one statement for all of
// them (graph/preload_test.go counts them).
const edgeQuery = `{ prompts(first: 20) { edges { node { id stories(first: 3) { edges { node { id status } } } } } } }`

// storiesPerPrompt is how many stories the query scenario stores for each
// prompt: one more than edgeQuery asks for.
const storiesPerPrompt = 4

// queryTarget is one server the query load runs against.
type queryTarget struct {
	label string
	c     *child
}

// queryReport is what scenarios 1 and 3 measured.
type queryReport struct {
	targets  []string              // labels, in table order
	results  map[string]loadResult // by label
	sameJSON bool                  // every target answered with the same data
	answer   string                // what differed, when not the same
	sql      []sqlCheck            // storybot's statements against the baseline's
	// edge is what edgeQuery measured, by label (the baseline and storybot
	// with field timings on), and whether they answered alike.
	edge       map[string]loadResult
	edgeSame   bool
	edgeAnswer string
	prompts    int
	clients    int
	rounds     int
	warmup     time.Duration
	windowPer  time.Duration
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
	b.progress("query: storing %d stories for each prompt", storiesPerPrompt)
	if err := seedStories(ctx, b.db.db, storiesPerPrompt); err != nil {
		return nil, err
	}
	targets := []queryTarget{{labelBaseline, base}, {storybotTimings, on}, {labelNoTimings, off}}
	edgeTargets := targets[:2]
	rep := &queryReport{
		results: map[string]loadResult{}, edge: map[string]loadResult{}, prompts: b.cfg.prompts, clients: b.cfg.queryClients, rounds: b.cfg.queryRounds,
		warmup: b.cfg.queryWarmup, windowPer: b.cfg.queryDuration / time.Duration(b.cfg.queryRounds),
	}
	for _, t := range targets {
		rep.targets = append(rep.targets, t.label)
	}
	rep.sameJSON, rep.answer, err = sameAnswers(ctx, targets, b.token, promptsQuery)
	if err != nil {
		return nil, err
	}
	rep.edgeSame, rep.edgeAnswer, err = sameAnswers(ctx, edgeTargets, b.token, edgeQuery)
	if err != nil {
		return nil, err
	}

	type pass struct {
		query   string
		targets []queryTarget
		results map[string]loadResult
	}
	for round := range b.cfg.queryRounds {
		for _, p := range []pass{{promptsQuery, targets, rep.results}, {edgeQuery, edgeTargets, rep.edge}} {
			if err := b.queryRound(ctx, rep, round, p.query, p.targets, on, p.results); err != nil {
				return nil, err
			}
		}
	}
	return rep, nil
}

// queryRound measures query on each of targets in turn, adding to results.
// In the first round of promptsQuery it also profiles the servers and
// watches storybot's (on's) SQL.
func (b *bench) queryRound(ctx context.Context, rep *queryReport, round int, query string, targets []queryTarget, on *child, results map[string]loadResult) error {
	body, _ := json.Marshal(map[string]string{"query": query})
	first := round == 0 && query == promptsQuery
	name := "query"
	if query == edgeQuery {
		name = "edge query"
	}
	for _, t := range targets {
		load := &httpLoad{addr: t.c.addr, path: "/graphql", body: body, token: b.token, clients: b.cfg.queryClients, server: t.c, backends: b.db.backends}
		var profile sync.WaitGroup
		if first && t.c.pprof != "" {
			load.onMeasure = func() {
				profile.Go(func() { b.captureProfile(ctx, t.c, t.c.name, "cpu", rep.windowPer) })
			}
		}
		b.progress("%s: round %d of %d, %s: %s warm-up, %s measured", name, round+1, b.cfg.queryRounds, t.label, rep.warmup, rep.windowPer)
		var xactsBefore int64
		var rtBefore runtimeStats
		var rtErr error
		load.onMeasure = chain(load.onMeasure, func() {
			xactsBefore, _ = b.db.transactions(ctx)
			rtBefore, rtErr = readRuntime(ctx, t.c.addr)
		})
		var sqlSeen chan []sqlCheck
		if first && t.c == on {
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
		if rt, err := readRuntime(ctx, t.c.addr); err == nil && rtErr == nil {
			res.mallocs = rt.mallocs - rtBefore.mallocs
		}
		profile.Wait()
		if err != nil {
			return err
		}
		if first && t.c.pprof != "" {
			// Allocations since start: almost all of them this load's.
			b.captureProfile(ctx, t.c, t.c.name, "heap", 0)
		}
		r := results[t.label]
		r.merge(res)
		results[t.label] = r
		b.progress("%s: %s: %.0f req/s, p50 %s, p99 %s, %.0f allocations per request, %d failures", name, t.label, res.throughput(),
			res.latencies.percentile(0.5), res.latencies.percentile(0.99), res.allocsPerRequest(), res.failures)
	}
	return nil
}

// seedStories stores perPrompt completed stories for every stored prompt,
// directly in the database: generating them would take the model's time,
// and the query reads only their IDs and status.
func seedStories(ctx context.Context, db *sql.DB, perPrompt int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	type prompt struct {
		id, user string
		created  time.Time
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, user_id, created_at FROM prompts`)
	if err != nil {
		return err
	}
	var prompts []prompt
	for rows.Next() {
		var p prompt
		if err := rows.Scan(&p.id, &p.user, &p.created); err != nil {
			rows.Close()
			return err
		}
		prompts = append(prompts, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	insert, err := tx.PrepareContext(ctx, `INSERT INTO stories (id, created_at, updated_at, status, text, max_tokens, prompt_id, user_id)
		VALUES ($1, $2, $2, 'COMPLETED', 'Once upon a time.', 100, $3, $4)`)
	if err != nil {
		return err
	}
	defer insert.Close()
	for _, p := range prompts {
		for i := range perPrompt {
			at := p.created.Add(time.Duration(i+1) * time.Second)
			if _, err := insert.ExecContext(ctx, string(pulid.New(pulid.StoryPrefix)), at, p.id, p.user); err != nil {
				return fmt.Errorf("seeding stories: %w", err)
			}
		}
	}
	return tx.Commit()
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

// sameAnswers asks every target query once, with the API token, and
// compares the data of the answers (trace IDs differ by design).
func sameAnswers(ctx context.Context, targets []queryTarget, token, query string) (bool, string, error) {
	body, _ := json.Marshal(map[string]string{"query": query})
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
