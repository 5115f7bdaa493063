package bulkexport_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/bulkexport"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// TestMaxActiveUnderConcurrency creates many export jobs at once on
// Postgres (SQLite runs write transactions one at a time): the count of
// active jobs and the insert are one atomic step, so no more than
// MaxActive are created and the rest are refused with ErrTooManyJobs.
func TestMaxActiveUnderConcurrency(t *testing.T) {
	s := apitest.Start(t, testenv.Postgres(t))
	s.StopJobs() // the jobs stay pending
	db := s.Deps.DB.Ent
	ctx := authz.NewContext(context.Background(), &authz.Viewer{Subject: "tester", Scopes: []string{"read:users"}})
	const n = 16
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		created, refused int
		start            = make(chan struct{})
		opts             = bulkexport.Options{Format: bulkexport.JSON, Fields: []bulkexport.Field{{Name: "user_id"}}}
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := bulkexport.CreateJob(ctx, db, "tester", opts)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case errors.Is(err, bulkexport.ErrTooManyJobs):
				refused++
			default:
				t.Errorf("CreateJob: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	active := db.Job.Query().Where(job.TypeEQ(job.TypeUsersExport)).CountX(authz.SystemContext(ctx))
	if created != bulkexport.MaxActive || refused != n-bulkexport.MaxActive || active != bulkexport.MaxActive {
		t.Fatalf("%d created, %d refused, %d stored; want %d created", created, refused, active, bulkexport.MaxActive)
	}
}
