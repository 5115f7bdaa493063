// Package authn decides logins. Every way of authenticating (the database
// password form, LDAP, a custom database, an upstream OIDC/OAuth2 callback,
// a SAML assertion, a passkey, or an SSO session that is reused) ends in an
// Authenticated value: who authenticated, through which connection, how
// (AMR) and when. Finalize then decides, in one place and always in the same
// order, whether that login gets an authorization code, must first pass a
// second factor, or is refused, and with which user, scopes and custom
// claims. The protocol layer (server/oidc) turns the Result into a code or an
// error redirect; it decides nothing about the login itself.
package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/metrics"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/sessions"
)

// AMR values (RFC 8176) and the multi-factor ACR that Finalize looks at.
const (
	AMRMFA = "mfa"
	// MultiFactorACR is the OpenID PAPE multi-factor policy: in acr_values
	// it asks for a second factor.
	MultiFactorACR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
)

// Authenticated is who authenticated and how: what a strategy (or a reused
// SSO session) hands to Finalize.
type Authenticated struct {
	UserID pulid.ID
	// User is the user as the strategy left it, when it already read it
	// (saves a read); nil makes Finalize load it.
	User *ent.User
	// SessionID is the browser session of the login, "" when there is none
	// (a second factor then cannot be asked for).
	SessionID  pulid.ID
	Connection string
	AMR        []string
	// AuthTime is when the user authenticated; zero means now.
	AuthTime time.Time
	// Pending is what the strategy leaves for Finalize to write (the
	// brute-force counter's end, the login counters, the log event, the
	// session); nil for a login already recorded (a reused session, the
	// return from the second-factor page).
	Pending *Pending
}

// Request is what the client asked for, as far as the decision needs it.
type Request struct {
	Client *ent.Application
	// EnabledConnections are the names of the connections enabled for the
	// client.
	EnabledConnections []string
	// Connection is the connection the request named ("" for any).
	Connection string
	// Scopes are the scopes the request may get; Audience the API
	// identifier ("" for none).
	Scopes   []string
	Audience string
	// IDTokenHintSubject is the subject of a verified id_token_hint.
	IDTokenHintSubject string
	RedirectURI        string
	// PromptNone is prompt=none: no page may be shown.
	PromptNone bool
	// ACRValues are the requested acr_values.
	ACRValues []string
	// RememberBrowser is the browser's remember-browser cookie value ("" when
	// absent).
	RememberBrowser string
}

// Outcome is what Finalize decided.
type Outcome int

const (
	// Issue: the code may be issued (Result.User, Scopes, claims).
	Issue Outcome = iota + 1
	// NeedMFA: the login must pass a second factor in its session first.
	NeedMFA
	// Denied: the request ends with OAuth error Result.Error.
	Denied
)

// Result is Finalize's decision. Server errors are Finalize's error.
type Result struct {
	Outcome Outcome
	// Error and Description are the OAuth error of a Denied login.
	Error, Description string
	// User is whom the code is issued to: the primary user after a rule's
	// link.
	User *ent.User
	// Scopes are the granted scopes.
	Scopes   []string
	AuthTime time.Time
	// IDClaims and AccessClaims are the rules' custom claims.
	IDClaims, AccessClaims map[string]any
	// Roles is the rules' change to the user's roles for this issuance.
	Roles *RolesChange
	// Session is the browser session the login opened (stored with its
	// record; the caller sets its cookie with sessions.Manager.Open), nil
	// when the login had nothing pending. SessionID is the login's session
	// either way ("" for none).
	Session   *sessions.Opening
	SessionID pulid.ID
	// ruleDenied: the rules refused the login and logged it themselves.
	ruleDenied bool
}

// OAuth error codes a login is refused with.
const (
	ErrAccessDenied        = "access_denied"
	ErrUnauthorized        = "unauthorized" // Auth0's code for a blocked user
	ErrLoginRequired       = "login_required"
	ErrInteractionRequired = "interaction_required"
	ErrInvalidTarget       = "invalid_target"
)

