package jobstore

import (
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/job"
)

// Progress is what a job's readers show of its advance: percentage 0–100
// (100 only once the job is completed, so that 100 always means done, even
// while the last rows' commit and the completion are apart), and, for a
// processing job with rows done and rows left, an estimate of the seconds
// left from the rate so far (rounded; hasLeft false otherwise).
func Progress(j *ent.Job, now time.Time) (percentage, secondsLeft int, hasLeft bool) {
	switch {
	case j.Status == job.StatusCompleted:
		percentage = 100
	case j.TotalRows > 0:
		percentage = min(99, j.RowsDone*100/j.TotalRows)
	}
	if j.Status == job.StatusProcessing && j.StartedAt != nil && j.RowsDone > 0 && j.TotalRows > j.RowsDone {
		elapsed := now.Sub(*j.StartedAt)
		left := time.Duration(float64(elapsed) * float64(j.TotalRows-j.RowsDone) / float64(j.RowsDone))
		return percentage, int(left.Seconds() + 0.5), true
	}
	return percentage, 0, false
}
