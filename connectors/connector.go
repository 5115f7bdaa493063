// Package connectors defines what an upstream identity source can do, in
// Dex's style: small capability interfaces that each strategy package
// (connectors/ldap, connectors/oidc, connectors/saml) opts into, and the
// normalized upstream Identity they all return.
//
// A connector only talks to its upstream: it never touches the database.
// identity.SyncUpstream turns the Identity into (or back to) a user, found by
// (connection, upstream id) only, never by email.
package connectors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Identity is one user as an upstream asserted it, already normalized through
// the connection's mapping (connectors/mapping). Empty strings are absent.
type Identity struct {
	// Provider is the Auth0-style provider of the user_id: oidc, github,
	// google-oauth2, samlp, ad.
	Provider string
	// UserID is the upstream id as stored on the identity (no provider
	// prefix): "<connection>|<sub>" for enterprise and generic OIDC
	// connections, the bare id for social presets. The user's user_id is
	// Provider + "|" + UserID.
	UserID string

	Email         string
	EmailVerified bool
	Name          string
	GivenName     string
	FamilyName    string
	Nickname      string
	Picture       string
	Username      string
	Groups        []string

	// Raw is the upstream profile as received (claims, attributes), kept in
	// the identity's profile_data after non_persistent_attrs are removed.
	Raw map[string]any

	// Tokens are the upstream's tokens, stored sealed and returned only with
	// read:user_idp_tokens. Nil for password and SAML connectors.
	Tokens *Tokens
}

// FullUserID is the Auth0-style user_id "provider|id".
func (i *Identity) FullUserID() string { return i.Provider + "|" + i.UserID }

// Tokens are an upstream's OAuth tokens.
type Tokens struct {
	AccessToken  string    `json:"access_token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	IDToken      string    `json:"id_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

// PasswordConnector checks a username and password against the upstream
// (LDAP, Active Directory).
type PasswordConnector interface {
	// Login returns the user, or an error wrapping ErrInvalidCredentials
	// (unknown user, wrong or empty password: one answer, see
	// CredentialsError for the reason to log) or ErrUnavailable.
	Login(ctx context.Context, username, password string) (Identity, error)
}

// CallbackConnector sends the browser to the upstream and back to
// {issuer}login/callback (OIDC, OAuth2 social presets).
type CallbackConnector interface {
	// LoginURL returns where to send the browser, and the state to keep
	// server-side until the callback (PKCE verifier, nonce…), opaque to the
	// caller. state is the value the callback will carry back.
	LoginURL(ctx context.Context, callbackURL, state string) (url string, pending []byte, err error)
	// HandleCallback checks the upstream's answer against pending and
	// returns the user.
	HandleCallback(ctx context.Context, callbackURL string, pending []byte, r *http.Request) (Identity, error)
}

// SAMLConnector signs users in through a SAML 2.0 IdP.
type SAMLConnector interface {
	// AuthnRequest returns the URL (HTTP-Redirect binding) of a new
	// AuthnRequest and its ID, tracked server-side by relayState.
	AuthnRequest(ctx context.Context, relayState string) (url, requestID string, err error)
	// HandleResponse validates a POSTed SAMLResponse. possibleRequestIDs are
	// the AuthnRequest IDs pending for its RelayState (none for an
	// IdP-initiated response).
	HandleResponse(ctx context.Context, r *http.Request, possibleRequestIDs []string) (Identity, AssertionInfo, error)
	// Metadata is the SP metadata XML.
	Metadata() ([]byte, error)
}

// AssertionInfo identifies a SAML assertion for the replay cache.
type AssertionInfo struct {
	ID           string
	NotOnOrAfter time.Time
}

// RefreshConnector refreshes an identity without the user (upstream refresh
// token, directory lookup).
type RefreshConnector interface {
	Refresh(ctx context.Context, ident Identity) (Identity, error)
}

// Errors every connector reports through (wrap them with %w).
var (
	// ErrInvalidCredentials: the upstream refused the user. Users see one
	// generic failure whatever the reason.
	ErrInvalidCredentials = errors.New("wrong username or password")
	// ErrUnavailable: the upstream cannot be reached or answered with a
	// server error; nothing was written.
	ErrUnavailable = errors.New("connection unavailable")
	// ErrInvalidResponse: an upstream answer failed verification (signature,
	// audience, nonce, expiry, replay…).
	ErrInvalidResponse = errors.New("invalid upstream response")
	// ErrConfig: the connection's options cannot make a working connector.
	ErrConfig = errors.New("connection misconfigured")
)

// Reasons a CredentialsError carries, for logs only.
const (
	ReasonUnknownUser     = "unknown user"
	ReasonAmbiguousUser   = "user search returned more than one entry"
	ReasonWrongPassword   = "wrong password"
	ReasonEmptyPassword   = "empty username or password"
	ReasonAccountDisabled = "account disabled"
	ReasonAccountLocked   = "account locked"
	ReasonAccountExpired  = "account expired"
	ReasonPasswordExpired = "password expired"
	ReasonMustChange      = "password must be changed"
	ReasonNotPermitted    = "logon not permitted at this time or workstation"
)

// CredentialsError is a refused login with its reason (one of the Reason
// constants). It wraps ErrInvalidCredentials; the reason goes into the
// log event, never to the user.
type CredentialsError struct {
	Reason string
	// Unknown is true when the user does not exist upstream (log fu, else fp).
	Unknown bool
}

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("%s (%s)", ErrInvalidCredentials, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidCredentials) hold.
func (e *CredentialsError) Unwrap() error { return ErrInvalidCredentials }

// Unavailable wraps cause as ErrUnavailable.
func Unavailable(cause error) error { return fmt.Errorf("%w: %w", ErrUnavailable, cause) }

// Invalid wraps cause as ErrInvalidResponse.
func Invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidResponse, fmt.Sprintf(format, args...))
}
