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
		rr := &rowReader{dec: json.NewDecoder(br), array: b == '['}
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
		return nil, fmt.Errorf("%w: row %d: %v", ErrFormat, r.n, err)
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
