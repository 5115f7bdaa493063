package graph

import (
	"github.com/authgraph/authgraph/bulkimport"
	"github.com/authgraph/authgraph/graph/model"
)

// jobModel is a job as GraphQL shows it.
func jobModel(j *bulkimport.Job) *model.Job {
	s := j.Summary()
	out := &model.Job{ID: j.ID, Type: string(j.Type), Status: string(j.Status), ConnectionID: j.ConnectionRef,
		PercentageDone: j.PercentageDone, TimeLeftSeconds: j.TimeLeftSeconds, RowsDone: j.RowsDone,
		Summary:   &model.JobSummary{Inserted: s.Inserted, Updated: s.Updated, Failed: s.Failed, Total: s.Total},
		CreatedAt: j.CreatedAt}
	if j.Connection != "" {
		out.Connection = &j.Connection
	}
	if v := j.Param("external_id"); v != "" {
		out.ExternalID = &v
	}
	if up, ok := j.Params["upsert"].(bool); ok {
		out.Upsert = &up
	}
	if j.Job.Error != "" {
		out.Error = &j.Job.Error
	}
	return out
}
