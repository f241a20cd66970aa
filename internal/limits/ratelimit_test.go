package limits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/go-cmp/cmp"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"golang.org/x/time/rate"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestLimiter[K comparable](clock *fakeClock, limit rate.Limit, burst int, opts ...RateLimiterOption) *RateLimiter[K] {
	l := NewRateLimiter[K](limit, burst, opts...)
	l.now = clock.Now
	return l
}

func TestRateLimiterBurstThenRefuse(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter[string](clock, rate.Every(10*time.Second), 3)

	type step struct {
		advance   time.Duration
		wantOK    bool
		wantRetry time.Duration
	}
	steps := []step{
		{wantOK: true},
		{wantOK: true},
		{wantOK: true},
		{wantOK: false, wantRetry: 10 * time.Second},
		{wantOK: false, wantRetry: 10 * time.Second}, // a refusal costs nothing
		{advance: 4 * time.Second, wantOK: false, wantRetry: 6 * time.Second},
		{advance: 6 * time.Second, wantOK: true},
		{wantOK: false, wantRetry: 10 * time.Second},
		{advance: time.Minute, wantOK: true}, // refilled to the burst, no more
		{wantOK: true},
		{wantOK: true},
		{wantOK: false, wantRetry: 10 * time.Second},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		ok, retry := l.Allow("client")
		if ok != s.wantOK || retry != s.wantRetry {
			t.Fatalf("step %d: Allow = %t, %v; want %t, %v", i, ok, retry, s.wantOK, s.wantRetry)
		}
	}
}

func TestRateLimiterKeysAreIndependent(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter[netip.Prefix](clock, rate.Every(time.Minute), 2)
	a := ClientKey(netip.MustParseAddr("198.51.100.7"))
	b := ClientKey(netip.MustParseAddr("2001:db8::1"))
	sameAsB := ClientKey(netip.MustParseAddr("2001:db8::2"))

	for range 2 {
		if ok, _ := l.Allow(a); !ok {
			t.Fatal("a refused within its burst")
		}
	}
	if ok, _ := l.Allow(a); ok {
		t.Fatal("a allowed beyond its burst")
	}
	if ok, _ := l.Allow(b); !ok {
		t.Fatal("b refused although only a used its bucket")
	}
	if ok, _ := l.Allow(sameAsB); !ok {
		t.Fatal("second request from b's /64 refused within the burst")
	}
	if ok, _ := l.Allow(b); ok {
		t.Fatal("b's /64 allowed beyond its burst")
	}
	if got := l.Len(); got != 2 {
		t.Errorf("Len = %d, want 2", got)
	}
}

func TestRateLimiterMemoryBounded(t *testing.T) {
	const (
		maxKeys = 1000
		burst   = 2
		clients = 100_000
	)
	clock := newFakeClock()
	l := newTestLimiter[int](clock, rate.Every(time.Minute), burst, WithMaxKeys(maxKeys))

	// The first maxKeys clients get their own buckets and keep a token each.
	for key := range maxKeys {
		if ok, _ := l.Allow(key); !ok {
			t.Fatalf("client %d refused its first request", key)
		}
	}
	// A flood of new clients, all at once: no entry is idle, so they share
	// one bucket and win one burst between them.
	allowed := 0
	for key := maxKeys; key < clients; key++ {
		if ok, _ := l.Allow(key); ok {
			allowed++
		}
		if n := l.Len(); n > maxKeys {
			t.Fatalf("Len = %d after %d clients, want at most %d", n, key+1, maxKeys)
		}
	}
	if allowed != burst {
		t.Errorf("flood of %d new clients won %d requests, want %d", clients-maxKeys, allowed, burst)
	}
	// Known clients keep their own buckets through the flood.
	if ok, _ := l.Allow(0); !ok {
		t.Error("known client 0 refused its second request during the flood")
	}
	if ok, _ := l.Allow(0); ok {
		t.Error("known client 0 allowed beyond its burst")
	}

	// Once the buckets have refilled, entries are idle, and new clients
	// replace them.
	clock.Advance(burst * time.Minute)
	for key := clients; key < clients+10; key++ {
		if ok, _ := l.Allow(key); !ok {
			t.Fatalf("new client %d refused after the flood", key)
		}
	}
	if n := l.Len(); n != 10 {
		t.Errorf("Len = %d after the idle entries were swept, want 10", n)
	}
}

func TestRateLimiterSweepsIdleEntriesOverTime(t *testing.T) {
	clock := newFakeClock()
	// Buckets refill in 2s, so idle entries are swept every 2s.
	l := newTestLimiter[int](clock, 1, 2)
	for key := range 100 {
		l.Allow(key)
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("Len = %d, want 100", n)
	}
	clock.Advance(2 * time.Second)
	l.Allow(-1)
	if n := l.Len(); n != 1 {
		t.Errorf("Len = %d after everyone went idle, want 1", n)
	}
}

func TestRateLimiterRealClockBounded(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	l := NewRateLimiter[netip.Prefix](rate.Every(time.Hour), 1, WithMaxKeys(5000))
	for i := range 100_000 {
		addr := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 16), byte(i >> 8), byte(i)})
		l.Allow(ClientKey(addr))
	}
	if n := l.Len(); n > 5000 {
		t.Errorf("Len = %d after 100,000 clients, want at most 5000", n)
	}

	// 5000 entries take about 1 MB; 100,000 would take about 18.
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 8<<20 {
		t.Errorf("heap grew by %d bytes for 100,000 clients, want under 8 MiB", grown)
	}
	runtime.KeepAlive(l)
}

