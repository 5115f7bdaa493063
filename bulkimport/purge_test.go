package bulkimport_test

import (
	"context"
	"testing"
	"time"

	"github.com/authgraph/authgraph/bulkimport"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/joberror"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/jobstore"
)

// TestPurgeDeletesJobErrors: a finished import past the jobs' retention is
// deleted with its row errors (personal data); a recent one keeps them.
func TestPurgeDeletesJobErrors(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *ent.Client) {
		var ids []pulid.ID
		for range 2 {
			j := newJob(t, db, file(30, false))
			if worked, err := (&bulkimport.Runner{DB: db, Owner: "p"}).RunOnce(context.Background()); !worked || err != nil {
				t.Fatalf("%v %v", worked, err)
			}
			if n := db.JobError.Query().Where(joberror.JobRef(j.ID)).CountX(sys); n == 0 {
				t.Fatal("the file has refused rows")
			}
			ids = append(ids, j.ID)
		}
		old, recent := ids[0], ids[1]
		db.Job.UpdateOneID(old).SetFinishedAt(time.Now().Add(-jobstore.Retention - time.Hour)).ExecX(sys)
		n, err := jobstore.Purge(context.Background(), db)
		if err != nil || n != 1 {
			t.Fatalf("purged %d: %v", n, err)
		}
		if _, err := db.Job.Get(sys, old); !ent.IsNotFound(err) {
			t.Fatalf("old job: %v", err)
		}
		if n := db.JobError.Query().Where(joberror.JobRef(old)).CountX(sys); n != 0 {
			t.Fatalf("%d errors of the purged job left", n)
		}
		if n := db.JobError.Query().Where(joberror.JobRef(recent)).CountX(sys); n == 0 {
			t.Fatal("the recent job's errors were purged")
		}
	})
}
