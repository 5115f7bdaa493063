// Package mfa owns second factors: the tenant's MFA policy, users'
// authenticators (TOTP, recovery codes, email one-time codes), their
// enrollment, verification with replay protection, and the lockout after
// repeated wrong codes. The hosted pages (server/login) and the management
// API (graph/, server/apiv2) call it; it never renders anything but the QR
// code image of a TOTP enrollment.
package mfa

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/mail"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/store"
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
	// ErrNoVerifiedEmail: the email factor needs the user's address to be
	// verified (an unverified one may not be theirs).
	ErrNoVerifiedEmail = errors.New("mfa: the user has no verified email address")
	// ErrAlreadyEnrolled: the user already has a confirmed factor (recovery
	// codes included). Setting one up, at login or with an enrollment
	// ticket, is only for users who have none: anyone holding just the
	// password could otherwise add their own. An administrator resets the
	// user's factors first.
	ErrAlreadyEnrolled = errors.New("mfa: the user already has a second factor")
	// ErrTooManyEmails: EmailSendsPerHour codes were already emailed to
	// the user within the last hour.
	ErrTooManyEmails = errors.New("mfa: too many codes emailed")
)

// SettingsError is an invalid settings update; Field names the setting
// (policy, factors, rememberBrowserDays).
type SettingsError struct{ Field, Message string }

func (e *SettingsError) Error() string { return "mfa: " + e.Field + ": " + e.Message }

// Limits (docs/MFA.md).
const (
	// MaxFailures wrong codes in a row, across factors, lock the user's
	// MFA step for LockFor. The count is forgotten LockFor after the last
	// wrong code, and after a correct one.
	MaxFailures = 5
	LockFor     = 15 * time.Minute
	// RecoveryCodeCount codes are made at once; each works once.
	RecoveryCodeCount = 10
	// EmailCodeTTL is how long an emailed code works; EmailResendAfter is
	// the shortest interval between two emails (an earlier request sends
	// nothing: the code already sent still works).
	EmailCodeTTL     = 5 * time.Minute
	EmailResendAfter = 30 * time.Second
	// EmailSendsPerHour bounds the emails sent to one user in any hour,
	// whoever asks (a password is enough to ask): no mail bombing.
	EmailSendsPerHour = 10
	// EnrollmentTicketTTL is an enrollment ticket's lifetime when the
	// caller gives none.
	EnrollmentTicketTTL = 5 * 24 * time.Hour
	// MaxRememberBrowserDays bounds Settings.RememberBrowserDays.
	MaxRememberBrowserDays = 365
	// EnrollPath is the page of enrollment tickets under the issuer
	// ({issuer}login/mfa/enroll?ticket=T), served by server/login.
	EnrollPath = "login/mfa/enroll"
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
type Service struct {
	cfg        Config
	issuerHost string
	// settings caches the tenant's settings (read at every login): a
	// change made through this process is seen at once, one made by
	// another node within settingsTTL.
	settings *store.Cache[struct{}, Settings]
}

// settingsTTL bounds how stale another node's settings change may be here.
const settingsTTL = 2 * time.Second

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Box == nil || cfg.Mail == nil || cfg.Issuer == "" {
		return nil, errors.New("mfa: DB, Box, Mail and Issuer are required")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("mfa: issuer %q is not an absolute URL", cfg.Issuer)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{
		cfg:        cfg,
		issuerHost: u.Hostname(),
		settings:   store.NewCache[struct{}, Settings](cfg.DB, settingsTTL, 1, ent.TypeMfaConfig).Named("mfa_settings"),
	}, nil
}

// LoginContext names the login a verification belongs to, for log events.
type LoginContext struct {
	ClientID, ClientName, Connection string
}
