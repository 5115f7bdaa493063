package bulkimport_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/authgraph/authgraph/bulkexport"
	"github.com/authgraph/authgraph/bulkimport"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// BenchmarkImport1M imports IMPORT_BENCH_USERS generated users (default
// 1,000,000) into a fresh Postgres database end to end — the upload
// stored as the job's input, then the runner — and exports them again as
// gzip NDJSON. It runs only with AUTHGRAPH_BENCH_PG=1 (it takes minutes
// and a few GB of disk):
//
//	AUTHGRAPH_BENCH_PG=1 go test -run '^$' -bench Import1M -benchtime 1x -timeout 60m ./bulkimport/
//
// IMPORT_BENCH_NOCOPY=1 writes with ent's INSERTs instead of COPY (the
// path before COPY, and SQLite's). Every row has a bcrypt hash (a few
// precomputed ones, reused), a name, email_verified and both metadata
// objects. Peak RSS is this process's (the server's share; Postgres's own
// memory is not in it).
func BenchmarkImport1M(b *testing.B) {
	if os.Getenv("AUTHGRAPH_BENCH_PG") != "1" {
		b.Skip("set AUTHGRAPH_BENCH_PG=1 to run the 1M-user import benchmark")
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("IMPORT_BENCH_USERS")); err == nil && v > 0 {
		n = v
	}
	path := filepath.Join(b.TempDir(), "users.ndjson")
	if err := writeBenchFile(path, n); err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(path)
	b.Logf("file: %d rows, %d MB", n, st.Size()>>20)
	for b.Loop() {
		b.StopTimer()
		s := apitest.Start(b, testenv.Postgres(b))
		s.StopJobs()
		db := s.Deps.DB.Ent
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		j, err := bulkimport.NewService(db).CreateImport(sys, bulkimport.ImportInput{Connection: conn, File: f})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		stored := time.Since(start)
		r := &bulkimport.Runner{DB: db, Owner: "bench", Dialect: s.Deps.DB.Dialect,
			NoCopy: os.Getenv("IMPORT_BENCH_NOCOPY") == "1"}
		if worked, err := r.RunOnce(context.Background()); !worked || err != nil {
			b.Fatalf("%v %v", worked, err)
		}
		total := time.Since(start)
		got, err := db.Job.Get(sys, j.ID)
		if err != nil || got.Status != job.StatusCompleted || got.Summary["inserted"] != n {
			b.Fatalf("job %+v: %v", got, err)
		}
		b.ReportMetric(float64(n)/total.Seconds(), "rows/s")
		b.ReportMetric(total.Seconds(), "import-s")
		b.ReportMetric(stored.Seconds(), "upload-s")
		b.Logf("import: upload stored in %s, rows written in %s, total %s (%.0f rows/s)",
			stored.Round(time.Millisecond), (total - stored).Round(time.Millisecond), total.Round(time.Millisecond),
			float64(n)/total.Seconds())

		// The export of what was imported, at the default page size and,
		// for comparison at the same load, at EXPORT_BENCH_BATCH users a
		// page when set.
		batches := []int{0}
		if v, err := strconv.Atoi(os.Getenv("EXPORT_BENCH_BATCH")); err == nil && v > 0 {
			batches = append(batches, v, 0)
		}
		for _, batch := range batches {
			start = time.Now()
			cw := &countWriter{}
			res, err := bulkexport.Export(sys, db, cw, bulkexport.Options{Format: bulkexport.JSON, Batch: batch})
			if err != nil || res.Rows != n {
				b.Fatalf("export: %d rows: %v", res.Rows, err)
			}
			took := time.Since(start)
			if batch == 0 {
				b.ReportMetric(took.Seconds(), "export-s")
			}
			b.Logf("export (page %d, 0 = default): %d rows, %d MB gzip, in %s (%.0f rows/s)", batch, n, cw.n>>20,
				took.Round(time.Millisecond), float64(n)/took.Seconds())
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
}

// writeBenchFile writes n NDJSON users to path.
func writeBenchFile(path string, n int) error {
	var hashes []string
	for i := range 4 {
		h, err := bcrypt.GenerateFromPassword([]byte(fmt.Sprintf("password-%d", i)), 10)
		if err != nil {
			return err
		}
		hashes = append(hashes, string(h))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	plans := []string{"free", "gold", "enterprise"}
	for i := range n {
		fmt.Fprintf(w, `{"email":"user%07d@example.com","email_verified":%t,"user_id":"imp%07d","given_name":"Given%d",`+
			`"family_name":"Family","name":"Given%d Family","password_hash":%q,"app_metadata":{"plan":%q,"seats":%d},`+
			`"user_metadata":{"lang":"en","theme":"dark"}}`+"\n",
			i, i%2 == 0, i, i, i, hashes[i%len(hashes)], plans[i%3], i%50)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return io.Discard.Write(p) }
