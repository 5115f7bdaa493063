package customdb

import (
	"context"
	"errors"
	"testing"

	"github.com/authgraph/authgraph/outbound"
)

// A custom database's DSN may name a private or local server, never a
// metadata or link-local address, whatever the driver.
func TestMetadataAddressIsNeverDialed(t *testing.T) {
	for _, dsn := range []string{
		"postgres://u:p@169.254.169.254:5432/db?sslmode=disable&connect_timeout=2",
		"mysql://u:p@169.254.169.254:3306/db",
	} {
		db, err := OpenDB(dsn)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Query(context.Background(), "SELECT 1", nil)
		db.Close()
		if !errors.Is(err, outbound.ErrAddressRefused) {
			t.Errorf("%s: %v, want the address refused", dsn, err)
		}
	}
}
