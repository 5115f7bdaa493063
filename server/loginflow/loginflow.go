// Package loginflow is the contract between the OpenID Provider (server/oidc)
// and the hosted login pages (server/login). The provider accepts an
// /authorize request, stores it, and sends the browser to the login page with
// the request's id; the page authenticates the user (or finds their SSO
// session) and hands the result back through Handoff.
package loginflow

import (
	"context"
	"errors"
	"net/http"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// ParamRequestID is the query parameter carrying the auth request id to the
// login page: GET {issuer}login?req=<id>.
const ParamRequestID = "req"

// ErrUnknownRequest is returned for an id that does not exist, has expired or
// is already finished.
var ErrUnknownRequest = errors.New("unknown or expired login request")

// Request is what the login page needs to know about a pending /authorize.
type Request struct {
	ID          string
	ClientID    string
	ClientName  string
	ClientType  string // m2m, spa, regular_web, native
	RedirectURI string
	Scopes      []string
	Audience    []string
	// Connection is the `connection` parameter: skip the chooser.
	Connection string
	LoginHint  string
	// Prompt holds the prompt values (none, login, consent, select_account).
	Prompt []string
	// MaxAge is max_age in seconds, nil when absent.
	MaxAge    *int
	UILocales []string
	// IDTokenHintSubject is the `sub` of a verified id_token_hint.
	IDTokenHintSubject string
	// EnabledConnections are the connections enabled for the client, by name
	// (the login page's chooser), with their strategies.
	EnabledConnections []Connection
	// MFA is set when the user has authenticated but the request waits for
	// a second factor before its code is issued (MFAPath).
	MFA *MFAStep
}

// MFAStep binds a request waiting for a second factor to the login that
// must pass it: only the browser holding that session may answer.
type MFAStep struct {
	UserID    pulid.ID
	SessionID pulid.ID
}

// MFAPath is the second-factor page, relative to the issuer:
// {issuer}login/mfa?req=<id>.
const MFAPath = "login/mfa"

// RememberBrowserCookie holds the value of mfa.Service.RememberBrowser: a
// browser carrying a valid one for the user skips the second factor (unless
// the request itself asks for one with acr_values).
const RememberBrowserCookie = "authgraph_mfa_remember"

// MultiFactorACR is the OpenID PAPE multi-factor policy: in acr_values it
// asks for a second factor; as the ID token's acr it says one was passed.
const MultiFactorACR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"

// AMR values (RFC 8176).
const (
	AMRPassword  = "pwd"
	AMRFederated = "fed"
	AMROTP       = "otp"
	AMRMFA       = "mfa"
)

// Connection is one connection offered on the login page.
type Connection struct {
	Name     string
	Strategy string
}

// HasPrompt reports whether prompt value p was requested.
func (r *Request) HasPrompt(p string) bool {
	for _, v := range r.Prompt {
		if v == p {
			return true
		}
	}
	return false
}

// Login is a successful authentication: who authenticated, through which
// connection, how and when — what every strategy hands the provider, which
// decides the login with authn.Finalize.
type Login = authn.Authenticated

// Handoff is the provider's side of a login.
type Handoff interface {
	// Request returns the pending request with this id.
	Request(ctx context.Context, id string) (*Request, error)
	// Complete decides the login for the request (authn.Finalize), records
	// it when it has something pending (setting its session's cookie) and
	// answers the browser: the code sent to the client, the second-factor
	// page, or the error sent to the client.
	Complete(w http.ResponseWriter, r *http.Request, id string, login Login)
	// Establish records a login no application asked for (a SAML
	// IdP-initiated assertion) with its session, setting the cookie; false
	// when the user may not sign in (blocked).
	Establish(w http.ResponseWriter, r *http.Request, login Login) (bool, error)
	// Fail ends the request with an OAuth error sent to the client's
	// redirect_uri (with its state): login_required, access_denied, …
	Fail(w http.ResponseWriter, r *http.Request, id, code, description string)
}
