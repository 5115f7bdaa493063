package apiv2

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/authgraph/authgraph/accounts"
	"github.com/authgraph/authgraph/bulkimport"
	"github.com/authgraph/authgraph/identity"
)

// VerificationEmailJobBody is POST /jobs/verification-email's body, as
// go-auth0's Job sends it.
type VerificationEmailJobBody struct {
	UserID   string       `json:"user_id" doc:"The user (user_id or node id) to email a verification link."`
	ClientID *string      `json:"client_id,omitempty" doc:"The application the link is for (recorded with the ticket)."`
	Identity *JobIdentity `json:"identity,omitempty" doc:"The identity whose address to verify: only the user's own identity is accepted (a user has one address)."`
	// OrganizationID is not served: "" is accepted, anything else refused.
	OrganizationID *string `json:"organization_id,omitempty" doc:"Not supported (no organizations): only an empty value is accepted."`
}

// JobIdentity names an identity: its provider and its user_id (without the
// "provider|" prefix).
type JobIdentity struct {
	UserID   string `json:"user_id"`
	Provider string `json:"provider"`
}

// Job is Auth0's job object: verification emails, user imports and
// exports.
type Job struct {
	ID     string `json:"id" doc:"job_… (a ULID: its time is created_at)."`
	Type   string `json:"type" doc:"verification_email, users_import or users_export."`
	Status string `json:"status" doc:"pending, processing, completed or failed. A verification-email job is pending when created (the email leaves in the background) and completed when read back."`
	// CreatedAt is RFC 3339 with milliseconds, as Auth0's.
	CreatedAt    string `json:"created_at"`
	ConnectionID string `json:"connection_id,omitempty" doc:"The connection imported into."`
	Connection   string `json:"connection,omitempty" doc:"Its name."`
	ExternalID   string `json:"external_id,omitempty" doc:"The caller's reference given at creation."`
	Upsert       *bool  `json:"upsert,omitempty"`
	// SendCompletionEmail is recorded as given; no email is sent.
	SendCompletionEmail *bool       `json:"send_completion_email,omitempty"`
	PercentageDone      *int        `json:"percentage_done,omitempty" doc:"0–100, from the rows committed."`
	TimeLeftSeconds     *int        `json:"time_left_seconds,omitempty" doc:"An estimate from the pace so far."`
	Summary             *JobSummary `json:"summary,omitempty" doc:"Rows inserted, updated and failed, and the file's total."`
	// Error says why a failed job failed (not Auth0's: its jobs fail silently).
	Error string `json:"error,omitempty"`
}

// JobSummary is Auth0's import summary.
type JobSummary struct {
	Inserted int `json:"inserted"`
	Updated  int `json:"updated"`
	Failed   int `json:"failed"`
	Total    int `json:"total"`
}

// JobErrorRow is one refused row of an import: the row as given (password
// hashes and MFA secrets masked) and its errors.
type JobErrorRow struct {
	User   map[string]any        `json:"user"`
	Errors []bulkimport.RowError `json:"errors"`
}

// maxJobErrors caps GET /jobs/{id}/errors (Auth0 does not page it).
const maxJobErrors = 10000

