package dbauth

import (
	"fmt"
	"testing"
	"time"
)

// Filling the throttle with addresses must not reset an IP's count: one
// client sending many distinct addresses would otherwise restore its own
// allowance.
func TestThrottleKeepsIPCountsWhenFull(t *testing.T) {
	var th throttle
	now := time.Now()
	ip := ipKeyPrefix + "192.0.2.7"
	for range 3 {
		th.allow(now, 2, time.Hour, ip)
	}
	if th.allow(now, 2, time.Hour, ip) {
		t.Fatal("the IP is over its limit")
	}
	for i := range maxThrottleKeys + 10 {
		th.allow(now, 5, time.Hour, fmt.Sprintf("address\x00u%d@example.com", i))
	}
	if len(th.m) > maxThrottleKeys {
		t.Fatalf("%d keys kept, bound %d", len(th.m), maxThrottleKeys)
	}
	if th.allow(now, 2, time.Hour, ip) {
		t.Fatal("filling the map with addresses reset the IP's count")
	}
	if !th.allow(now.Add(time.Hour), 2, time.Hour, ip) {
		t.Fatal("a new window starts over")
	}
}
