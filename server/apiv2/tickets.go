package apiv2

import (
	"net/http"
	"net/url"
	"time"

	"github.com/authgraph/authgraph/dbauth"
)

// PasswordChangeTicketBody is POST /tickets/password-change's body, as
// go-auth0's Ticket sends it.
type PasswordChangeTicketBody struct {
	UserID *string `json:"user_id,omitempty" doc:"The user (user_id or node id). Either user_id, or email with connection_id."`
	// Email and ConnectionID name the user of a database connection by
	// address instead.
	Email        *string `json:"email,omitempty" doc:"The user's email, with connection_id."`
	ConnectionID *string `json:"connection_id,omitempty" doc:"The node id (con_…) of the database connection the email belongs to."`
	ResultURL    *string `json:"result_url,omitempty" doc:"Absolute http(s) URL the page sends the browser to after the password is changed."`
	ClientID     *string `json:"client_id,omitempty" doc:"The application the ticket is for (recorded with the ticket and in the password-change log event)."`
	TTLSec       *int    `json:"ttl_sec,omitempty" doc:"Lifetime in seconds: 60 to 2592000; 0 or absent means 432000 (5 days)."`
	// MarkEmailAsVerified sets email_verified when the ticket is used.
	MarkEmailAsVerified *bool `json:"mark_email_as_verified,omitempty" doc:"Mark the user's email verified when the password is changed."`
	// IncludeEmailInRedirect and OrganizationID are Auth0 features not
	// served: false and "" are accepted, anything else is refused.
	IncludeEmailInRedirect *bool   `json:"includeEmailInRedirect,omitempty" doc:"Not supported: only false is accepted."`
	OrganizationID         *string `json:"organization_id,omitempty" doc:"Not supported (no organizations): only an empty value is accepted."`
}

// EmailVerificationTicketBody is POST /tickets/email-verification's body.
type EmailVerificationTicketBody struct {
	UserID    *string `json:"user_id,omitempty" doc:"The user (user_id or node id). Required."`
	ResultURL *string `json:"result_url,omitempty" doc:"Absolute http(s) URL the page sends the browser to after the email is verified."`
	ClientID  *string `json:"client_id,omitempty" doc:"The application the ticket is for."`
	TTLSec    *int    `json:"ttl_sec,omitempty" doc:"Lifetime in seconds: 60 to 2592000; 0 or absent means 432000 (5 days)."`
	// Identity names the identity whose address to verify; only the
	// user's own (the one its user_id is made of) has one here.
	Identity               *JobIdentity `json:"identity,omitempty" doc:"The identity whose address to verify: only the user's own identity is accepted."`
	IncludeEmailInRedirect *bool        `json:"includeEmailInRedirect,omitempty" doc:"Not supported: only false is accepted."`
	OrganizationID         *string      `json:"organization_id,omitempty" doc:"Not supported (no organizations): only an empty value is accepted."`
}

// TicketResult is a created ticket: the single-use link to hand the user.
type TicketResult struct {
	Ticket string `json:"ticket" doc:"The link that opens the password-change or email-verification page."`
}

func (a *API) ticketRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodPost, Path: "/tickets/password-change", Scopes: []string{"create:user_tickets"},
			Summary: "Create a password change ticket",
			Description: "Returns a single-use link to a page where the user chooses a new password. Older password-change " +
				"tickets of the user stop working. The user is named by user_id, or by email and connection_id.",
			Body: PasswordChangeTicketBody{}, Response: TicketResult{}, Status: http.StatusCreated,
			Handle: a.passwordChangeTicket,
		},
		{
			Method: http.MethodPost, Path: "/tickets/email-verification", Scopes: []string{"create:user_tickets"},
			Summary: "Create an email verification ticket",
			Description: "Returns a single-use link that marks the user's email verified. Older verification tickets " +
				"of the user stop working.",
			Body: EmailVerificationTicketBody{}, Response: TicketResult{}, Status: http.StatusCreated,
			Handle: a.emailVerificationTicket,
		},
	}
}

func (a *API) passwordChangeTicket(r *Request) (any, error) {
	if err := refuseUnknownQuery(r); err != nil {
		return nil, err
	}
	var b PasswordChangeTicketBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if err := unsupportedTicketProps(b.IncludeEmailInRedirect, b.OrganizationID); err != nil {
		return nil, err
	}
	o, err := ticketOpts(b.TTLSec, b.ResultURL, b.ClientID)
	if err != nil {
		return nil, err
	}
	if b.MarkEmailAsVerified != nil {
		o.MarkEmailVerified = *b.MarkEmailAsVerified
	}
	userID := optString(b.UserID)
	switch {
	case userID != "" && (b.Email != nil || b.ConnectionID != nil):
		return nil, badRequest("user_id cannot be combined with email and connection_id")
	case userID == "" && (optString(b.Email) == "" || optString(b.ConnectionID) == ""):
		return nil, badRequest("Missing required property: user_id (or email and connection_id)")
	case userID == "":
		if userID, err = a.cfg.Accounts.TicketUserByEmail(r.Ctx(), *b.ConnectionID, *b.Email); err != nil {
			return nil, err
		}
	}
	link, _, err := a.cfg.Accounts.PasswordChangeTicket(r.Ctx(), userID, o)
	if err != nil {
		return nil, err
	}
	return TicketResult{Ticket: link}, nil
}

func (a *API) emailVerificationTicket(r *Request) (any, error) {
	if err := refuseUnknownQuery(r); err != nil {
		return nil, err
	}
	var b EmailVerificationTicketBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if err := unsupportedTicketProps(b.IncludeEmailInRedirect, b.OrganizationID); err != nil {
		return nil, err
	}
	o, err := ticketOpts(b.TTLSec, b.ResultURL, b.ClientID)
	if err != nil {
		return nil, err
	}
	userID := optString(b.UserID)
	if userID == "" {
		return nil, badRequest("Missing required property: user_id")
	}
	if b.Identity != nil {
		if b.Identity.UserID == "" || b.Identity.Provider == "" {
			return nil, badRequest("identity needs user_id and provider")
		}
		if err := a.cfg.Accounts.CheckOwnIdentity(r.Ctx(), userID, b.Identity.Provider, b.Identity.UserID); err != nil {
			return nil, err
		}
	}
	link, _, err := a.cfg.Accounts.EmailVerificationTicket(r.Ctx(), userID, o)
	if err != nil {
		return nil, err
	}
	return TicketResult{Ticket: link}, nil
}

// ticketOpts validates what both tickets share, as the GraphQL mutations
// do (ttl 60 s to 30 days), except that Auth0's ttl_sec 0 means the
// default.
func ticketOpts(ttl *int, resultURL, clientID *string) (dbauth.TicketOptions, error) {
	var o dbauth.TicketOptions
	if ttl != nil && *ttl != 0 {
		if *ttl < 60 || *ttl > 30*86400 {
			return o, badRequest("ttl_sec must be 60 to 2592000 seconds (or 0 for the default)")
		}
		o.TTL = time.Duration(*ttl) * time.Second
	}
	if s := optString(resultURL); s != "" {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return o, badRequest("result_url must be an absolute http(s) URL")
		}
		o.ResultURL = s
	}
	o.ClientID = optString(clientID)
	return o, nil
}

func unsupportedTicketProps(includeEmail *bool, org *string) error {
	if includeEmail != nil && *includeEmail {
		return badRequest("includeEmailInRedirect is not supported")
	}
	if optString(org) != "" {
		return badRequest("organization_id is not supported: there are no organizations")
	}
	return nil
}

func optString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
