package outbound

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
)

// Address classes.
type class int

const (
	public  class = iota
	private       // reachable with AllowPrivateNetwork
	refused       // never reachable
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

var (
	// alwaysRefused are addresses no connection may reach: they are not
	// real servers, or they are the host's or the cloud's own services.
	alwaysRefused = prefixes(
		"0.0.0.0/8",          // "this network", unspecified
		"169.254.0.0/16",     // link-local; cloud metadata 169.254.169.254
		"100.100.100.200/32", // Alibaba Cloud metadata (inside CGNAT)
		"168.63.129.16/32",   // Azure host services (WireServer)
		"192.0.0.0/24",       // IETF protocol assignments
		"192.0.2.0/24",       // documentation
		"198.51.100.0/24",    // documentation
		"203.0.113.0/24",     // documentation
		"198.18.0.0/15",      // benchmarking
		"224.0.0.0/4",        // multicast
		"240.0.0.0/4",        // reserved, broadcast
		"::/128",             // unspecified
		"::/96",              // IPv4-compatible (deprecated)
		"100::/64",           // discard
		"2001::/32",          // Teredo: hides the IPv4 address it reaches
		"2001:db8::/32",      // documentation
		"fe80::/10",          // link-local
		"ff00::/8",           // multicast
		"fd00:ec2::254/128",  // AWS metadata over IPv6 (inside ULA)
	)
	// privateNets are reachable only with AllowPrivateNetwork.
	privateNets = prefixes(
		"127.0.0.0/8", "::1/128", // loopback
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", // RFC 1918
		"100.64.0.0/10", // CGNAT (RFC 6598)
		"fc00::/7",      // unique local
	)
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	nat64l = netip.MustParsePrefix("64:ff9b:1::/48")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// classify says which class addr belongs to. IPv4 addresses embedded in
// IPv6 ones (mapped, NAT64, 6to4) are judged as the IPv4 address they
// reach.
func classify(addr netip.Addr) class {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() {
		return refused
	}
	if addr == netip.IPv6Loopback() { // before ::/96 below
		return private
	}
	if addr.Is6() {
		b := addr.As16()
		switch {
		case nat64.Contains(addr):
			return classify(netip.AddrFrom4([4]byte(b[12:16])))
		case sixTo4.Contains(addr):
			return classify(netip.AddrFrom4([4]byte(b[2:6])))
		case nat64l.Contains(addr):
			return refused // local-use NAT64: where it leads is not knowable here
		}
	}
	for _, p := range alwaysRefused {
		if p.Contains(addr) {
			return refused
		}
	}
	for _, p := range privateNets {
		if p.Contains(addr) {
			return private
		}
	}
	if !addr.IsGlobalUnicast() {
		return refused
	}
	return public
}

// policy decides which dialed addresses a transport accepts.
type policy struct {
	allowPrivate bool
	// privateOnly refuses public addresses (plain http).
	privateOnly bool
	// public, for tests, treats some loopback addresses as public.
	public func(netip.AddrPort) bool
}

func (p policy) check(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrAddressRefused, address)
	}
	c := classify(ap.Addr())
	if p.public != nil && p.public(ap) {
		c = public
	}
	switch {
	case c == refused:
		return fmt.Errorf("%w: %s is a reserved, link-local or metadata address", ErrAddressRefused, ap.Addr())
	case c == private && !p.allowPrivate:
		return fmt.Errorf("%w: %s is a private or loopback address (the connection option allow_private_network permits it)", ErrAddressRefused, ap.Addr())
	case c == public && p.privateOnly:
		return fmt.Errorf("%w: plain http to the public address %s (use https)", ErrAddressRefused, ap.Addr())
	}
	return nil
}

// control is the dialer's hook: it runs after DNS resolution, on the very
// address about to be connected to.
func (p policy) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("%w: network %s", ErrAddressRefused, network)
	}
	return p.check(address)
}
