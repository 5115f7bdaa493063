// Package mfa owns second factors: the tenant's MFA policy, users'
// authenticators (TOTP, recovery codes, email one-time codes), their
// enrollment, verification with replay protection, and the lockout after
// repeated wrong codes. The hosted pages (server/login) and the management
// API (graph/, server/apiv2) call it; it never renders anything but the QR
// code image of a TOTP enrollment.
package mfa

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/mail"
	"github.com/authgraph/authgraph/secretbox"
)

// Policy says when a second factor is asked for.
type Policy string

// Policies, as the GraphQL enum MfaPolicy spells them in lower case.
const (
	// PolicyNever challenges nobody (unless a rule or acr_values asks).
	PolicyNever Policy = "never"
	// PolicyOptIn challenges users who enrolled a factor.
	PolicyOptIn Policy = "opt_in"
	// PolicyAlways challenges every interactive login, enrolling a factor
	// at the first login of a user who has none.
	PolicyAlways Policy = "always"
)

// Factor is a kind of second factor an administrator may enable.
type Factor string

// Factors.
const (
	FactorTOTP         Factor = "totp"
	FactorWebAuthn     Factor = "webauthn"
	FactorRecoveryCode Factor = "recovery_code"
	FactorEmail        Factor = "email"
)

// Settings are the tenant's MFA settings.
type Settings struct {
	Policy  Policy
	Factors []Factor
	// RememberBrowserDays, when > 0, offers "remember this browser for N
	// days" on the challenge page (off by default).
	RememberBrowserDays int
}

// Authenticator is one enrolled factor of a user, as listed to the user and
// to administrators. Secrets never leave the package.
type Authenticator struct {
	ID         string
	Type       Factor
	Name       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	// Confirmed is false for an enrollment not yet confirmed by a first
	// valid code; unconfirmed authenticators never satisfy a challenge.
	Confirmed bool
}

// TOTPEnrollment is a TOTP authenticator waiting for its first code.
type TOTPEnrollment struct {
	AuthenticatorID string
	// Secret is the base32 seed shown as text beside the QR code.
	Secret string
	// URL is the otpauth:// URL the QR code encodes.
	URL string
	// QRCodePNG is the QR code of URL, rendered here (no external service).
	QRCodePNG []byte
}

// Errors. Pages and the API translate them; ErrInvalidCode is the answer to
// any wrong, expired or replayed code (no oracle for which).
var (
	ErrInvalidCode = errors.New("mfa: invalid code")
	// ErrLocked: too many wrong codes; the MFA step is locked until
	// LockedError.Until.
	ErrLocked = errors.New("mfa: too many wrong codes")
	// ErrFactorDisabled: the administrator has not enabled this factor.
	ErrFactorDisabled = errors.New("mfa: factor not enabled")
	// ErrNotFound: no such authenticator or enrollment for this user.
	ErrNotFound = errors.New("mfa: authenticator not found")
)

// LockedError is ErrLocked with the end of the lockout.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string { return ErrLocked.Error() }

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Config wires the service. Every field but Now and Logger is required.
type Config struct {
	DB *ent.Client
	// Box seals TOTP seeds (with the master key).
	Box *secretbox.Box
	// Mail sends email one-time codes.
	Mail mail.Sender
	// Issuer names the TOTP account ("issuer" of the otpauth URL is its
	// host).
	Issuer string
	Logger *slog.Logger
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// Service is the MFA use cases.
type Service struct{ cfg Config }

// New returns the service.
func New(cfg Config) (*Service, error) {
	return nil, errors.New("mfa: not implemented")
}

// LoginContext names the login a verification belongs to, for log events.
type LoginContext struct {
	ClientID, ClientName, Connection string
}

// Settings returns the tenant's settings (policy NEVER, factors TOTP and
// RECOVERY_CODE, when never set).
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	return Settings{}, errors.New("not implemented")
}

// UpdateSettings replaces the tenant's settings.
func (s *Service) UpdateSettings(ctx context.Context, in Settings) (Settings, error) {
	return Settings{}, errors.New("not implemented")
}

// Authenticators lists a user's authenticators (confirmed and pending),
// oldest first; recovery codes appear as one authenticator.
func (s *Service) Authenticators(ctx context.Context, userID pulid.ID) ([]Authenticator, error) {
	return nil, errors.New("not implemented")
}

