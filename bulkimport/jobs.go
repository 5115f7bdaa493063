// Package bulkimport imports users from Auth0's bulk-import file (a JSON
// array or NDJSON) through background jobs. CreateImport stores the upload
// in the database (job chunks) and creates a pending job; a Runner on any
// node claims it with a conditional update, validates the rows, and
// commits them in batches together with the job's progress, so a job
// interrupted by a crash resumes at the first row not committed. Every
// entry point (REST, GraphQL, the CLI) calls CreateImport, Job and Errors.
package bulkimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/ent/jobchunk"
	"github.com/authgraph/authgraph/ent/joberror"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/jobstore"
	"github.com/authgraph/authgraph/manage"
)

// Scopes, Auth0's for jobs.
const (
	ScopeCreate = "create:users"
	ScopeRead   = "read:users"
)

// Service runs the import use cases.
type Service struct {
	DB   *ent.Client
	wake chan struct{}
}

// ImportInput is a new import job.
type ImportInput struct {
	// Connection is the database connection's id (con_…) or name.
	Connection string
	Upsert     bool
	// ExternalID is the caller's own reference, returned with the job.
	ExternalID string
	// SendCompletionEmail is recorded; no email is sent (there is no
	// tenant-administrator mailing list).
	SendCompletionEmail bool
	// File is the users file, plain or gzip-compressed (detected by its
	// first bytes); it is read once, to the end.
	File io.Reader
}

// Job is a job as the entry points show it.
type Job struct {
	*ent.Job
	// Connection is the connection's name ("" when it was deleted).
	Connection string
	// PercentageDone is 0–100.
	PercentageDone int
	// TimeLeftSeconds estimates the rest from the pace so far (0 unknown
	// or done).
	TimeLeftSeconds int
}

// Summary is Auth0's job summary.
type Summary struct{ Inserted, Updated, Failed, Total int }

// Summary returns the job's summary.
func (j *Job) Summary() Summary {
	s := j.Job.Summary
	return Summary{Inserted: s["inserted"], Updated: s["updated"], Failed: s["failed"], Total: s["total"]}
}

