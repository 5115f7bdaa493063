package bulkexport

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"testing"
)

// BenchmarkGzipLevels compresses 20,000 export lines (the JSON export's
// shape, with varied names and ids) at each gzip level, for the choice of
// Export's level: MB/s of NDJSON in, and bytes per user out.
//
//	go test -run '^$' -bench GzipLevels ./bulkexport/
func BenchmarkGzipLevels(b *testing.B) {
	var in bytes.Buffer
	for i := range 20_000 {
		fmt.Fprintf(&in, `{"user_id":"auth0|imp%07d","email":"user%07d@example.com","email_verified":%t,"name":"Given%d Family",`+
			`"given_name":"Given%d","family_name":"Family","nickname":"user%07d","blocked":false,`+
			`"created_at":"2026-12-06T10:%02d:%02d.%03dZ","updated_at":"2026-12-06T10:%02d:%02d.%03dZ",`+
			`"identities":[{"connection":"Username-Password-Authentication","user_id":"imp%07d","provider":"auth0","isSocial":false}],`+
			`"app_metadata":{"plan":"gold","seats":%d},"user_metadata":{"lang":"en","theme":"dark"}}`+"\n",
			i, i, i%2 == 0, i, i, i, i/3600%60, i/60%60, i%1000, i/3600%60, i/60%60, (i*7)%1000, i, i%50)
	}
	data := in.Bytes()
	for _, level := range []int{gzip.HuffmanOnly, gzip.BestSpeed, 2, 3, 4, gzip.DefaultCompression} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			var out int64
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				cw := &counter{}
				zw, _ := gzip.NewWriterLevel(cw, level)
				if _, err := zw.Write(data); err != nil {
					b.Fatal(err)
				}
				if err := zw.Close(); err != nil {
					b.Fatal(err)
				}
				out = cw.n
			}
			b.ReportMetric(float64(out)/20_000, "gz-bytes/user")
		})
	}
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return io.Discard.Write(p) }
