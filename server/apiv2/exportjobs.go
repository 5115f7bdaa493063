package apiv2

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/bulkexport"
	"github.com/authgraph/authgraph/connections/manageconn"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/jobstore"
)

// UsersExportJobBody is POST /jobs/users-exports's body, Auth0's.
type UsersExportJobBody struct {
	ConnectionID *string `json:"connection_id,omitempty" doc:"Export only the users with an identity at this connection (con_… or its name); all users when absent."`
	Format       *string `json:"format,omitempty" doc:"json (one JSON object per line) or csv; default json. The file is gzip-compressed."`
	Limit        *int    `json:"limit,omitempty" doc:"The maximum number of users to export; all when absent or 0."`
	// Fields are Auth0's [{name, export_as}].
	Fields []bulkexport.Field `json:"fields,omitempty" doc:"The fields to export: name is a path (email, identities[0].connection, app_metadata.plan), export_as the column or key (default: name). At most 30. Default: the profile fields a bulk import reads (JSON: with identities and both metadata objects). Password hashes are never exported by the API."`
}

// ExportJob is Auth0's users_export job object.
type ExportJob struct {
	ID           string             `json:"id"`
	Type         string             `json:"type" doc:"users_export."`
	Status       string             `json:"status" doc:"pending, processing, completed or failed."`
	CreatedAt    string             `json:"created_at"`
	ConnectionID string             `json:"connection_id,omitempty"`
	Connection   string             `json:"connection,omitempty"`
	Format       string             `json:"format"`
	Limit        int                `json:"limit,omitempty"`
	Fields       []bulkexport.Field `json:"fields"`
	// Location is set once the job is completed: a download URL that
	// works for an hour (each read of the job issues a new one).
	Location        string `json:"location,omitempty" doc:"When completed and the caller holds read:users: the file's download URL (gzip), valid for one hour without credentials; each read of the job issues a new URL and ends the previous one."`
	PercentageDone  *int   `json:"percentage_done,omitempty"`
	TimeLeftSeconds *int   `json:"time_left_seconds,omitempty"`
	Error           string `json:"error,omitempty" doc:"Why a failed job failed."`
}

func (a *API) exportJobRoutes() []*Route {
	return []*Route{{
		Method: http.MethodPost, Path: "/jobs/users-exports", Scopes: []string{"read:users"},
		Summary: "Create an export users job",
		Description: "Exports users (all, or a connection's) to a gzip-compressed file, newline-delimited JSON or CSV, " +
			"with the chosen fields; cells a spreadsheet would read as formulas are prefixed with an apostrophe. " +
			"The job runs in the background: read it with GET /jobs/{id} until it is completed, then download its location.",
		Body: UsersExportJobBody{}, Response: ExportJob{}, Status: http.StatusCreated,
		Handle: func(r *Request) (any, error) {
			if err := refuseUnknownQuery(r); err != nil {
				return nil, err
			}
			var b UsersExportJobBody
			if err := r.Decode(&b); err != nil {
				return nil, err
			}
			o := bulkexport.Options{Fields: b.Fields}
			if b.Format != nil {
				f, err := bulkexport.ParseFormat(*b.Format)
				if err != nil || *b.Format == "ndjson" {
					return nil, badRequest("format must be json or csv")
				}
				o.Format = f
			}
			if b.Limit != nil {
				o.Limit = *b.Limit
			}
			for _, f := range b.Fields {
				if f.Name == "" {
					return nil, badRequest("every field needs a name")
				}
			}
			if id := optString(b.ConnectionID); id != "" {
				c, err := manageconn.Find(authz.SystemContext(r.Ctx()), a.cfg.DB, id)
				if err != nil {
					return nil, err
				}
				o.ConnectionID = c.ID
			}
			v := authz.FromContext(r.Ctx())
			by := ""
			if v != nil {
				by = v.Subject
			}
			j, err := bulkexport.CreateJob(r.Ctx(), a.cfg.DB, by, o)
			if errors.Is(err, bulkexport.ErrTooManyJobs) {
				return nil, &httpError{Status: http.StatusTooManyRequests, ErrorCode: "too_many_requests", Message: err.Error(), RetryAfter: 60}
			}
			if err != nil {
				return nil, err
			}
			a.startExport(j.ID)
			return a.exportJobJSON(r.Ctx(), j, false)
		},
	}}
}

// startExport runs an export job in the background, then the jobs left
// pending meanwhile (this node was running its maximum), so that they do
// not wait for the periodic sweep.
func (a *API) startExport(id pulid.ID) {
	go func() {
		ctx := context.Background()
		_ = bulkexport.RunJob(ctx, a.cfg.DB, id, a.cfg.Logger)
		_, _ = bulkexport.ResumeJobs(ctx, a.cfg.DB, a.cfg.Logger)
	}()
}

// exportJob returns the export job id, nil when id is not one.
func (a *API) exportJob(ctx context.Context, id string) (*ent.Job, error) {
	j, err := a.cfg.DB.Job.Query().Where(job.ID(pulid.ID(id)), job.TypeEQ(job.TypeUsersExport)).Only(authz.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return j, err
}

// exportJobJSON renders j; withLocation issues a download URL for a
// completed job when the caller may read users.
func (a *API) exportJobJSON(ctx context.Context, j *ent.Job, withLocation bool) (ExportJob, error) {
	o := bulkexport.JobOptions(j)
	out := ExportJob{ID: string(j.ID), Type: "users_export", Status: string(j.Status), CreatedAt: auth0Time(j.CreatedAt),
		Format: string(o.Format), Limit: o.Limit, Fields: o.Fields, Error: j.Error}
	out.ConnectionID = string(o.ConnectionID)
	if j.ConnectionRef != nil {
		if c, err := a.cfg.DB.Connection.Get(authz.SystemContext(ctx), *j.ConnectionRef); err == nil {
			out.Connection = c.Name
		}
	}
	pct, left, hasLeft := jobstore.Progress(j, time.Now())
	out.PercentageDone = &pct
	if hasLeft {
		out.TimeLeftSeconds = &left
	}
	if withLocation && j.Status == job.StatusCompleted && bulkexport.FileKept(j) && authz.FromContext(ctx).HasScope("read:users") {
		token, _, err := bulkexport.IssueDownload(ctx, a.cfg.DB, j.ID)
		if err != nil {
			return out, err
		}
		out.Location = a.cfg.Issuer + "exports/" + url.PathEscape(bulkexport.FileName(j)) + "?token=" + token
	}
	return out, nil
}