func (a *API) jobRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodPost, Path: "/jobs/verification-email", Scopes: []string{"update:users"},
			Summary: "Send an email address verification email",
			Description: "Creates an email-verification ticket (older ones stop working) and emails its link to the " +
				"user, the way signup does. The work is done when the response is sent; the email leaves in the background.",
			Body: VerificationEmailJobBody{}, Response: Job{}, Status: http.StatusCreated,
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				var b VerificationEmailJobBody
				if err := r.Decode(&b); err != nil {
					return nil, err
				}
				if b.UserID == "" {
					return nil, badRequest("Missing required property: user_id")
				}
				if optString(b.OrganizationID) != "" {
					return nil, badRequest("organization_id is not supported: there are no organizations")
				}
				o := accounts.VerificationEmailOptions{ClientID: optString(b.ClientID)}
				if b.Identity != nil {
					if b.Identity.UserID == "" || b.Identity.Provider == "" {
						return nil, badRequest("identity needs user_id and provider")
					}
					o.Provider, o.IdentityUserID = b.Identity.Provider, b.Identity.UserID
				}
				j, err := a.cfg.Accounts.SendVerificationEmail(r.Ctx(), b.UserID, o)
				if err != nil {
					return nil, err
				}
				return jobJSON(j, "pending"), nil
			},
		},
		{
			Method: http.MethodGet, Path: "/jobs/{id}", Scopes: []string{"create:users", "read:users"},
			Summary: "Get a job",
			Description: "Returns a job: a user import or export (its status, percentage_done, time_left_seconds " +
				"and summary; a completed export's location, a download URL valid for one hour, issued to callers " +
				"holding read:users), or a verification-email job (sent while its creating request was served, so " +
				"completed when read back).",
			Response: Job{},
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				ej, err := a.exportJob(r.Ctx(), r.Param("id"))
				if err != nil {
					return nil, err
				}
				if ej != nil {
					return a.exportJobJSON(r.Ctx(), ej, true)
				}
				j, err := a.cfg.Imports.Job(r.Ctx(), r.Param("id"))
				if err == nil {
					return importJobJSON(j), nil
				}
				if !errors.Is(err, identity.ErrNotFound) {
					return nil, err
				}
				// Verification-email jobs have no row: their audit entry is
				// the record.
				v, err := a.cfg.Accounts.VerificationJob(r.Ctx(), r.Param("id"))
				if err != nil {
					return nil, err
				}
				return jobJSON(v, "completed"), nil
			},
		},
		{
			Method: http.MethodPost, Path: "/jobs/users-imports", Scopes: []string{"create:users"},
			Summary: "Create an import users job",
			Description: "Imports users from Auth0's bulk-import file (multipart/form-data: users — a JSON array " +
				"or NDJSON; connection_id — a database connection's id or name; upsert; external_id; " +
				"send_completion_email, recorded, no email is sent). The file is streamed into storage and " +
				"checked to be well-formed JSON (a malformed file is refused whole); its rows are validated " +
				"and committed in the background, in batches. Files may be far larger than Auth0's 500 KB. " +
				"With upsert the caller must also control every administrator of the connection.",
			Response: Job{}, Status: http.StatusCreated,
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				in, cleanup, err := importForm(r)
				if cleanup != nil {
					defer cleanup()
				}
				if err != nil {
					return nil, err
				}
				j, err := a.cfg.Imports.CreateImport(r.Ctx(), in)
				if err != nil {
					var tooBig *http.MaxBytesError
					if errors.As(err, &tooBig) {
						return nil, readError(err)
					}
					return nil, err
				}
				return importJobJSON(j), nil
			},
		},
		{
			Method: http.MethodGet, Path: "/jobs/{id}/errors", Scopes: []string{"create:users", "read:users"},
			Summary: "Get job error details",
			Description: "The refused rows of an import, in file order: each row as given, with password hashes, " +
				"MFA secrets and the values of unknown properties replaced by [REDACTED], and its errors [{code, message, path}] with Auth0's codes. " +
				"An empty array when no row was refused. At most 10,000 rows.",
			Response: []JobErrorRow{},
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				rows, err := a.cfg.Imports.Errors(r.Ctx(), r.Param("id"), -1, maxJobErrors)
				if err != nil {
					return nil, err
				}
				out := make([]JobErrorRow, len(rows))
				for i, e := range rows {
					out[i] = JobErrorRow{User: e.User, Errors: e.Errors}
				}
				return out, nil
			},
		},
	}
}

// importUploadTimeout is how long a users file may take to upload: the
// server's ReadTimeout (30 s) would cut files far smaller than the body cap on
// ordinary links.
const importUploadTimeout = 30 * time.Minute

