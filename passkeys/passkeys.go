// Package passkeys runs the WebAuthn ceremonies (github.com/go-webauthn)
// of security keys and passkeys: registering a credential, answering a
// second-factor challenge with one, and signing in with a discoverable
// credential (a passkey) as the first factor. Credentials are the users'
// Authenticator rows of type webauthn, as package mfa lists, counts and
// removes them; this package writes their WebAuthn columns.
//
// The relying party is the issuer: RP ID its host (no port), origin its
// scheme and host. A ceremony's state (challenge, user, options) is sealed
// with the master key, bound to what the caller names (an auth request, a
// session) and to its purpose, and lives 5 minutes; the caller keeps it
// (server/login: in a cookie) and hands it back with the browser's answer.
// A state is good for one use: a registration stores its credential once
// (credential ids are unique), and an assertion is accepted only when its
// credential was not used since the ceremony began (a conditional update),
// so a captured answer cannot be replayed.
//
// A sign count that does not grow (when either the stored or the new one is
// non-zero) means the credential may have been cloned: the assertion is
// refused, the credential left as it was, and gd_webauthn_clone_detected
// logged.
package passkeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/secretbox"
)

// CeremonyTTL is how long a begun ceremony may be finished.
const CeremonyTTL = 5 * time.Minute

// Default names of new credentials (users may rename them later).
const (
	NameSecurityKey = "Security key"
	NamePasskey     = "Passkey"
)

// AMR values (RFC 8176) of a WebAuthn login.
const (
	// AMRHardwareKey: the credential is bound to its authenticator.
	AMRHardwareKey = "hwk"
	// AMRSoftwareKey: the credential is backup eligible (a synced
	// passkey): its private key is copied between devices by a passkey
	// provider, so it is not bound to one piece of hardware.
	AMRSoftwareKey = "swk"
	// AMRUserPresence: the authenticator verified the user (PIN or
	// biometrics); with the key itself, two factors.
	AMRUserPresence = "user"
)

// Errors. The pages translate them; none says whether a user or a
// credential exists.
var (
	// ErrUnavailable: the issuer's host is no valid RP ID (an IP
	// address), or the WEBAUTHN factor is not enabled.
	ErrUnavailable = errors.New("passkeys: WebAuthn is not available")
	// ErrCeremony: the state is missing, expired, of another ceremony,
	// already used, or the browser's answer does not verify.
	ErrCeremony = errors.New("passkeys: the security key's answer was refused")
	// ErrCloned: the sign count went backwards (a cloned credential).
	ErrCloned = errors.New("passkeys: the credential's sign count did not increase")
	// ErrUnknownCredential: the credential is not registered (or not the
	// user's).
	ErrUnknownCredential = errors.New("passkeys: unknown credential")
)

// Config wires the service. Every field but DisplayName, Logger and Now is
// required.
type Config struct {
	DB *ent.Client
	// MFA says whether the WEBAUTHN factor is enabled.
	MFA *mfa.Service
	// Box seals ceremony states (master key).
	Box    *secretbox.Box
	Issuer string
	// DisplayName is the relying party's name shown by browsers;
	// "Authgraph" when empty.
	DisplayName string
	Logger      *slog.Logger
	Now         func() time.Time
}

// Service runs the ceremonies.
type Service struct {
	cfg Config
	wa  *gowebauthn.WebAuthn
}

// New returns the service. It fails when the issuer's host cannot be a
// WebAuthn RP ID (an IP address): WebAuthn needs a domain name.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.MFA == nil || cfg.Box == nil || cfg.Issuer == "" {
		return nil, errors.New("passkeys: DB, MFA, Box and Issuer are required")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Host == "" || u.Scheme == "" {
		return nil, fmt.Errorf("passkeys: issuer %q is not an absolute URL", cfg.Issuer)
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = "Authgraph"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	wa, err := gowebauthn.New(&gowebauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: cfg.DisplayName,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		Timeouts: gowebauthn.TimeoutsConfig{
			Login:        gowebauthn.TimeoutConfig{Enforce: true, Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
			Registration: gowebauthn.TimeoutConfig{Enforce: true, Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return &Service{cfg: cfg, wa: wa}, nil
}

// RPID is the relying party id (the issuer's host).
func (s *Service) RPID() string { return s.wa.Config.RPID }

// Available reports whether the WEBAUTHN factor is enabled.
func (s *Service) Available(ctx context.Context) (bool, error) {
	st, err := s.cfg.MFA.Settings(ctx)
	if err != nil {
		return false, err
	}
	return st.Enabled(mfa.FactorWebAuthn), nil
}

func (s *Service) requireEnabled(ctx context.Context) error {
	ok, err := s.Available(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return ErrUnavailable
	}
	return nil
}

// Ceremony is a begun ceremony.
type Ceremony struct {
	// Options are for the browser: {"publicKey": {...}}, binary values
	// base64url-encoded (PublicKeyCredentialCreationOptionsJSON or
	// PublicKeyCredentialRequestOptionsJSON), to decode and pass to
	// navigator.credentials.create or get.
	Options json.RawMessage
	// State is the sealed ceremony state the caller keeps and gives back
	// to the Finish call (opaque, URL- and cookie-safe).
	State string
}

// Result is a passed assertion.
type Result struct {
	UserID pulid.ID
	// User is the passkey's user, as read for the ceremony.
	User            *ent.User
	AuthenticatorID string
	// AMR are the methods the assertion proves: hwk or swk, and "user"
	// when the authenticator verified the user.
	AMR []string
	// UserVerified: the authenticator verified the user (PIN,
	// biometrics).
	UserVerified bool
}

// Registered is a stored credential.
type Registered struct {
	AuthenticatorID string
	Name            string
	// Passkey: registered as a discoverable credential with user
	// verification.
	Passkey bool
	// AMR are the methods the registration proved, as an assertion's.
	AMR []string
}

// amrOf is the AMR of an assertion with a credential of these flags.
func amrOf(backupEligible, userVerified bool) []string {
	key := AMRHardwareKey
	if backupEligible {
		key = AMRSoftwareKey
	}
	if userVerified {
		return []string{key, AMRUserPresence}
	}
	return []string{key}
}

// parseCreation and parseAssertion read the browser's JSON answer.
func parseCreation(body []byte) (*protocol.ParsedCredentialCreationData, error) {
	p, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCeremony, err)
	}
	return p, nil
}

func parseAssertion(body []byte) (*protocol.ParsedCredentialAssertionData, error) {
	p, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCeremony, err)
	}
	return p, nil
}