// ErrUnknownAudience is returned by Grants.Scopes for an audience that no
// longer names an API.
var ErrUnknownAudience = errors.New("authn: unknown audience")

// Users loads users.
type Users interface {
	// User returns the user with this id, nil when there is none.
	User(ctx context.Context, id pulid.ID) (*ent.User, error)
}

// Grants decides scopes and names roles.
type Grants interface {
	// RoleNames returns the user's role names for the rules (nil when the
	// rules do not need them).
	RoleNames(ctx context.Context, user *ent.User) ([]string, error)
	// Scopes returns the scopes of req granted to user; roles, when not nil,
	// replace the user's stored roles. ErrUnknownAudience when req.Audience
	// names no API.
	Scopes(ctx context.Context, req *Request, user *ent.User, roles []string) ([]string, error)
}

// Rules runs the post-login rules; a *DenyError refuses the login.
type Rules interface {
	Login(ctx context.Context, ev *ClaimsEvent) (*CustomClaims, error)
}

// MFA is the second-factor policy (package mfa's Service).
type MFA interface {
	// Settings returns the tenant's policy.
	Settings(ctx context.Context) (mfa.Settings, error)
	// Enrolled reports whether the user has a factor that can answer a
	// challenge.
	Enrolled(ctx context.Context, userID pulid.ID) (bool, error)
	// Remembered reports whether a remember-browser cookie value is valid
	// for the user.
	Remembered(ctx context.Context, userID pulid.ID, value string) bool
}

// Deps are Finalize's dependencies. Users, Grants, Store and Sessions are
// required; Rules and MFA may be nil (no rules; no tenant second-factor
// policy).
type Deps struct {
	Users    Users
	Grants   Grants
	Rules    Rules
	MFA      MFA
	Store    Store
	Sessions Sessions
	Logger   *slog.Logger
	Now      func() time.Time
	// Metrics counts the recorded logins by connection and outcome (nil:
	// not measured).
	Metrics *metrics.Registry
}

// Finalizer decides logins.
type Finalizer struct{ d Deps }

