package dbauth

import (
	"fmt"
	"testing"
	"time"
)

// A full throttle refuses new keys instead of forgetting running windows:
// one client sending many distinct addresses must not reset its own
// allowance, and memory stays bounded.
func TestThrottleFullRefusesNewKeysAndKeepsCounts(t *testing.T) {
	var th throttle
	now := time.Now()
	ip := ipThrottleKey("192.0.2.7")
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
	if th.allow(now, 5, time.Hour, "address\x00new@example.com") {
		t.Fatal("a new key was stored in a full map of running windows")
	}
	if !th.allow(now, 5, time.Hour, "address\x00u1@example.com") {
		t.Fatal("a key already counted keeps counting")
	}
	// Once the windows have run out, a sweep makes room.
	later := now.Add(time.Hour)
	if !th.allow(later, 5, time.Hour, "address\x00new@example.com") {
		t.Fatal("expired windows were not swept")
	}
	if len(th.m) > 2 {
		t.Fatalf("%d keys after the sweep", len(th.m))
	}
}

func TestIPThrottleKeyGroupsIPv6By64(t *testing.T) {
	a, b := ipThrottleKey("2001:db8:1:2:aaaa::1"), ipThrottleKey("2001:db8:1:2:bbbb::9")
	if a != b {
		t.Fatalf("one /64, two keys: %q %q", a, b)
	}
	if ipThrottleKey("2001:db8:1:3::1") == a {
		t.Fatal("another /64 shares the key")
	}
	if ipThrottleKey("192.0.2.1") == ipThrottleKey("192.0.2.2") {
		t.Fatal("IPv4 addresses are counted each")
	}
}
