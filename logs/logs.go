// Package logs writes the tenant log: Auth0's event fields and type codes
// (docs/LOGS.md), so dashboards and alerting written for Auth0 read it as is.
// Entries never carry a password, token, secret or a full metadata blob.
package logs

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
)

// Type codes used by Authgraph (docs/LOGS.md).
const (
	TypeSuccessLogin     = "s"
	TypeFailedLogin      = "f"
	TypeWrongPassword    = "fp"
	TypeUnknownUser      = "fu"
	TypeSuccessSignup    = "ss"
	TypeFailedSignup     = "fs"
	TypeSuccessChangePwd = "scp"
	// TypeSuccessLogout: a session was ended (also one the user ended from
	// the account page).
	TypeSuccessLogout   = "slo"
	TypeFailedChangePwd = "fcp"
	TypeManagementWrite = "sapi"
	TypeManagementRead  = "mgmt_api_read"
	TypeBruteForceBlock = "limit_wc"
)

// Multi-factor authentication events (package mfa), Auth0's "gd_" codes.
const (
	TypeMFAStartEnroll        = "gd_start_enroll"
	TypeMFAEnrollmentComplete = "gd_enrollment_complete"
	TypeMFAAuthSucceed        = "gd_auth_succeed"
	TypeMFAAuthFailed         = "gd_auth_failed"
	TypeMFARecoverySucceed    = "gd_recovery_succeed"
	TypeMFARecoveryFailed     = "gd_recovery_failed"
	TypeMFASendEmail          = "gd_send_email"
	// TypeMFATooManyFailures: wrong codes locked the user's MFA step.
	TypeMFATooManyFailures = "gd_otp_rate_limit_exceed"
	// TypeMFARecoveryTooManyFailures: the locking wrong code was a
	// recovery code.
	TypeMFARecoveryTooManyFailures = "gd_recovery_rate_limit_exceed"
	TypeMFAUnenroll                = "gd_unenroll"
	// TypeMFAUserReset: all of a user's authenticators were removed.
	TypeMFAUserReset    = "gd_user_delete"
	TypeMFATenantUpdate = "gd_tenant_update"
)

// Event is one log entry to write.
type Event struct {
	Type         string
	Description  string
	ClientID     string
	ClientName   string
	Connection   string
	ConnectionID string
	Strategy     string
	StrategyType string
	UserID       string
	UserName     string
	Details      map[string]any
	// Date is when it happened; zero means now. A service with its own
	// clock that counts its events by date sets it.
	Date time.Time
}

// Request is who sent the request that caused an event.
type Request struct {
	IP        string
	UserAgent string
}

type requestKey struct{}

// WithRequest stores the client's address and user agent for later events.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request stored by WithRequest.
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// Write records e with db, which may be a transaction's client so the entry
// commits (or rolls back) with the change it describes. Log entries are
// written by the server itself, whatever the caller's scopes.
func Write(ctx context.Context, db *ent.Client, e Event) error {
	r := RequestFrom(ctx)
	c := db.LogEvent.Create().
		SetType(e.Type).
		SetDescription(truncate(e.Description, 2048)).
		SetIP(truncate(r.IP, 512)).
		SetUserAgent(truncate(r.UserAgent, 512)).
		SetClientID(e.ClientID).
		SetClientName(e.ClientName).
		SetConnection(e.Connection).
		SetConnectionID(e.ConnectionID).
		SetStrategy(e.Strategy).
		SetStrategyType(e.StrategyType).
		SetUserID(e.UserID).
		SetUserName(truncate(e.UserName, 512))
	if e.Details != nil {
		c.SetDetails(e.Details)
	}
	if !e.Date.IsZero() {
		c.SetDate(e.Date)
	}
	return c.Exec(authz.SystemContext(ctx))
}

func truncate(s string, n int) string { return Truncate(s, n) }

// Truncate cuts s to at most n bytes without splitting a UTF-8 character,
// and replaces invalid UTF-8 (Postgres refuses text holding either): the
// user agent and the descriptions come from clients.
func Truncate(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