func TestRateLimiterConcurrent(t *testing.T) {
	clock := newFakeClock() // stands still: nothing refills
	const (
		burst      = 50
		goroutines = 8
		perG       = 200
		keys       = 4
	)
	l := newTestLimiter[int](clock, 1, burst)
	var allowed [keys]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				key := (g + i) % keys
				if ok, _ := l.Allow(key); ok {
					allowed[key].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for key := range keys {
		if got := allowed[key].Load(); got != burst {
			t.Errorf("key %d: %d requests allowed, want exactly the burst, %d", key, got, burst)
		}
	}
}

func TestRateLimiterInfinite(t *testing.T) {
	l := NewRateLimiter[string](rate.Inf, 0)
	for range 1000 {
		if ok, retry := l.Allow("x"); !ok || retry != 0 {
			t.Fatalf("Allow = %t, %v with an infinite limit", ok, retry)
		}
	}
	if n := l.Len(); n != 0 {
		t.Errorf("Len = %d, want 0: an infinite limit tracks nothing", n)
	}
}

func TestRateLimiterCheck(t *testing.T) {
	clock := newFakeClock()
	l := newTestLimiter[string](clock, rate.Every(2500*time.Millisecond), 1)
	if err := l.Check("x"); err != nil {
		t.Fatalf("first Check = %v", err)
	}
	err := l.Check("x")
	var rle *RateLimitError
	if !errors.As(err, &rle) || rle.RetryAfter != 2500*time.Millisecond {
		t.Fatalf("second Check = %#v, want a RateLimitError with RetryAfter 2.5s", err)
	}
	if !errors.Is(err, ErrRateLimited) {
		t.Error("errors.Is(err, ErrRateLimited) = false")
	}
	if want := "rate limit exceeded: try again in 3 seconds"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestNewRateLimiterPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"zero limit", func() { NewRateLimiter[string](0, 1) }},
		{"negative limit", func() { NewRateLimiter[string](-1, 1) }},
		{"zero burst", func() { NewRateLimiter[string](1, 0) }},
		{"zero keys", func() { NewRateLimiter[string](1, 1, WithMaxKeys(0)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.f()
		})
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 1},
		{-time.Second, 1},
		{time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{7 * time.Second, 7},
		{time.Duration(1<<63 - 1), 1<<31 - 1},
	}
	for _, tt := range tests {
		if got := RetryAfterSeconds(tt.d); got != tt.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestRateLimitErrorGraphQL(t *testing.T) {
	tests := []struct {
		retry   time.Duration
		message string
		seconds int
	}{
		{time.Second, "rate limit exceeded: try again in 1 second", 1},
		{300 * time.Millisecond, "rate limit exceeded: try again in 1 second", 1},
		{6500 * time.Millisecond, "rate limit exceeded: try again in 7 seconds", 7},
	}
	for _, tt := range tests {
		e := (&RateLimitError{RetryAfter: tt.retry}).GraphQLError()
		got, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`{"message":%q,"extensions":{"code":"RATE_LIMITED","retryAfter":%d}}`, tt.message, tt.seconds)
		if string(got) != want {
			t.Errorf("RetryAfter %v: got %s, want %s", tt.retry, got, want)
		}
	}

	// Wrapped by a resolver, it still reaches the client with its
	// extensions: gqlgen's presenters unwrap to the *gqlerror.Error.
	wrapped := fmt.Errorf("generate story: %w", (&RateLimitError{RetryAfter: 3 * time.Second}).GraphQLError())
	presented := graphql.DefaultErrorPresenter(context.Background(), wrapped)
	want := &gqlerror.Error{
		Message:    "rate limit exceeded: try again in 3 seconds",
		Extensions: map[string]any{"code": "RATE_LIMITED", "retryAfter": 3},
	}
	if diff := cmp.Diff(want, presented); diff != "" {
		t.Errorf("presented error (-want +got):\n%s", diff)
	}
}

func BenchmarkRateLimiterAllow(b *testing.B) {
	b.Run("one key", func(b *testing.B) {
		l := NewRateLimiter[netip.Prefix](1e9, 1<<30)
		key := ClientKey(netip.MustParseAddr("198.51.100.7"))
		for b.Loop() {
			l.Allow(key)
		}
	})
	b.Run("10k keys", func(b *testing.B) {
		l := NewRateLimiter[netip.Prefix](1e9, 1<<30)
		keys := make([]netip.Prefix, 10_000)
		for i := range keys {
			keys[i] = ClientKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		}
		i := 0
		for b.Loop() {
			l.Allow(keys[i%len(keys)])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		l := NewRateLimiter[netip.Prefix](1e9, 1<<30)
		var next atomic.Uint32
		b.RunParallel(func(pb *testing.PB) {
			n := next.Add(1)
			key := ClientKey(netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)}))
			for pb.Next() {
				l.Allow(key)
			}
		})
	})
	b.Run("refused", func(b *testing.B) {
		l := NewRateLimiter[string](rate.Every(time.Hour), 1)
		l.Allow("x")
		for b.Loop() {
			l.Allow("x")
		}
	})
}
