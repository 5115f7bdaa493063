package bulkimport

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestRowCap checks that a row over MaxRowBytes refuses the file instead of
// being held in memory whole, in both file forms, and that rows under the
// cap still pass.
func TestRowCap(t *testing.T) {
	row := func(n int) string {
		return `{"email":"a@x.io","user_metadata":{"x":"` + strings.Repeat("a", n) + `"}}`
	}
	for _, array := range []bool{true, false} {
		build := func(rows ...string) []byte {
			if array {
				return []byte("[" + strings.Join(rows, ",") + "]")
			}
			return []byte(strings.Join(rows, "\n"))
		}
		read := func(data []byte) (int, error) {
			rr, err := newRowReader(bytes.NewReader(data))
			if err != nil {
				return 0, err
			}
			n := 0
			for {
				if _, err := rr.next(); err == io.EOF {
					return n, nil
				} else if err != nil {
					return n, err
				}
				n++
			}
		}
		if n, err := read(build(row(10), row(MaxRowBytes-1000), row(10))); err != nil || n != 3 {
			t.Fatalf("array=%v: rows under the cap: n=%d err=%v", array, n, err)
		}
		n, err := read(build(row(10), row(MaxRowBytes+100), row(10)))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "over 1 MiB") || n != 1 {
			t.Fatalf("array=%v: oversized row: n=%d err=%v", array, n, err)
		}
		// Far over the cap: refused without reading the whole row.
		big := build(row(10), row(8*MaxRowBytes))
		cr := &countingReader{r: bytes.NewReader(big)}
		rr, _ := newRowReader(cr)
		for err == nil || !errors.Is(err, ErrFormat) {
			if _, err = rr.next(); err == io.EOF {
				t.Fatalf("array=%v: huge row accepted", array)
			}
		}
		if cr.n > 2*MaxRowBytes {
			t.Errorf("array=%v: read %d bytes before refusing", array, cr.n)
		}
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