// New returns a Finalizer.
func New(d Deps) (*Finalizer, error) {
	if d.Users == nil || d.Grants == nil || d.Store == nil || d.Sessions == nil {
		return nil, errors.New("authn: Users, Grants, Store and Sessions are required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Finalizer{d: d}, nil
}

func denied(code, description string) Result {
	return Result{Outcome: Denied, Error: code, Description: description}
}

// Finalize decides the login of who for req, in this order: the user exists
// and is not blocked; the connection is enabled for the client (and is the
// one the request named); the user is the id_token_hint's; the second
// factor the policy or the request asks for; the scopes; the rules (deny, link
// to a primary, custom claims, roles, require MFA); after a link, the
// primary's standing, second factor and scopes. Then, for a login that
// has something pending (who.Pending), it writes the login's record in one
// transaction (Store.Record): the brute-force counter of the correct
// password ends, the login counters and the hash upgrade, the log event (s,
// or f with the reason it was refused) and, unless it was refused, the
// browser session (Result.Session). A login that must pass a second factor
// is recorded now, with its session, and runs through Finalize again once
// it has, rules included, with nothing pending.
//
// A failed password never reaches here: the strategy counts it against the
// brute-force threshold (it must, before the next hash is computed).
func (f *Finalizer) Finalize(ctx context.Context, req *Request, who Authenticated) (Result, error) {
	res, err := f.decide(ctx, req, who)
	if err != nil {
		f.release(ctx, who)
		return Result{}, err
	}
	if who.Pending == nil {
		res.SessionID = who.SessionID
		return res, nil
	}
	res, err = f.record(ctx, who, res)
	if err != nil {
		f.release(ctx, who)
	}
	return res, err
}

// user is who's user: the strategy's row when it handed one over, else
// read; nil when there is none.
func (f *Finalizer) user(ctx context.Context, who Authenticated) (*ent.User, error) {
	if who.User != nil && who.User.ID == who.UserID {
		return who.User, nil
	}
	u, err := f.d.Users.User(ctx, who.UserID)
	if err != nil {
		return nil, fmt.Errorf("loading the user: %w", err)
	}
	return u, nil
}

// decide is Finalize's decision, before anything is written.
func (f *Finalizer) decide(ctx context.Context, req *Request, who Authenticated) (Result, error) {
	user, err := f.user(ctx, who)
	if err != nil {
		return Result{}, err
	}
	if user == nil {
		return denied(ErrAccessDenied, "unknown user"), nil
	}
	if p := who.Pending; p != nil && p.CountLogin {
		// The rules see the login counters as this login's record will
		// leave them (Auth0's stats.logins_count counts the login itself).
		user = counted(user, f.d.Now(), clientIPOf(ctx))
	}
	if user.Blocked {
		return denied(ErrUnauthorized, BlockedDescription), nil
	}
	if !ConnectionAllowed(who.Connection, req.Connection, req.EnabledConnections) {
		f.d.Logger.WarnContext(ctx, "authn: a login through a connection not enabled for the client was refused",
			slog.String("client_id", clientID(req)), slog.String("connection", who.Connection))
		return denied(ErrAccessDenied, "the connection is not enabled"), nil
	}
	if req.IDTokenHintSubject != "" && req.IDTokenHintSubject != user.UserID {
		return denied(ErrLoginRequired, "the signed-in user is not the user of id_token_hint"), nil
	}
	authTime := who.AuthTime
	if authTime.IsZero() {
		authTime = f.d.Now()
	}
	// A second factor the tenant's policy or the request asks for is
	// passed before any rule runs: rules may store metadata or link
	// accounts, which someone holding only the password must not cause.
	// It is decided before the scopes too: a login that must pass one
	// comes back here once it has, and its scopes are decided then.
	need, err := f.needsMFA(ctx, req, who, false)
	if err != nil {
		return Result{}, fmt.Errorf("deciding on a second factor: %w", err)
	}
	if need {
		return f.needMFA(req, who, user, authTime), nil
	}
	granted, err := f.d.Grants.Scopes(ctx, req, user, nil)
	if errors.Is(err, ErrUnknownAudience) {
		return denied(ErrInvalidTarget, "unknown audience"), nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("deciding scopes: %w", err)
	}
	roles, err := f.d.Grants.RoleNames(ctx, user)
	if err != nil {
		return Result{}, fmt.Errorf("loading the user's roles: %w", err)
	}
	custom := &CustomClaims{}
	if f.d.Rules != nil {
		custom, err = f.d.Rules.Login(ctx, &ClaimsEvent{
			User: user, Client: req.Client, Scopes: granted, Audience: req.Audience,
			Protocol: ProtocolOIDCBasicProfile, Connection: who.Connection, AuthTime: authTime, AMR: who.AMR,
			RequestedScopes: req.Scopes, RedirectURI: req.RedirectURI, Roles: roles,
		})
		var deny *DenyError
		if errors.As(err, &deny) {
			res := denied(ErrAccessDenied, deny.Reason)
			res.ruleDenied = true
			return res, nil
		}
		if err != nil {
			return Result{}, fmt.Errorf("running the rules: %w", err)
		}
		if custom == nil {
			custom = &CustomClaims{}
		}
	}
	// A rule's require_mfa: the rules stored nothing and returned no claims
	// (rulesrun holds their effects back until the login has a factor), so
	// only a factor passed in this session satisfies it, never a
	// remembered browser; the rules run again after it.
	if custom.RequireMFA && !slices.Contains(who.AMR, AMRMFA) {
		return f.needMFA(req, who, user, authTime), nil
	}
	loginUser := user.ID
	if custom.Primary != nil && custom.Primary.ID != user.ID {
		// A rule linked this user to a primary: the login continues as the
		// primary, with the primary's own standing, roles and grants.
		user = custom.Primary
		if user.Blocked {
			return denied(ErrUnauthorized, BlockedDescription), nil
		}
		// The primary's own second-factor standing applies: an enrolled
		// primary is not reached through a secondary identity without a
		// factor. The link is stored, so the next login arrives as the
		// primary and is challenged for the primary's factor.
		need, err := f.needsMFA(ctx, req, Authenticated{UserID: user.ID, AMR: who.AMR}, false)
		if err != nil {
			return Result{}, fmt.Errorf("deciding on a second factor: %w", err)
		}
		if need {
			if req.PromptNone {
				return denied(ErrInteractionRequired, "a second factor is required"), nil
			}
			return denied(ErrLoginRequired, "the account was linked and needs a second factor: sign in again"), nil
		}
	}
	if user.ID != loginUser || custom.Roles != nil {
		// The API scopes follow the roles of whoever the login ends up as,
		// changed by the rules for this login: their delta applies to the
		// primary's own roles after a link, not to the event's list.
		var roles []string
		if custom.Roles != nil {
			stored, err := f.d.Grants.RoleNames(ctx, user)
			if err != nil {
				return Result{}, fmt.Errorf("loading the user's roles: %w", err)
			}
			roles = custom.Roles.Apply(stored)
		}
		granted, err = f.d.Grants.Scopes(ctx, req, user, roles)
		if errors.Is(err, ErrUnknownAudience) {
			return denied(ErrInvalidTarget, "unknown audience"), nil
		}
		if err != nil {
			return Result{}, fmt.Errorf("deciding scopes: %w", err)
		}
	}
	return Result{
		Outcome: Issue, User: user, Scopes: granted, AuthTime: authTime,
		IDClaims: custom.IDToken, AccessClaims: custom.AccessToken, Roles: custom.Roles,
	}, nil
}

// needMFA is the result of a login that must pass a second factor first:
// in its session, and never silently.
func (f *Finalizer) needMFA(req *Request, who Authenticated, user *ent.User, authTime time.Time) Result {
	if req.PromptNone {
		return denied(ErrInteractionRequired, "a second factor is required")
	}
	if who.SessionID == "" && who.Pending == nil {
		// Only a session can carry the factor on to the completion (a
		// pending login opens one).
		return denied(ErrAccessDenied, "a second factor is required")
	}
	return Result{Outcome: NeedMFA, User: user, AuthTime: authTime}
}

// needsMFA decides whether the login must still pass a second factor. A
// factor is required by the tenant's policy (always; opt-in for enrolled
// users), by a rule (ruleRequires) or by the request (acr_values naming the
// multi-factor policy). It is satisfied by a factor passed in the login's
// session ("mfa" in its AMR) or, unless the request itself asks for one, by
// the browser's remember-browser cookie for this user. Every login goes
// through here, SSO included: a session never skips a factor it did not
// pass.
func (f *Finalizer) needsMFA(ctx context.Context, req *Request, who Authenticated, ruleRequires bool) (bool, error) {
	if slices.Contains(who.AMR, AMRMFA) {
		return false, nil
	}
	forced := slices.Contains(req.ACRValues, MultiFactorACR)
	required := forced || ruleRequires
	if !required && f.d.MFA != nil {
		set, err := f.d.MFA.Settings(ctx)
		if err != nil {
			return false, err
		}
		switch set.Policy {
		case mfa.PolicyAlways:
			required = true
		case mfa.PolicyOptIn:
			if required, err = f.d.MFA.Enrolled(ctx, who.UserID); err != nil {
				return false, err
			}
		}
	}
	if !required {
		return false, nil
	}
	if !forced && f.d.MFA != nil && req.RememberBrowser != "" && len(req.RememberBrowser) <= 512 &&
		f.d.MFA.Remembered(ctx, who.UserID, req.RememberBrowser) {
		return false, nil
	}
	return true, nil
}

// ConnectionAllowed reports whether a session or login through connection
// used may sign the user in to a client enabled for the connections in
// enabled: the connection the user logged in with (for a linked user, the
// identity actually used) must be one of them, and be the one the request
// named when it named one. A session of unknown origin (no connection
// recorded) never qualifies.
func ConnectionAllowed(used, requested string, enabled []string) bool {
	if used == "" || (requested != "" && requested != used) {
		return false
	}
	return slices.Contains(enabled, used)
}

func clientID(req *Request) string {
	if req.Client == nil {
		return ""
	}
	return req.Client.ClientID
}
