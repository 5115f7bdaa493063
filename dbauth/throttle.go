package dbauth

import (
	"net/netip"
	"sync"
	"time"
)

// throttle counts events per key in fixed windows, in this process's
// memory: it bounds what forgot-password and signup make Authgraph send to
// one address, and how many such requests one IP may make. (Several nodes
// each apply the limit; login lockout, which must hold across nodes, is
// lockout's, in the database.) Safe for concurrent use.
//
// Memory is bounded by maxThrottleKeys. When the map is full of windows
// still running, a new key is refused rather than an old one forgotten:
// forgetting would let a client that sends many addresses reset its own
// allowance, and sweeping the whole map on every call would let it stall
// every caller behind the lock. Expired windows are swept at most once per
// throttleSweepEvery.
type throttle struct {
	mu        sync.Mutex
	m         map[string]*throttleWindow
	lastSweep time.Time
}

type throttleWindow struct {
	start time.Time
	n     int
}

const (
	maxThrottleKeys    = 100_000
	throttleSweepEvery = time.Minute
)

// ipKeyPrefix starts the keys of per-IP counts.
const ipKeyPrefix = "ip\x00"

// allow counts one event of key and reports whether it is still within
// limit events per window. A key that cannot be stored (the map is full of
// running windows) is refused.
func (t *throttle) allow(now time.Time, limit int, window time.Duration, key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*throttleWindow{}
	}
	w := t.m[key]
	if w == nil && len(t.m) >= maxThrottleKeys {
		t.sweep(now, window)
		if len(t.m) >= maxThrottleKeys {
			return false
		}
	}
	if w == nil || now.Sub(w.start) >= window {
		w = &throttleWindow{start: now}
		t.m[key] = w
	}
	w.n++
	return w.n <= limit
}

// sweep drops expired windows, at most once per throttleSweepEvery.
func (t *throttle) sweep(now time.Time, window time.Duration) {
	if now.Sub(t.lastSweep) < throttleSweepEvery {
		return
	}
	t.lastSweep = now
	for k, w := range t.m {
		if now.Sub(w.start) >= window {
			delete(t.m, k)
		}
	}
}

// ipThrottleKey is the per-IP key of ip. IPv6 addresses count per /64:
// one subscriber usually holds a whole /64, and counting each address
// would give them 2^64 allowances.
func ipThrottleKey(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		if p, err := a.Prefix(64); err == nil {
			return ipKeyPrefix + p.String()
		}
	}
	return ipKeyPrefix + ip
}
