package bulkexport_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/bulkexport"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// BenchmarkExport measures export throughput (users/s) on Postgres with
// EXPORT_BENCH_USERS users (default 100,000), each with a database
// identity, a bcrypt-length password hash and both metadata objects:
//
//	go test -run '^$' -bench Export -benchtime 3x ./bulkexport/
//
// Seeding is not timed. Each iteration writes the whole export (gzip) to
// io.Discard; rows/s is reported.
func BenchmarkExport(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("EXPORT_BENCH_USERS")); err == nil && v > 0 {
		n = v
	}
	s := apitest.Start(b, testenv.Postgres(b))
	ctx := authz.SystemContext(context.Background())
	db := s.Deps.DB.Ent
	conn := db.Connection.Query().Where(connection.Name("Username-Password-Authentication")).OnlyX(ctx).ID
	hash := "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
	start := time.Now()
	const batch = 1000
	for i := 0; i < n; i += batch {
		m := min(batch, n-i)
		us := make([]*ent.UserCreate, m)
		for k := range m {
			j := i + k
			us[k] = db.User.Create().SetUserID(fmt.Sprintf("auth0|bench%07d", j)).SetEmail(fmt.Sprintf("bench%07d@example.com", j)).
				SetEmailVerified(j%2 == 0).SetName(fmt.Sprintf("Bench User %d", j)).SetGivenName("Bench").SetFamilyName("User").
				SetAppMetadata(map[string]any{"plan": []string{"free", "gold", "enterprise"}[j%3], "seats": j % 50}).
				SetUserMetadata(map[string]any{"lang": "en", "theme": "dark"})
		}
		created := db.User.CreateBulk(us...).SaveX(ctx)
		ids := make([]*ent.IdentityCreate, m)
		for k, u := range created {
			ids[k] = db.Identity.Create().SetOwnerID(u.ID).SetConnectionID(conn).SetProvider("auth0").
				SetUpstreamID(fmt.Sprintf("bench%07d", i+k)).SetEmailLower(*u.Email).SetPasswordHash(hash)
		}
		db.Identity.CreateBulk(ids...).SaveX(ctx)
	}
	if _, err := s.Deps.DB.SQL.ExecContext(context.Background(), "ANALYZE"); err != nil {
		b.Logf("ANALYZE: %v", err)
	}
	b.Logf("seeded %d users in %s", n, time.Since(start).Round(time.Millisecond))
	for _, tc := range []struct {
		name string
		o    bulkexport.Options
	}{
		{"json", bulkexport.Options{Format: bulkexport.JSON}},
		{"csv", bulkexport.Options{Format: bulkexport.CSV}},
		{"json+hashes", bulkexport.Options{Format: bulkexport.JSON, IncludePasswordHashes: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var rows int
			b.ResetTimer()
			for b.Loop() {
				cw := &countWriter{}
				res, err := bulkexport.Export(ctx, db, cw, tc.o)
				if err != nil || res.Rows != n {
					b.Fatalf("%d rows: %v", res.Rows, err)
				}
				rows += res.Rows
				b.ReportMetric(float64(cw.n)/float64(n), "gz-bytes/user")
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return io.Discard.Write(p) }
