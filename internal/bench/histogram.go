//go:build linux

package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// A histogram counts durations in log-linear buckets of whole microseconds:
// exact below 64 µs, then 32 buckets per power of two, so that a percentile
// read back is within about 3% of the true value. Its zero value is ready;
// it is not safe for concurrent use (see sharedHistogram).
type histogram struct {
	counts [histogramBuckets]uint64
	n      uint64
	sum    uint64 // microseconds
	max    uint64 // microseconds
}

// histogramBuckets covers up to 2^38 µs (three days), far above any timeout.
const histogramBuckets = 64 + 32*32

// bucketOf returns the bucket of v microseconds.
func bucketOf(v uint64) int {
	if v < 64 {
		return int(v)
	}
	shift := bits.Len64(v) - 6
	i := shift*32 + int(v>>shift)
	if i >= histogramBuckets {
		return histogramBuckets - 1
	}
	return i
}

// bucketValue returns the middle of bucket i, in microseconds.
func bucketValue(i int) uint64 {
	if i < 64 {
		return uint64(i)
	}
	shift := i/32 - 1
	lower := uint64(i%32+32) << shift
	return lower + (uint64(1)<<shift)/2
}

func micros(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	return uint64(d / time.Microsecond)
}

// record counts one duration.
func (h *histogram) record(d time.Duration) {
	v := micros(d)
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += v
	if v > h.max {
		h.max = v
	}
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// count returns how many durations were recorded.
func (h *histogram) count() uint64 { return h.n }

// percentile returns the duration below which a fraction p (0 to 1) of the
// recorded ones fall; zero when nothing was recorded.
func (h *histogram) percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(p*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketValue(i), h.max)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// maximum returns the longest recorded duration.
func (h *histogram) maximum() time.Duration { return time.Duration(h.max) * time.Microsecond }

// mean returns the average recorded duration.
func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/h.n) * time.Microsecond
}

// sharedHistogram is a histogram that many goroutines record into at once.
// It is split into shards, each updated with atomic adds, so that thousands
// of subscriber goroutines do not all contend for one cache line.
type sharedHistogram struct {
	shards [histogramShards]struct {
		counts [histogramBuckets]atomic.Uint64
		n, sum atomic.Uint64
		max    atomic.Uint64
	}
}

const histogramShards = 16

// record counts one duration in shard (any number; it is reduced modulo the
// shard count), usually the caller's connection index.
func (s *sharedHistogram) record(shard int, d time.Duration) {
	sh := &s.shards[uint(shard)%histogramShards]
	v := micros(d)
	sh.counts[bucketOf(v)].Add(1)
	sh.n.Add(1)
	sh.sum.Add(v)
	for {
		m := sh.max.Load()
		if v <= m || sh.max.CompareAndSwap(m, v) {
			break
		}
	}
}

// snapshot returns the counts so far as one histogram.
func (s *sharedHistogram) snapshot() *histogram {
	h := &histogram{}
	for i := range s.shards {
		sh := &s.shards[i]
		for b := range sh.counts {
			h.counts[b] += sh.counts[b].Load()
		}
		h.n += sh.n.Load()
		h.sum += sh.sum.Load()
		h.max = max(h.max, sh.max.Load())
	}
	return h
}
