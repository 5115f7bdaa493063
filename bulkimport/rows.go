package bulkimport

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// rowReader yields the rows of an Auth0 users file, one at a time, from a
// JSON array or from NDJSON (any whitespace between the values), never
// holding more than one row and the decoder's buffer in memory.
type rowReader struct {
	dec   *json.Decoder
	array bool
	done  bool
	// n counts the rows read.
	n int
}

// ErrFormat is an input that is not a JSON array or a stream of JSON
// values; the whole file is refused.
var ErrFormat = errors.New("bulkimport: malformed users file")

// MaxRowBytes caps one row of the file (Auth0's whole file is 500 KB): the
// decoder holds a row whole, so without a cap one row the size of the body
// limit would be held in memory several times over.
const MaxRowBytes = 1 << 20

// rowChunk is the most the decoder is given per read, which bounds how far
// past the cap it can buffer before the cap is noticed.
const rowChunk = 64 << 10

var errRowTooBig = errors.New("row too big")

// capReader feeds the decoder and fails once the decoder holds more than a
// row's cap (plus one read) of unconsumed input, so a huge row is refused
// before it is read whole; next checks the exact cap on the decoded row.
type capReader struct {
	r    io.Reader
	dec  *json.Decoder
	read int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.dec != nil && c.read-c.dec.InputOffset() > MaxRowBytes+rowChunk {
		return 0, errRowTooBig
	}
	if len(p) > rowChunk {
		p = p[:rowChunk]
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}

func newRowReader(r io.Reader) (*rowReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return &rowReader{done: true}, nil
		}
		if err != nil {
			return nil, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case 0xEF: // a UTF-8 byte order mark, as some editors write
			if bom, _ := br.Peek(2); bytes.Equal(bom, []byte{0xBB, 0xBF}) {
				_, _ = br.Discard(2)
				continue
			}
		}
		if err := br.UnreadByte(); err != nil {
			return nil, err
		}
		cr := &capReader{r: br}
		rr := &rowReader{dec: json.NewDecoder(cr), array: b == '['}
		cr.dec = rr.dec
		rr.dec.UseNumber()
		if rr.array {
			if _, err := rr.dec.Token(); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrFormat, err)
			}
		} else if b != '{' {
			return nil, fmt.Errorf("%w: expected a JSON array or JSON objects, one per line", ErrFormat)
		}
		return rr, nil
	}
}

// next returns the next row as raw JSON, or io.EOF after the last one.
func (r *rowReader) next() (json.RawMessage, error) {
	if r.done {
		return nil, io.EOF
	}
	if r.array {
		if !r.dec.More() {
			if _, err := r.dec.Token(); err != nil { // the closing ]
				return nil, fmt.Errorf("%w: %v", ErrFormat, err)
			}
			r.done = true
			return nil, r.trailing()
		}
	}
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		if err == io.EOF && !r.array {
			r.done = true
			return nil, io.EOF
		}
		if errors.Is(err, errDecompressedTooBig) || errors.Is(err, ErrFormat) {
			return nil, err // from the gzip reader (gzip.go)
		}
		if errors.Is(err, errRowTooBig) {
			return nil, fmt.Errorf("%w: row %d is over %d MiB", ErrFormat, r.n, MaxRowBytes>>20)
		}
		return nil, fmt.Errorf("%w: row %d: %v", ErrFormat, r.n, err)
	}
	if len(raw) > MaxRowBytes {
		return nil, fmt.Errorf("%w: row %d is over %d MiB", ErrFormat, r.n, MaxRowBytes>>20)
	}
	r.n++
	return raw, nil
}

// trailing refuses anything but whitespace after the array.
func (r *rowReader) trailing() error {
	var extra json.RawMessage
	if err := r.dec.Decode(&extra); err != io.EOF {
		return fmt.Errorf("%w: data after the array", ErrFormat)
	}
	return io.EOF
}
