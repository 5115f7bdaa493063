package jobstore

import (
	"context"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/ent/jobchunk"
	"github.com/authgraph/authgraph/ent/joberror"
)

// Retention is how long a finished job (import or export) is kept, with
// its row errors: an import's refused rows hold personal data (masked
// rows with their emails and names), which must not outlive the job's use.
const Retention = 30 * 24 * time.Hour

// Purge deletes the jobs finished (completed or failed) more than
// Retention ago, with their row errors and any chunks left, in one
// transaction; it returns how many jobs it deleted. Every node may run it:
// the deletes are idempotent. The errors and chunks are deleted
// explicitly, not left to the foreign keys' cascade, so that a database
// without enforced foreign keys keeps no orphans either.
func Purge(ctx context.Context, db *ent.Client) (int, error) {
	sys := authz.SystemContext(ctx)
	ids, err := db.Job.Query().Where(job.StatusIn(job.StatusCompleted, job.StatusFailed),
		job.FinishedAtLT(time.Now().Add(-Retention))).Limit(1000).IDs(sys)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	tx, err := db.Tx(sys)
	if err != nil {
		return 0, err
	}
	if _, err := tx.JobError.Delete().Where(joberror.JobRefIn(ids...)).Exec(sys); err != nil {
		_ = tx.Rollback()
		return 0, err
	}
	if _, err := tx.JobChunk.Delete().Where(jobchunk.JobRefIn(ids...)).Exec(sys); err != nil {
		_ = tx.Rollback()
		return 0, err
	}
	n, err := tx.Job.Delete().Where(job.IDIn(ids...)).Exec(sys)
	if err != nil {
		_ = tx.Rollback()
		return 0, err
	}
	return n, tx.Commit()
}
