package jobstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/ent/jobchunk"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/jobstore"
	"github.com/authgraph/authgraph/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestFencedChunkWriter(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := authz.SystemContext(context.Background())
		db := s.Deps.DB.Ent
		j := db.Job.Create().SetType(job.TypeUsersExport).SetStatus(job.StatusProcessing).SetLeaseOwner("a").
			SetLeaseUntil(time.Now().Add(time.Minute)).SaveX(ctx)
		writer := func(owner string) *jobstore.ChunkWriter {
			return &jobstore.ChunkWriter{Ctx: ctx, DB: db, Job: j.ID, Kind: jobchunk.KindOutput,
				Fence: func(tx *ent.Client) error { return jobstore.Renew(ctx, tx, j.ID, owner, time.Minute) }}
		}
		data := bytes.Repeat([]byte("0123456789"), jobstore.ChunkSize/4)
		w := writer("a")
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		var got []byte
		for _, c := range db.JobChunk.Query().Where(jobchunk.JobRef(j.ID)).Order(ent.Asc(jobchunk.FieldSeq)).AllX(ctx) {
			got = append(got, c.Data...)
		}
		if !bytes.Equal(got, data) || w.Size() != int64(len(data)) {
			t.Fatalf("stored %d bytes (size %d), wrote %d", len(got), w.Size(), len(data))
		}
		before := db.JobChunk.Query().Where(jobchunk.JobRef(j.ID)).CountX(ctx)
		if before != 3 {
			t.Fatalf("%d chunks for 2.5 MiB", before)
		}

		// b took the job over: a's next chunk is refused and not stored.
		db.Job.UpdateOneID(j.ID).SetLeaseOwner("b").ExecX(ctx)
		stale := writer("a")
		if _, err := stale.Write(data[:jobstore.ChunkSize]); !errors.Is(err, jobstore.ErrLeaseLost) {
			t.Fatalf("write after the takeover: %v", err)
		}
		if n := db.JobChunk.Query().Where(jobchunk.JobRef(j.ID)).CountX(ctx); n != before {
			t.Fatalf("%d chunks after a refused write, were %d", n, before)
		}
		if err := jobstore.Renew(ctx, db, j.ID, "a", time.Minute); !errors.Is(err, jobstore.ErrLeaseLost) {
			t.Fatalf("renewing a lost lease: %v", err)
		}
		if err := jobstore.Renew(ctx, db, j.ID, "b", time.Minute); err != nil {
			t.Fatalf("renewing the holder's lease: %v", err)
		}
	})
}
