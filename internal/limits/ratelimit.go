package limits

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"
	"golang.org/x/time/rate"
)

// DefaultMaxKeys is the number of clients a RateLimiter tracks unless
// WithMaxKeys says otherwise: about 12 MB when full.
const DefaultMaxKeys = 1 << 16

// Sweeps of idle entries happen at most every sweepEvery (the time a bucket
// takes to fill, within these bounds), and at most every minSweepGap when the
// table is full.
const (
	minSweepGap   = time.Second
	maxSweepEvery = time.Minute
)

// RateLimiter gives each client, identified by a key such as ClientKey's, a
// token bucket: burst requests at once, refilled at limit per second. It is
// safe for concurrent use and starts no goroutines.
//
// Memory is bounded: at most the configured number of keys is tracked. An
// entry whose bucket has filled up again is idle (forgetting it loses
// nothing, since a new client starts with a full bucket) and is swept away
// when new clients arrive. If the table is full of clients that are all still
// busy, new clients share one extra bucket until entries go idle. A flood of
// made-up clients thus cannot grow memory, nor win more than one extra bucket
// of requests; while it lasts, genuinely new clients may be refused, but
// clients that are using their buckets keep them.
type RateLimiter[K comparable] struct {
	limit      rate.Limit
	burst      int
	maxKeys    int
	sweepEvery time.Duration
	now        func() time.Time

	mu        sync.Mutex
	clients   map[K]*rate.Limiter
	overflow  *rate.Limiter
	lastSweep time.Time
}

// RateLimiterOption configures a RateLimiter.
type RateLimiterOption func(*rateLimiterConfig)

type rateLimiterConfig struct {
	maxKeys int
}

// WithMaxKeys sets how many clients the limiter tracks at most (default
// DefaultMaxKeys). It panics if n is less than 1.
func WithMaxKeys(n int) RateLimiterOption {
	if n < 1 {
		panic("limits: WithMaxKeys needs at least 1 key, got " + strconv.Itoa(n))
	}
	return func(c *rateLimiterConfig) { c.maxKeys = n }
}

// NewRateLimiter returns a limiter that allows each client burst requests at
// once and limit requests per second after that; rate.Every(d) gives one
// request every d. A limit of rate.Inf allows everything and tracks nothing.
// It panics if limit is not positive or burst is less than 1, since such a
// limiter would refuse every request forever.
func NewRateLimiter[K comparable](limit rate.Limit, burst int, opts ...RateLimiterOption) *RateLimiter[K] {
	if !(limit > 0) {
		panic(fmt.Sprintf("limits: rate limit must be positive, got %v", float64(limit)))
	}
	if limit != rate.Inf && burst < 1 {
		panic("limits: rate limit burst must be at least 1, got " + strconv.Itoa(burst))
	}
	cfg := rateLimiterConfig{maxKeys: DefaultMaxKeys}
	for _, opt := range opts {
		opt(&cfg)
	}
	// An entry is idle once its bucket has had time to fill up.
	refill := seconds(float64(burst) / float64(limit))
	return &RateLimiter[K]{
		limit:      limit,
		burst:      burst,
		maxKeys:    cfg.maxKeys,
		sweepEvery: min(max(refill, minSweepGap), maxSweepEvery),
		now:        time.Now,
		clients:    make(map[K]*rate.Limiter),
		overflow:   rate.NewLimiter(limit, burst),
	}
}

// Allow takes one request from key's bucket. If the bucket is empty it
// reports false and how long until the next request would be allowed.
func (l *RateLimiter[K]) Allow(key K) (ok bool, retryAfter time.Duration) {
	if l.limit == rate.Inf {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.bucket(key, now)
	if lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - lim.TokensAt(now)
	return false, seconds(missing / float64(l.limit))
}

// seconds converts s seconds to a Duration, rounding up to the nanosecond
// and saturating instead of overflowing.
func seconds(s float64) time.Duration {
	ns := math.Ceil(s * float64(time.Second))
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// Check is Allow as an error: nil, or a *RateLimitError saying when to retry.
func (l *RateLimiter[K]) Check(key K) error {
	if ok, retryAfter := l.Allow(key); !ok {
		return &RateLimitError{RetryAfter: retryAfter}
	}
	return nil
}

// Len returns the number of clients the limiter tracks now.
func (l *RateLimiter[K]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// bucket returns key's bucket, adding one for a new key if there is room
// (after sweeping idle entries, if it is time to), and the shared overflow
// bucket if there is none. l.mu must be held.
func (l *RateLimiter[K]) bucket(key K, now time.Time) *rate.Limiter {
	if lim, ok := l.clients[key]; ok {
		return lim
	}
	sinceSweep := now.Sub(l.lastSweep)
	full := len(l.clients) >= l.maxKeys
	if sinceSweep >= l.sweepEvery || (full && sinceSweep >= minSweepGap) {
		l.sweep(now)
		full = len(l.clients) >= l.maxKeys
	}
	if full {
		return l.overflow
	}
	lim := rate.NewLimiter(l.limit, l.burst)
	l.clients[key] = lim
	return lim
}

// sweep forgets every client whose bucket is full again. l.mu must be held.
func (l *RateLimiter[K]) sweep(now time.Time) {
	for key, lim := range l.clients {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.clients, key)
		}
	}
	l.lastSweep = now
}

// ErrRateLimited matches every *RateLimitError with errors.Is.
var ErrRateLimited = errors.New("rate limit exceeded")

// Codes set in extensions.code; they match the codes the GraphQL error
// presenter knows.
const (
	codeRateLimited  = "RATE_LIMITED"
	codeBadUserInput = "BAD_USER_INPUT"
)

// RateLimitError says that a client has made too many requests and may try
// again after RetryAfter.
type RateLimitError struct {
	RetryAfter time.Duration
}

// Error returns a message for the client, such as "rate limit exceeded: try
// again in 7 seconds".
func (e *RateLimitError) Error() string {
	n := RetryAfterSeconds(e.RetryAfter)
	unit := "seconds"
	if n == 1 {
		unit = "second"
	}
	return fmt.Sprintf("rate limit exceeded: try again in %d %s", n, unit)
}

// Is reports whether target is ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// GraphQLError returns e as a GraphQL error with extensions.code
// "RATE_LIMITED" and extensions.retryAfter, the whole seconds to wait.
// Returned from a resolver (wrapped or not), it keeps its code, message and
// extensions through storybot's error presenter.
func (e *RateLimitError) GraphQLError() *gqlerror.Error {
	return &gqlerror.Error{
		Message: e.Error(),
		Extensions: map[string]any{
			"code":       codeRateLimited,
			"retryAfter": RetryAfterSeconds(e.RetryAfter),
		},
	}
}

// RetryAfterSeconds rounds d up to whole seconds, at least 1: the value for
// extensions.retryAfter or an HTTP Retry-After header. Rounding down would
// send clients back too early, and 0 would invite them to retry at once.
func RetryAfterSeconds(d time.Duration) int {
	s := math.Ceil(d.Seconds())
	if s < 1 {
		return 1
	}
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(s)
}