// importForm reads POST /jobs/users-imports' multipart form, in any order
// of its parts. The file is always spooled to a temporary file first, so
// the network upload never happens inside the database transaction that
// stores it (on SQLite that would hold the write lock for the whole upload),
// and every field is read whether it comes before or after the file.
func importForm(r *Request) (in bulkimport.ImportInput, cleanup func(), err error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return in, nil, badRequest("the body must be multipart/form-data with a users file")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return in, nil, badRequest("%v", err)
	}
	r.ExtendReadDeadline(importUploadTimeout)
	var spool *os.File
	cleanup = func() {
		if spool != nil {
			spool.Close()
			os.Remove(spool.Name())
		}
	}
	boolField := func(name, v string) (bool, error) {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return false, badRequest("%s must be true or false", name)
		}
		return b, nil
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return in, cleanup, readError(err)
		}
		name := part.FormName()
		if name == "users" {
			if spool != nil {
				return in, cleanup, badRequest("users is given twice")
			}
			if spool, err = os.CreateTemp("", "authgraph-import-*"); err != nil {
				return in, cleanup, err
			}
			if _, err := io.Copy(spool, part); err != nil {
				return in, cleanup, readError(err)
			}
			if _, err := spool.Seek(0, io.SeekStart); err != nil {
				return in, cleanup, err
			}
			in.File = spool
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, 4096))
		if err != nil {
			return in, cleanup, badRequest("%v", err)
		}
		switch name {
		case "connection_id":
			in.Connection = strings.TrimSpace(string(v))
		case "external_id":
			in.ExternalID = string(v)
		case "upsert":
			if in.Upsert, err = boolField(name, string(v)); err != nil {
				return in, cleanup, err
			}
		case "send_completion_email":
			if in.SendCompletionEmail, err = boolField(name, string(v)); err != nil {
				return in, cleanup, err
			}
		default:
			return in, cleanup, badRequest("Additional properties not allowed: %s", name)
		}
	}
	if in.File == nil {
		return in, cleanup, badRequest("Missing required property: users")
	}
	if in.Connection == "" {
		return in, cleanup, badRequest("Missing required property: connection_id")
	}
	return in, cleanup, nil
}

// readError reports a failed read of the upload: a body over its cap is a
// 413, anything else (a broken or malformed multipart body) a 400.
func readError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &httpError{Status: http.StatusRequestEntityTooLarge, ErrorCode: "request_entity_too_large",
			Message: "the users file is over " + strconv.FormatInt(tooBig.Limit, 10) + " bytes"}
	}
	return badRequest("%v", err)
}

func importJobJSON(j *bulkimport.Job) Job {
	out := Job{ID: string(j.ID), Type: string(j.Type), Status: string(j.Status), CreatedAt: auth0Time(j.CreatedAt),
		Connection: j.Connection, ExternalID: j.Param("external_id"), Error: j.Job.Error}
	if j.ConnectionRef != nil {
		out.ConnectionID = string(*j.ConnectionRef)
	}
	if up, ok := j.Params["upsert"].(bool); ok {
		out.Upsert = &up
	}
	if sc, ok := j.Params["send_completion_email"].(bool); ok {
		out.SendCompletionEmail = &sc
	}
	if j.Status != "pending" {
		p, t := j.PercentageDone, j.TimeLeftSeconds
		out.PercentageDone, out.TimeLeftSeconds = &p, &t
	}
	if j.Status == "completed" || j.Status == "processing" || j.Status == "failed" {
		s := j.Summary()
		out.Summary = &JobSummary{Inserted: s.Inserted, Updated: s.Updated, Failed: s.Failed, Total: s.Total}
	}
	return out
}

func jobJSON(j *accounts.VerificationJob, status string) Job {
	return Job{ID: j.ID, Type: "verification_email", Status: status, CreatedAt: auth0Time(j.CreatedAt)}
}
