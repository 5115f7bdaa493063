package outbound

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// FailureCache remembers failed requests for a short time (negative
// cache). The zero value is ready to use, with DefaultFailureTTL.
type FailureCache struct {
	// TTL is how long a failure is remembered (DefaultFailureTTL).
	TTL time.Duration
	// Now is for tests.
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]failure
}

type failure struct {
	err   error
	until time.Time
}

// maxFailures bounds the cache: past it, expired entries are swept and, if
// it is still full, an arbitrary half is forgotten.
const maxFailures = 4096

func (c *FailureCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *FailureCache) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return DefaultFailureTTL
}

// recent returns an ErrRecentFailure wrapping the remembered failure of
// key, or nil.
func (c *FailureCache) recent(key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.entries[key]
	if !ok {
		return nil
	}
	now := c.now()
	if !now.Before(f.until) {
		delete(c.entries, key)
		return nil
	}
	return fmt.Errorf("%w (for %s more): %w", ErrRecentFailure, f.until.Sub(now).Round(time.Second), f.err)
}

func (c *FailureCache) record(key string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.entries == nil {
		c.entries = map[string]failure{}
	}
	if len(c.entries) >= maxFailures {
		for k, f := range c.entries {
			if !now.Before(f.until) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries { // map order is random: drops an arbitrary half
			if len(c.entries) < maxFailures/2 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = failure{err: err, until: now.Add(c.ttl())}
}

// failureKey identifies a request for the cache: method and URL without
// query or fragment (which may carry codes or tokens, and whose variants
// would defeat the cache).
func failureKey(req *http.Request) string { return req.Method + " " + redact(req) }

func redact(req *http.Request) string {
	u := *req.URL
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
