// Package jobstore holds what the import and export job runners share:
// the lease that fences a claimed job, so that a runner whose claim was
// taken over (it stalled past its lease) writes nothing more.
package jobstore

import (
	"context"
	"errors"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/ent/predicate"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// ErrLeaseLost ends a run whose claim another runner took over.
var ErrLeaseLost = errors.New("the job's lease was taken over by another runner")

// Held selects job id while owner's claim on it holds.
func Held(id pulid.ID, owner string) predicate.Job {
	return job.And(job.ID(id), job.LeaseOwner(owner), job.StatusEQ(job.StatusProcessing))
}

// Renew extends owner's lease on job id by ttl, or returns ErrLeaseLost.
// With a transaction's client it also locks the job's row, so that what
// the transaction writes next commits only while the claim holds.
func Renew(ctx context.Context, db *ent.Client, id pulid.ID, owner string, ttl time.Duration) error {
	n, err := db.Job.Update().Where(Held(id, owner)).SetLeaseUntil(time.Now().Add(ttl)).Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrLeaseLost
	}
	return nil
}
