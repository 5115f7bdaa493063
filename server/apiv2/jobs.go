package apiv2

import (
	"net/http"

	"github.com/authgraph/authgraph/accounts"
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

// Job is Auth0's job object, for the jobs served (verification emails).
type Job struct {
	ID     string `json:"id" doc:"job_… (a ULID: its time is created_at)."`
	Type   string `json:"type" doc:"verification_email."`
	Status string `json:"status" doc:"pending when created (the email is being sent in the background), completed when read back."`
	// CreatedAt is RFC 3339 with milliseconds, as Auth0's.
	CreatedAt string `json:"created_at"`
}

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
			Description: "Returns a job. A verification-email job runs while its creating request is served, so it " +
				"reads back completed. A users_export job reports its progress, and once completed its location: " +
				"a download URL valid for one hour (issued to callers holding read:users).",
			Response: Job{},
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				// Export jobs are rows; verification-email jobs are not.
				ej, err := a.exportJob(r.Ctx(), r.Param("id"))
				if err != nil {
					return nil, err
				}
				if ej != nil {
					return a.exportJobJSON(r.Ctx(), ej, true)
				}
				j, err := a.cfg.Accounts.VerificationJob(r.Ctx(), r.Param("id"))
				if err != nil {
					return nil, err
				}
				return jobJSON(j, "completed"), nil
			},
		},
	}
}

func jobJSON(j *accounts.VerificationJob, status string) Job {
	return Job{ID: j.ID, Type: "verification_email", Status: status, CreatedAt: auth0Time(j.CreatedAt)}
}
