package dbauth

import (
	"strings"
	"sync"
	"time"
)

// throttle counts events per key in fixed windows, in this process's
// memory: it bounds what forgot-password and signup make Authgraph send to
// one address, and how many such requests one IP may make. (Several nodes
// each apply the limit; login lockout, which must hold across nodes, is
// lockout's, in the database.) Safe for concurrent use.
type throttle struct {
	mu sync.Mutex
	m  map[string]*throttleWindow
}

type throttleWindow struct {
	start time.Time
	n     int
}

// maxThrottleKeys bounds the map; beyond it, expired windows are dropped,
// and if that is not enough the address counts start over. IP counts are
// kept: dropping them would let one client that sends many addresses
// reset its own allowance (and allowMail counts no address for an IP over
// its limit, so one IP cannot fill the map either).
const maxThrottleKeys = 100_000

// ipKeyPrefix starts the keys of per-IP counts, which eviction keeps.
const ipKeyPrefix = "ip\x00"

// allow counts one event of each key and reports whether every key is
// still within limit events per window. Every key is counted, allowed or
// not, so a refused request still uses up its IP's allowance.
func (t *throttle) allow(now time.Time, limit int, window time.Duration, keys ...string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*throttleWindow{}
	}
	if len(t.m) >= maxThrottleKeys {
		for k, w := range t.m {
			if now.Sub(w.start) >= window {
				delete(t.m, k)
			}
		}
		if len(t.m) >= maxThrottleKeys {
			for k := range t.m {
				if !strings.HasPrefix(k, ipKeyPrefix) {
					delete(t.m, k)
				}
			}
		}
	}
	ok := true
	for _, k := range keys {
		w := t.m[k]
		if w == nil || now.Sub(w.start) >= window {
			w = &throttleWindow{start: now}
			t.m[k] = w
		}
		w.n++
		if w.n > limit {
			ok = false
		}
	}
	return ok
}