// Param returns a job parameter as a string ("" when absent).
func (j *Job) Param(name string) string {
	if v, ok := j.Params[name]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

// Job parameters recording who created an upsert job: the system, or the
// management scopes of its creator.
const (
	paramSystem        = "system"
	paramCreatorScopes = "creator_scopes"
)

// CreateImport stores the file and creates a pending users_import job, in
// one audited transaction: a file that is not a JSON array or NDJSON of
// JSON values is refused whole (a ValidationError on "users") and nothing
// stays. Scope create:users; with upsert the caller must also control
// every administrator of the connection, whose profiles and passwords an
// upsert could replace.
func (s *Service) CreateImport(ctx context.Context, in ImportInput) (*Job, error) {
	if len(in.ExternalID) > 255 {
		return nil, &identity.ValidationError{Field: "external_id", Message: "must be at most 255 characters"}
	}
	var out *Job
	err := manage.Write(ctx, s.DB, manage.Op{Scope: ScopeCreate, Operation: "importUsers"},
		func(tx *ent.Client) (manage.Audit, error) {
			sys := authz.SystemContext(ctx)
			conn, err := findConnection(sys, tx, in.Connection)
			if err != nil {
				return manage.Audit{}, err
			}
			if in.Upsert {
				if err := admins.RequireControlOfConnection(ctx, tx, conn.ID); err != nil {
					return manage.Audit{}, err
				}
			}
			creator := ""
			if v := authz.FromContext(ctx); v != nil {
				creator = v.Subject
			}
			params := map[string]any{"upsert": in.Upsert, "send_completion_email": in.SendCompletionEmail}
			if in.Upsert {
				// The runner checks control of matched administrators again
				// with these, when the rows are written.
				if v := authz.FromContext(ctx); v.IsSystem() {
					params[paramSystem] = true
				} else if v != nil {
					var scopes []string
					for _, sc := range v.Scopes {
						if authz.IsManagementScope(sc) {
							scopes = append(scopes, sc)
						}
					}
					params[paramCreatorScopes] = scopes
				}
			}
			if in.ExternalID != "" {
				params["external_id"] = in.ExternalID
			}
			j, err := tx.Job.Create().SetType(job.TypeUsersImport).SetConnectionRef(conn.ID).
				SetCreatedBy(truncate(creator, 255)).SetParams(params).Save(sys)
			if err != nil {
				return manage.Audit{}, err
			}
			w := &jobstore.ChunkWriter{Ctx: sys, DB: tx, Job: j.ID, Kind: jobchunk.KindInput}
			// A gzip file is stored decompressed: the runner reads rows.
			file, err := maybeGunzip(in.File)
			if err != nil {
				return manage.Audit{}, fileError(err)
			}
			rr, err := newRowReader(io.TeeReader(file, w))
			if err != nil {
				return manage.Audit{}, fileError(err)
			}
			rows := 0
			for {
				_, err := rr.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return manage.Audit{}, fileError(err)
				}
				rows++
			}
			if _, err := io.Copy(io.Discard, io.TeeReader(file, w)); err != nil {
				return manage.Audit{}, fileError(err)
			}
			if err := w.Flush(); err != nil {
				return manage.Audit{}, err
			}
			if rows == 0 {
				return manage.Audit{}, &identity.ValidationError{Field: "users", Message: "the file has no users"}
			}
			j, err = j.Update().SetTotalRows(rows).SetInputSize(w.Size()).SetInputComplete(true).
				SetSummary(map[string]int{"inserted": 0, "updated": 0, "failed": 0, "total": rows}).Save(sys)
			if err != nil {
				return manage.Audit{}, err
			}
			out = &Job{Job: j, Connection: conn.Name}
			return manage.Audit{Description: fmt.Sprintf("Import users into %s (job %s, %d rows)", conn.Name, j.ID, rows)}, nil
		})
	if err != nil {
		return nil, err
	}
	out.Job = out.Job.Unwrap()
	if s.wake != nil {
		s.notify()
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// fileError turns a malformed file into a ValidationError; read errors
// (a body over its cap, a broken connection) pass through.
func fileError(err error) error {
	if errors.Is(err, errDecompressedTooBig) {
		return &identity.ValidationError{Field: "users",
			Message: fmt.Sprintf("the gzip-compressed users file is over %d bytes once decompressed", maxDecompressed)}
	}
	if errors.Is(err, ErrFormat) {
		return &identity.ValidationError{Field: "users", Message: strings.TrimPrefix(err.Error(), "bulkimport: ")}
	}
	return err
}

// findConnection resolves a database connection by id or name.
func findConnection(ctx context.Context, db *ent.Client, ref string) (*ent.Connection, error) {
	if ref == "" {
		return nil, &identity.ValidationError{Field: "connection_id", Message: "is required"}
	}
	q := db.Connection.Query()
	if strings.HasPrefix(ref, "con_") {
		q = q.Where(connection.Or(connection.ID(pulid.ID(ref)), connection.Name(ref)))
	} else {
		q = q.Where(connection.Name(ref))
	}
	c, err := q.First(ctx)
	if ent.IsNotFound(err) {
		return nil, &identity.NotFoundError{What: "connection", ID: ref}
	}
	if err != nil {
		return nil, err
	}
	if c.Strategy != connection.StrategyDatabase {
		return nil, &identity.ValidationError{Field: "connection_id",
			Message: fmt.Sprintf("users can be imported only into database connections; %q is %s", c.Name, c.Strategy)}
	}
	return c, nil
}

// Job returns an import or export job. Scope read:users or create:users.
// A job id that names no stored job is a NotFoundError.
func (s *Service) Job(ctx context.Context, id string) (*Job, error) {
	if err := needReadScope(ctx); err != nil {
		return nil, err
	}
	sys := authz.SystemContext(ctx)
	j, err := s.DB.Job.Get(sys, pulid.ID(id))
	if ent.IsNotFound(err) {
		return nil, &identity.NotFoundError{What: "job", ID: id}
	}
	if err != nil {
		return nil, err
	}
	return s.view(sys, j), nil
}

func (s *Service) view(ctx context.Context, j *ent.Job) *Job {
	out := &Job{Job: j}
	if j.ConnectionRef != nil {
		if c, err := s.DB.Connection.Get(ctx, *j.ConnectionRef); err == nil {
			out.Connection = c.Name
		}
	}
	out.PercentageDone, out.TimeLeftSeconds, _ = jobstore.Progress(j, time.Now())
	return out
}

// ErrorRow is one refused row: the row (hashes masked) and its errors.
type ErrorRow struct {
	Row    int
	User   map[string]any
	Errors []RowError
}

// Errors returns the job's refused rows in file order (at most limit, from
// after row after; -1 for the first page). Scope read:users or
// create:users.
func (s *Service) Errors(ctx context.Context, id string, after, limit int) ([]ErrorRow, error) {
	if _, err := s.Job(ctx, id); err != nil {
		return nil, err
	}
	es, err := s.DB.JobError.Query().
		Where(joberror.JobRef(pulid.ID(id)), joberror.RowGT(after)).
		Order(ent.Asc(joberror.FieldRow)).Limit(limit).All(authz.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]ErrorRow, len(es))
	for i, e := range es {
		r := ErrorRow{Row: e.Row, User: e.RowJSON}
		for _, x := range e.Errors {
			r.Errors = append(r.Errors, RowError{Code: x["code"], Message: x["message"], Path: x["path"]})
		}
		out[i] = r
	}
	return out, nil
}

func needReadScope(ctx context.Context) error {
	v := authz.FromContext(ctx)
	if v.HasScope(ScopeRead) || v.HasScope(ScopeCreate) {
		return nil
	}
	return &authz.ScopeError{Scope: ScopeRead}
}

// chunkReader reads a job's stored input back, one chunk in memory at a
// time.
type chunkReader struct {
	ctx context.Context
	db  *ent.Client
	job pulid.ID
	seq int
	cur []byte
	eof bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.eof {
			return 0, io.EOF
		}
		c, err := r.db.JobChunk.Query().
			Where(jobchunk.JobRef(r.job), jobchunk.KindEQ(jobchunk.KindInput), jobchunk.Seq(r.seq)).
			Only(r.ctx)
		if ent.IsNotFound(err) {
			r.eof = true
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		r.cur = c.Data
		r.seq++
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// marshalErrors is the JSON column form of a row's errors.
func marshalErrors(es []RowError) []map[string]string {
	out := make([]map[string]string, len(es))
	for i, e := range es {
		out[i] = map[string]string{"code": e.Code, "message": e.Message, "path": e.Path}
	}
	return out
}

// NewService returns the import use cases over db.
func NewService(db *ent.Client) *Service {
	return &Service{DB: db, wake: make(chan struct{}, 1)}
}

// Wake is signalled when a job is created, so that a runner starts it
// without waiting for its next poll.
func (s *Service) Wake() <-chan struct{} { return s.wake }

func (s *Service) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
