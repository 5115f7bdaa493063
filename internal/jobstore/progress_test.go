package jobstore

import (
	"testing"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/job"
)

func TestProgress(t *testing.T) {
	now := time.Now()
	started := now.Add(-10 * time.Second)
	for _, tc := range []struct {
		name    string
		j       ent.Job
		pct     int
		left    int
		hasLeft bool
	}{
		{"pending, total unknown", ent.Job{Status: job.StatusPending}, 0, 0, false},
		{"a quarter in 10 s", ent.Job{Status: job.StatusProcessing, StartedAt: &started, RowsDone: 25, TotalRows: 100}, 25, 30, true},
		// 10 s for 3 rows, 1 left: 3.33 s, rounded.
		{"rounded estimate", ent.Job{Status: job.StatusProcessing, StartedAt: &started, RowsDone: 3, TotalRows: 4}, 75, 3, true},
		// Every row committed, completion not yet: not 100.
		{"all rows, not completed", ent.Job{Status: job.StatusProcessing, StartedAt: &started, RowsDone: 100, TotalRows: 100}, 99, 0, false},
		{"completed", ent.Job{Status: job.StatusCompleted, RowsDone: 100, TotalRows: 100}, 100, 0, false},
		{"completed with no rows", ent.Job{Status: job.StatusCompleted}, 100, 0, false},
		{"failed half way", ent.Job{Status: job.StatusFailed, StartedAt: &started, RowsDone: 50, TotalRows: 100}, 50, 0, false},
	} {
		pct, left, has := Progress(&tc.j, now)
		if pct != tc.pct || left != tc.left || has != tc.hasLeft {
			t.Errorf("%s: %d%% %ds %v, want %d%% %ds %v", tc.name, pct, left, has, tc.pct, tc.left, tc.hasLeft)
		}
	}
}
