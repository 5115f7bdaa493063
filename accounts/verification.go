package accounts

import (
	"context"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/manage"
)

// VerificationEmailOptions shape SendVerificationEmail.
type VerificationEmailOptions struct {
	// ClientID is the application the link belongs to (stored with the
	// ticket, as a ticket's client_id).
	ClientID string
	// Provider and IdentityUserID name the identity whose address is to be
	// verified (Auth0's "identity"); empty means the user's own. A user has
	// one address here, so only the identity the user_id is made of is
	// accepted.
	Provider, IdentityUserID string
}

// VerificationJob is a verification email sent: the REST API's job.
type VerificationJob struct {
	// ID is "job_" and a ULID, whose time is CreatedAt.
	ID        string
	CreatedAt time.Time
	// UserID is the user_id the email was sent for.
	UserID string
}

// SendVerificationEmail emails the user id (node id or user_id) a link that
// verifies their address: a new email-verification ticket (older ones stop
// working), sent in the background the way signup sends it. Scope
// update:users and control of the user (admins.RequireControl: the link
// proves ownership of the mailbox). The audit entry names the job, which
// is how VerificationJob finds it again: there is no job queue, the work is
// done when this returns.
func (s *Service) SendVerificationEmail(ctx context.Context, userID string, o VerificationEmailOptions) (*VerificationJob, error) {
	var (
		job     *VerificationJob
		u       *ent.User
		link    string
		expires time.Time
	)
	// The ticket and the audit entry commit together; the email leaves
	// only after that, so a rolled-back request sends no live link.
	err := manage.Write(ctx, s.DB, manage.Op{Scope: ScopeUpdate, Operation: "sendVerificationEmail"},
		func(tx *ent.Client) (manage.Audit, error) {
			var err error
			if u, err = identity.Resolve(authz.SystemContext(ctx), tx, userID); err != nil {
				return manage.Audit{}, err
			}
			if err := admins.RequireControl(ctx, tx, u.ID); err != nil {
				return manage.Audit{}, err
			}
			if err := checkOwnIdentity(u, o.Provider, o.IdentityUserID); err != nil {
				return manage.Audit{}, err
			}
			if u.Email == nil || *u.Email == "" {
				return manage.Audit{}, &identity.ValidationError{Field: "user_id", Message: "the user has no email address"}
			}
			job = &VerificationJob{ID: string(pulid.MustNew("job_")), UserID: u.UserID}
			job.CreatedAt = jobTime(job.ID)
			if link, expires, err = s.Auth.EmailVerificationTicket(ctx, tx, u, dbauth.TicketOptions{ClientID: o.ClientID}); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{UserID: u.UserID, Description: jobDescription(job.ID)}, nil
		})
	if err != nil {
		return nil, err
	}
	s.Auth.QueueVerificationEmail(u, link, expires)
	return job, nil
}

// VerificationJob returns the verification-email job id, found by its
// audit entry. Scope read:users or create:users (Auth0's for jobs).
func (s *Service) VerificationJob(ctx context.Context, id string) (*VerificationJob, error) {
	if err := needScope(ctx, "read:users"); err != nil {
		if needScope(ctx, ScopeCreate) != nil {
			return nil, err
		}
	}
	created := jobTime(id)
	if created.IsZero() {
		return nil, &identity.NotFoundError{What: "job", ID: id}
	}
	// The entry is written just after the id is made: look near its time
	// (the (type, date) index) for the description naming it.
	e, err := s.DB.LogEvent.Query().
		Where(logevent.Type(logs.TypeManagementWrite),
			logevent.DateGTE(created.Add(-time.Minute)), logevent.DateLT(created.Add(10*time.Minute)),
			logevent.Description(jobDescription(id))).
		First(authz.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, &identity.NotFoundError{What: "job", ID: id}
	}
	if err != nil {
		return nil, err
	}
	return &VerificationJob{ID: id, CreatedAt: created, UserID: e.UserID}, nil
}

// CheckOwnIdentity refuses an identity (provider and its user_id, Auth0's
// "identity" of verification emails and tickets) other than the one the
// user id (node id or user_id) is made of: a user has one address here,
// the profile's. Both empty passes. It looks the user up without a scope:
// callers check theirs first.
func (s *Service) CheckOwnIdentity(ctx context.Context, userID, provider, identityUserID string) error {
	if provider == "" && identityUserID == "" {
		return nil
	}
	u, err := identity.Resolve(authz.SystemContext(ctx), s.DB, userID)
	if err != nil {
		return err
	}
	return checkOwnIdentity(u, provider, identityUserID)
}

func checkOwnIdentity(u *ent.User, provider, identityUserID string) error {
	if provider == "" && identityUserID == "" {
		return nil
	}
	if provider == "" || identityUserID == "" {
		return &identity.ValidationError{Field: "identity", Message: "needs both user_id and provider"}
	}
	if provider+"|"+identityUserID != u.UserID {
		return &identity.ValidationError{Field: "identity",
			Message: "only the user's own identity (the one its user_id names) has an address to verify"}
	}
	return nil
}

func jobDescription(id string) string { return "Send a verification email (job " + id + ")" }

// jobTime is the creation time of job id, zero when id is not a job id.
func jobTime(id string) time.Time {
	raw, ok := strings.CutPrefix(id, "job_")
	if !ok {
		return time.Time{}
	}
	u, err := ulid.ParseStrict(raw)
	if err != nil {
		return time.Time{}
	}
	return ulid.Time(u.Time())
}
