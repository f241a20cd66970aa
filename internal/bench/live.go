//go:build linux

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// liveResult is one case of the live scenario: many stories at once, one
// subscriber each, with what Postgres wrote for them.
type liveResult struct {
	stream *streamResult
	cross  bool // generated on one replica, watched on another
	long   bool // the long-story case
	writes pgWrites
	// storySeconds is the stories' streaming time in all: stories ×
	// tokens ÷ rate.
	storySeconds float64
	textBytes    int64 // the stories' text, as stored at the end
}

// pgWrites is what Postgres wrote over an interval: WAL (the whole
// server's, so anything else running adds to it) and the rows of stories
// and story_pieces (the bench database's), with their HOT updates.
type pgWrites struct {
	walBytes                           int64
	inserted, updated, hot, deleted    int64
	storyUpdates, storyHOT, pieceWrite int64
}

func (w pgWrites) rows() int64 { return w.inserted + w.updated + w.deleted }

// runLive streams many stories at once, one subscriber each, for each
// count of -live-stories: on the replica that generates them, then across
// two replicas sharing Postgres. Then, as many long stories as the smallest
// count, on one replica. Every case starts fresh replicas and stops them
// before reading Postgres's row counts, which backends report as they exit.
func (b *bench) runLive(ctx context.Context) ([]*liveResult, error) {
	var out []*liveResult
	for _, n := range b.cfg.liveStories {
		for _, cross := range []bool{false, true} {
			res, err := b.liveCase(ctx, n, b.cfg.liveTokens, cross, false)
			if err != nil {
				return out, err
			}
			out = append(out, res)
		}
	}
	if b.cfg.liveLongTokens > 0 {
		n := b.cfg.liveStories[0]
		for _, c := range b.cfg.liveStories {
			n = min(n, c)
		}
		res, err := b.liveCase(ctx, n, b.cfg.liveLongTokens, false, true)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func (b *bench) liveCase(ctx context.Context, stories, tokens int, cross, long bool) (*liveResult, error) {
	where, tag := "same replica", "same"
	if cross {
		where, tag = "across replicas", "cross"
	}
	name := fmt.Sprintf("live %d × %d tokens, %s", stories, tokens, where)
	tag = fmt.Sprintf("live-%d-%d-%s", stories, tokens, tag)
	before, err := b.db.pgWrites(ctx)
	if err != nil {
		return nil, err
	}
	a, err := b.startStorybot(ctx, tag+"-a")
	if err != nil {
		return nil, err
	}
	sub := a
	if cross {
		if sub, err = b.startStorybot(ctx, tag+"-b"); err != nil {
			b.stopChild(a)
			return nil, err
		}
	}
	stream, err := b.runStream(ctx, streamSpec{
		name: name, stories: stories, subscribers: stories,
		tokens: tokens, rate: b.cfg.liveRate, gen: a, sub: sub, profile: b.profileName(tag),
	})
	if sub != a {
		b.stopChild(sub)
	}
	b.stopChild(a)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	after, err := b.db.pgWrites(ctx)
	if err != nil {
		return nil, err
	}
	res := &liveResult{
		stream: stream, cross: cross, long: long,
		writes:       after.minus(before),
		storySeconds: float64(stories) * float64(tokens) / float64(b.cfg.liveRate),
	}
	if res.textBytes, err = b.db.textBytes(ctx, stream.storyIDs); err != nil {
		return nil, err
	}
	perStory := func(v int64) float64 { return float64(v) / res.storySeconds }
	b.progress("%s: WAL %.0f B, rows %.2f, text %.0f B per story-second", name,
		perStory(res.writes.walBytes), perStory(res.writes.rows()), perStory(res.textBytes))
	return res, nil
}

func (w pgWrites) minus(o pgWrites) pgWrites {
	return pgWrites{
		walBytes: w.walBytes - o.walBytes,
		inserted: w.inserted - o.inserted, updated: w.updated - o.updated, hot: w.hot - o.hot, deleted: w.deleted - o.deleted,
		storyUpdates: w.storyUpdates - o.storyUpdates, storyHOT: w.storyHOT - o.storyHOT, pieceWrite: w.pieceWrite - o.pieceWrite,
	}
}

// pgWrites reads the WAL position and the row counters of stories and
// story_pieces. The counters include what backends still open have not
// reported yet only once they report it: read them with storybot stopped.
func (d *benchDB) pgWrites(ctx context.Context) (pgWrites, error) {
	var w pgWrites
	// A short wait lets the backends of stopped replicas report as they exit.
	time.Sleep(500 * time.Millisecond)
	err := d.db.QueryRowContext(ctx, `
SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
	COALESCE(sum(n_tup_ins), 0), COALESCE(sum(n_tup_upd), 0), COALESCE(sum(n_tup_hot_upd), 0), COALESCE(sum(n_tup_del), 0),
	COALESCE(sum(n_tup_upd) FILTER (WHERE relname = 'stories'), 0),
	COALESCE(sum(n_tup_hot_upd) FILTER (WHERE relname = 'stories'), 0),
	COALESCE(sum(n_tup_ins + n_tup_upd + n_tup_del) FILTER (WHERE relname = 'story_pieces'), 0)
FROM pg_stat_user_tables WHERE relname IN ('stories', 'story_pieces')`).Scan(
		&w.walBytes, &w.inserted, &w.updated, &w.hot, &w.deleted, &w.storyUpdates, &w.storyHOT, &w.pieceWrite)
	if err != nil {
		return w, fmt.Errorf("reading Postgres's write counters: %w", err)
	}
	return w, nil
}

// textBytes is the stored text of stories ids, ended, in bytes (read from
// the text column, which holds all of an ended story's text in every
// version of storybot, so that -bin can measure an older one).
func (d *benchDB) textBytes(ctx context.Context, ids []string) (int64, error) {
	var n int64
	err := d.db.QueryRowContext(ctx, `SELECT COALESCE(sum(octet_length(text)), 0) FROM stories WHERE id = ANY($1)`, pq.Array(ids)).Scan(&n)
	return n, err
}

// liveTables reports the live scenario and adds its targets.
func (r *results) liveTables(targets *table) []*table {
	if len(r.live) == 0 {
		return nil
	}
	first := r.live[0].stream.spec
	t := &table{
		title: fmt.Sprintf("5. Concurrent stories: %d tokens/s each, one subscriber each", first.rate),
		header: []string{"case", "complete, same text", "API p50", "p99", "max", "server CPU", "Postgres CPU per story-second",
			"rows per story-second", "WAL per story-second", "text per story-second", "stories HOT updates", "stream time"},
	}
	for _, l := range r.live {
		s := l.stream
		per := func(v int64) float64 { return float64(v) / l.storySeconds }
		hot := "–"
		if l.writes.storyUpdates > 0 {
			hot = fmt.Sprintf("%.0f%%", 100*float64(l.writes.storyHOT)/float64(l.writes.storyUpdates))
		}
		t.add(s.spec.name, fmt.Sprintf("%d / %d", s.textOK, s.spec.subscribers),
			ms(s.latency.percentile(0.5)), ms(s.latency.percentile(0.99)), ms(s.latency.maximum()),
			seconds(s.usage.servers), ms(time.Duration(float64(s.usage.postgres)/l.storySeconds)),
			fmt.Sprintf("%.2f", per(l.writes.rows())), fmt.Sprintf("%.0f B", per(l.writes.walBytes)),
			fmt.Sprintf("%.0f B", per(l.textBytes)), hot, ms(s.streamTime))
		r.streamNotes(t, s)
	}
	t.note("API p50/p99/max: from the model server writing a token to the subscriber reading it (same clock), every token of every subscriber. A story-second is one story streaming for one second.")
	t.note("Rows are inserts, updates and deletes of stories and story_pieces (pg_stat_user_tables); WAL is the server's whole WAL (pg_current_wal_lsn) over the case, so anything else writing to this Postgres adds to it. HOT updates change no index.")
	t.note("Across replicas, replica A generates and replica B serves the subscribers; B learns of new text from A's commits through Postgres LISTEN/NOTIFY.")
	var short, long *liveResult
	for _, l := range r.live {
		s := l.stream
		p99 := s.latency.percentile(0.99)
		limit, what := 10*time.Millisecond, "same replica: API adds ≤ 10 ms at p99"
		if l.cross {
			limit, what = 150*time.Millisecond, "across replicas: ≤ 150 ms at p99"
		}
		if l.long {
			long = l
			continue
		}
		if !l.cross && (short == nil || s.spec.stories < short.stream.spec.stories) {
			short = l
		}
		targets.add(fmt.Sprintf("%d live stories, %s", s.spec.stories, what), fmt.Sprintf("%s (%d / %d complete)", ms(p99), s.textOK, s.spec.subscribers),
			verdict(p99 <= limit && s.textOK == s.spec.subscribers))
	}
	if short != nil && long != nil {
		walShort := float64(short.writes.walBytes) / short.storySeconds
		walLong := float64(long.writes.walBytes) / long.storySeconds
		targets.add(fmt.Sprintf("Postgres writes per story-second flat as stories grow (%d vs %d tokens)", short.stream.spec.tokens, long.stream.spec.tokens),
			fmt.Sprintf("WAL %.0f B vs %.0f B (%.2f×)", walShort, walLong, walLong/walShort), verdict(walLong <= 1.5*walShort))
	}
	return []*table{t}
}