// Enrolled reports whether the user has a confirmed factor that can answer a
// challenge (TOTP, WebAuthn or email; recovery codes alone do not count).
func (s *Service) Enrolled(ctx context.Context, userID pulid.ID) (bool, error) {
	return false, errors.New("not implemented")
}

// StartTOTP creates a pending TOTP authenticator for the user, replacing an
// earlier pending one. accountName is shown in the authenticator app
// (usually the email).
func (s *Service) StartTOTP(ctx context.Context, userID pulid.ID, accountName string) (*TOTPEnrollment, error) {
	return nil, errors.New("not implemented")
}

// ConfirmTOTP confirms a pending TOTP authenticator with its first valid
// code. When the user had no recovery codes (and they are enabled), it
// creates 10 and returns them: shown once, stored hashed.
func (s *Service) ConfirmTOTP(ctx context.Context, userID pulid.ID, authenticatorID, code string, lc LoginContext) (recoveryCodes []string, err error) {
	return nil, errors.New("not implemented")
}

// VerifyTOTP checks a code against the user's confirmed TOTP
// authenticators (±1 step; a code is accepted once). Wrong codes count
// towards the lockout.
func (s *Service) VerifyTOTP(ctx context.Context, userID pulid.ID, code string, lc LoginContext) error {
	return errors.New("not implemented")
}

// VerifyRecoveryCode consumes one unused recovery code.
func (s *Service) VerifyRecoveryCode(ctx context.Context, userID pulid.ID, code string, lc LoginContext) error {
	return errors.New("not implemented")
}

// RegenerateRecoveryCodes replaces the user's recovery codes with 10 new
// ones, returned once.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID pulid.ID) ([]string, error) {
	return nil, errors.New("not implemented")
}

// SendEmailCode emails a 6-digit one-time code (valid 5 minutes) to the
// user's verified email address; enrolling the email factor is implicit.
func (s *Service) SendEmailCode(ctx context.Context, userID pulid.ID, lc LoginContext) error {
	return errors.New("not implemented")
}

// VerifyEmailCode checks the last emailed code (single use).
func (s *Service) VerifyEmailCode(ctx context.Context, userID pulid.ID, code string, lc LoginContext) error {
	return errors.New("not implemented")
}

// Delete removes one authenticator of the user.
func (s *Service) Delete(ctx context.Context, userID pulid.ID, authenticatorID string) error {
	return errors.New("not implemented")
}

// Reset removes all of the user's authenticators and recovery codes (the
// user enrolls again at the next login that needs a factor).
func (s *Service) Reset(ctx context.Context, userID pulid.ID) error {
	return errors.New("not implemented")
}

// CreateEnrollmentTicket creates a single-use link token with which the user
// enrolls a factor without logging in first (an administrator's
// createMfaEnrollmentTicket); the page is {issuer}login/mfa/enroll?ticket=T.
func (s *Service) CreateEnrollmentTicket(ctx context.Context, userID pulid.ID, ttl time.Duration) (token string, expiresAt time.Time, err error) {
	return "", time.Time{}, errors.New("not implemented")
}

// EnrollmentTicketUser returns the user of a valid, unused enrollment
// ticket (ErrNotFound otherwise).
func (s *Service) EnrollmentTicketUser(ctx context.Context, token string) (pulid.ID, error) {
	return "", errors.New("not implemented")
}

// ConsumeEnrollmentTicket marks the ticket used (after the enrollment is
// confirmed); a second call fails with ErrNotFound.
func (s *Service) ConsumeEnrollmentTicket(ctx context.Context, token string) error {
	return errors.New("not implemented")
}

// RememberBrowser returns an opaque cookie value that lets this user skip
// the challenge in this browser for days (the "remember this browser"
// option). Resetting or deleting the user's authenticators invalidates it.
func (s *Service) RememberBrowser(ctx context.Context, userID pulid.ID, days int) (string, error) {
	return "", errors.New("not implemented")
}

// Remembered reports whether value, from RememberBrowser, is still valid
// for this user.
func (s *Service) Remembered(ctx context.Context, userID pulid.ID, value string) bool {
	return false
}
