//go:build linux

package main

import (
	"context"
	"fmt"
	"time"
)

// fanoutCase is one size of the fan-out scenario.
type fanoutCase struct {
	subscribers, stories int
	hub                  bool // on the baseline hub instead of storybot
}

func (c fanoutCase) String() string {
	s := fmt.Sprintf("%d on %d stories", c.subscribers, c.stories)
	if c.stories == 1 {
		s = fmt.Sprintf("%d on 1 story", c.subscribers)
	}
	if c.hub {
		s = "baseline hub: " + s
	}
	return s
}

// runFanout runs each fan-out case on a fresh storybot, so that memory
// figures start from the same idle server.
func (b *bench) runFanout(ctx context.Context) ([]*streamResult, error) {
	var cases []fanoutCase
	for _, n := range b.cfg.fanout {
		cases = append(cases, fanoutCase{subscribers: n, stories: 1})
		if b.cfg.fanoutBaseline {
			cases = append(cases, fanoutCase{subscribers: n, stories: 1, hub: true})
		}
	}
	if b.cfg.spreadSubscribers > 0 {
		cases = append(cases, fanoutCase{subscribers: b.cfg.spreadSubscribers, stories: b.cfg.spreadStories})
		if b.cfg.fanoutBaseline {
			cases = append(cases, fanoutCase{subscribers: b.cfg.spreadSubscribers, stories: b.cfg.spreadStories, hub: true})
		}
	}
	var out []*streamResult
	for _, c := range cases {
		res, err := b.fanoutCase(ctx, c)
		if err != nil {
			return out, fmt.Errorf("fan-out %s: %w", c, err)
		}
		out = append(out, res)
	}
	return out, nil
}

func (b *bench) fanoutCase(ctx context.Context, c fanoutCase) (*streamResult, error) {
	name := fmt.Sprintf("fanout-%d-%d", c.subscribers, c.stories)
	var (
		s   *child
		err error
	)
	if c.hub {
		s, err = b.startBaseline(ctx)
	} else {
		s, err = b.startStorybot(ctx, name)
	}
	if err != nil {
		return nil, err
	}
	defer b.stopChild(s)
	spec := streamSpec{
		name: "fan-out " + c.String(), stories: c.stories, subscribers: c.subscribers,
		tokens: b.cfg.fanoutTokens, rate: b.cfg.fanoutRate, gen: s, sub: s, hub: c.hub,
	}
	if !c.hub {
		spec.profile = b.profileName(name)
	}
	return b.runStream(ctx, spec)
}

// writesResult is what scenario 4 measured.
type writesResult struct {
	stream    *streamResult
	perStory  []int         // UPDATEs of each story's row while it streamed, its end included
	before    int           // UPDATEs of all of them while they waited for the model (start, lease renewals)
	duration  time.Duration // from the release of the model to the last subscriber's end
	perSecond float64       // UPDATEs per story per second while streaming, on average
	maxWindow int           // most UPDATEs of one story within any one second
	minGap    time.Duration // shortest time between two UPDATEs of one story while streaming
}

// runWrites streams a few stories fast and counts the UPDATEs of their rows
// with a trigger.
func (b *bench) runWrites(ctx context.Context) (*writesResult, error) {
	s, err := b.startStorybot(ctx, "writes")
	if err != nil {
		return nil, err
	}
	defer b.stopChild(s)
	if err := b.db.installWriteCounter(ctx); err != nil {
		return nil, fmt.Errorf("installing the write counter: %w", err)
	}
	defer b.db.removeWriteCounter(context.WithoutCancel(ctx))
	tokens := int(b.cfg.writeDuration.Seconds() * float64(b.cfg.writeRate))
	stream, err := b.runStream(ctx, streamSpec{
		name: "writes", stories: b.cfg.writeStories, subscribers: b.cfg.writeStories,
		tokens: tokens, rate: b.cfg.writeRate, gen: s, sub: s,
	})
	if err != nil {
		return nil, err
	}
	writes, err := b.db.storyWrites(ctx, stream.storyIDs)
	if err != nil {
		return nil, err
	}
	res := &writesResult{stream: stream, duration: stream.streamTime}
	total := 0
	for _, id := range stream.storyIDs {
		var ts []time.Time
		for _, at := range writes[id] {
			if at.Before(stream.released) {
				res.before++
			} else {
				ts = append(ts, at)
			}
		}
		res.perStory = append(res.perStory, len(ts))
		for i := 1; i < len(ts); i++ {
			if gap := ts[i].Sub(ts[i-1]); res.minGap == 0 || gap < res.minGap {
				res.minGap = gap
			}
		}
		total += len(ts)
		// The most writes within one second, over windows starting at each write.
		for i := range ts {
			j := i
			for j < len(ts) && ts[j].Sub(ts[i]) < time.Second {
				j++
			}
			res.maxWindow = max(res.maxWindow, j-i)
		}
	}
	res.perSecond = float64(total) / float64(len(stream.storyIDs)) / res.duration.Seconds()
	b.progress("writes: %.1f UPDATEs per story per second, at most %d within one second", res.perSecond, res.maxWindow)
	return res, nil
}

// profileName returns name when profiles are being captured, else "".
func (b *bench) profileName(name string) string {
	if b.cfg.pprofDir == "" {
		return ""
	}
	return name
}
