package bulkimport

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// MaxFileBytes caps a users file as imported: the upload's own cap (1 GiB,
// the server's body limit for imports), and, for a gzip-compressed file,
// its size once decompressed, so a small compressed file that inflates
// without end (a gzip bomb) is refused after at most this much is read and
// stored, instead of filling the database's disk.
const MaxFileBytes = 1 << 30

// maxDecompressed is MaxFileBytes; tests lower it.
var maxDecompressed int64 = MaxFileBytes

// errDecompressedTooBig is a gzip file over maxDecompressed once
// decompressed.
var errDecompressedTooBig = errors.New("decompressed users file too big")

// gzipMagic opens every gzip stream (RFC 1952).
var gzipMagic = []byte{0x1f, 0x8b}

// maybeGunzip returns f decompressed when it starts with gzip's magic bytes
// (whatever its name or content type: REST, GraphQL and the CLI all give a
// bare stream), else f as it is.
func maybeGunzip(f io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(f, 64<<10)
	head, err := br.Peek(2)
	if err != nil && err != io.EOF {
		return nil, err
	}
	if len(head) < 2 || head[0] != gzipMagic[0] || head[1] != gzipMagic[1] {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("%w: not a valid gzip file: %v", ErrFormat, err)
	}
	return &gunzipReader{zr: zr, left: maxDecompressed}, nil
}

// gunzipReader decompresses, failing once more than its budget comes out
// and turning a corrupt stream into ErrFormat.
type gunzipReader struct {
	zr   *gzip.Reader
	left int64
}

func (g *gunzipReader) Read(p []byte) (int, error) {
	if g.left < 0 {
		return 0, errDecompressedTooBig
	}
	if int64(len(p)) > g.left+1 {
		p = p[:g.left+1]
	}
	n, err := g.zr.Read(p)
	g.left -= int64(n)
	if g.left < 0 {
		return 0, errDecompressedTooBig
	}
	if err != nil && err != io.EOF {
		if errors.Is(err, errDecompressedTooBig) {
			return n, err
		}
		return n, fmt.Errorf("%w: not a valid gzip file: %v", ErrFormat, err)
	}
	return n, err
}
