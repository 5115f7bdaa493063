package outbound

import (
	"context"
	"net"
	"syscall"
	"time"
)

// ServiceDialer dials the non-HTTP services a connection names: an LDAP
// directory, a custom database. Those live on private networks by nature
// (a directory on the Internet is the exception), so loopback and private
// addresses are allowed; what is refused is what no directory or database
// is: link-local and cloud metadata addresses, documentation, multicast and
// reserved ranges, judged after DNS resolution on the address about to be
// connected to, as for HTTP. Unix sockets (a database on the same host)
// are allowed.
type ServiceDialer struct {
	net.Dialer
}

// NewServiceDialer returns a ServiceDialer with the given connect timeout.
func NewServiceDialer(timeout time.Duration) *ServiceDialer {
	p := policy{allowPrivate: true}
	d := &ServiceDialer{}
	d.Timeout = timeout
	d.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if network == "unix" {
			return nil
		}
		return p.control(ctx, network, address, c)
	}
	return d
}

// DialTimeout dials with its own timeout (lib/pq's Dialer interface).
func (d *ServiceDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	c := *d
	c.Timeout = timeout
	return c.Dial(network, address)
}
