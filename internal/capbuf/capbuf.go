// Package capbuf is an io.Writer that keeps only the first bytes written:
// what a sandboxed guest prints (a panic, "out of memory") is worth a line in
// an error, and nothing it prints may grow the host's memory.
package capbuf

import "strings"

// Buffer keeps the first Max bytes written and discards the rest; writes
// never fail.
type Buffer struct {
	Max int
	b   []byte
}

func (c *Buffer) Write(p []byte) (int, error) {
	if room := c.Max - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// Reset empties the buffer.
func (c *Buffer) Reset() { c.b = c.b[:0] }

// String is what was kept, trimmed of surrounding space.
func (c *Buffer) String() string { return strings.TrimSpace(string(c.b)) }
