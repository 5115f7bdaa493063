package outbound

import (
	"errors"
	"net"
	"testing"
	"time"
)

// A directory or database may be private or on this host; a metadata,
// link-local or reserved address never is.
func TestServiceDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	d := NewServiceDialer(2 * time.Second)
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("loopback service refused: %v", err)
	}
	c.Close()
	for _, addr := range []string{"169.254.169.254:389", "[fe80::1]:5432", "[fd00:ec2::254]:80", "0.0.0.0:3306", "[::ffff:169.254.169.254]:636"} {
		if _, err := d.DialTimeout("tcp", addr, time.Second); !errors.Is(err, ErrAddressRefused) {
			t.Errorf("%s: %v, want ErrAddressRefused", addr, err)
		}
	}
}
