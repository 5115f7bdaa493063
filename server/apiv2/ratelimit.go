package apiv2

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimit bounds each client's request rate (a token bucket per client
// id and token subject, per node). Every answer carries Auth0's X-RateLimit-Limit,
// X-RateLimit-Remaining and X-RateLimit-Reset (Unix seconds when the
// bucket is full again); a refused request gets 429 with Retry-After, which
// the Auth0 SDKs honour by waiting and retrying.
type RateLimit struct {
	// PerSecond is the sustained rate; 0 takes DefaultRatePerSecond, a
	// negative value turns limiting off.
	PerSecond float64
	// Burst is the bucket's size; 0 takes twice PerSecond.
	Burst int
}

// DefaultRatePerSecond is generous for an administrator's backend and
// still stops a runaway loop from starving the node's logins.
const DefaultRatePerSecond = 500

// maxBuckets bounds the limiter's memory: buckets idle long enough to be
// full again are dropped first.
const maxBuckets = 10000

type bucket struct {
	tokens float64
	last   time.Time
}

type limiter struct {
	rate  float64
	burst float64
	mu    sync.Mutex
	b     map[string]*bucket
	now   func() time.Time
}

func newLimiter(c RateLimit) *limiter {
	if c.PerSecond < 0 {
		return nil
	}
	if c.PerSecond == 0 {
		c.PerSecond = DefaultRatePerSecond
	}
	if c.Burst <= 0 {
		c.Burst = int(math.Ceil(2 * c.PerSecond))
	}
	return &limiter{rate: c.PerSecond, burst: float64(c.Burst), b: map[string]*bucket{}, now: time.Now}
}

// allow takes a token for key and sets the rate-limit headers; false means
// the request must be refused (its Retry-After is set).
func (l *limiter) allow(w http.ResponseWriter, key string) bool {
	if l == nil {
		return true
	}
	now := l.now()
	l.mu.Lock()
	b := l.b[key]
	if b == nil {
		if len(l.b) >= maxBuckets {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.b[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	ok := b.tokens >= 1
	if ok {
		b.tokens--
	}
	remaining := int(b.tokens)
	full := now.Add(time.Duration((l.burst - b.tokens) / l.rate * float64(time.Second)))
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	l.mu.Unlock()

	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(int(l.burst)))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(remaining, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(full.UnixNano())/1e9)), 10))
	if !ok {
		h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	}
	return ok
}

// evict drops buckets that are full again (idle clients); if none is, it
// drops the longest idle one. Called with mu held.
func (l *limiter) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, b := range l.b {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.b, k)
			continue
		}
		if oldestKey == "" || b.last.Before(oldest) {
			oldestKey, oldest = k, b.last
		}
	}
	if len(l.b) >= maxBuckets {
		delete(l.b, oldestKey)
	}
}
