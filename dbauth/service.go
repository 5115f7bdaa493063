// Package dbauth authenticates users of database connections (strategy
// `database`, docs/DATABASE_CONNECTIONS.md): password login by email or username, signup,
// password changes with the connection's policy and history, single-use
// password-change and email-verification tickets, forgot-password, and
// brute-force protection per (identifier, IP).
//
// Every database access runs as the system viewer (authz.SystemContext): a
// login is authorised by the password, not by a token's scopes.
package dbauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth/lockout"
	"github.com/authgraph/authgraph/ent"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mail"
	"github.com/authgraph/authgraph/metrics"
	"github.com/authgraph/authgraph/passwords"
	"github.com/authgraph/authgraph/store"
)

// Errors. The edges translate them: ErrInvalidCredentials and
// ErrTooManyAttempts never say whether the identifier exists.
var (
	// ErrInvalidCredentials: unknown user, wrong password or no password.
	ErrInvalidCredentials = errors.New("wrong email/username or password")
	// ErrBlocked: the password was right but an administrator blocked the
	// user (CheckPassword; a login is refused by authn.Finalize, OAuth
	// unauthorized, "user is blocked").
	ErrBlocked = errors.New("user is blocked")
	// ErrTooManyAttempts: brute-force protection refuses this (identifier,
	// IP) for now (HTTP 429 too_many_attempts); lockout's, shared with the
	// other password strategies.
	ErrTooManyAttempts = lockout.ErrTooManyAttempts
	// ErrUnknownConnection: no database connection with this name.
	ErrUnknownConnection = errors.New("unknown database connection")
	// ErrSignupDisabled: the connection has disable_signup.
	ErrSignupDisabled = errors.New("signup is disabled for this connection")
	// ErrUserExists: signup with an email or username already taken.
	ErrUserExists = errors.New("the user already exists")
	// ErrTicketInvalid: unknown, used, superseded or expired ticket.
	ErrTicketInvalid = errors.New("this link is invalid or has expired")
	// ErrNoDatabaseIdentity: the user has no database identity to hold a
	// password.
	ErrNoDatabaseIdentity = errors.New("user has no database identity")
	// ErrBusy: no password hash computation could start within the
	// limiter's queue wait (HTTP 503 with Retry-After). It says nothing
	// about the password or the user: a busy login counts no failure.
	ErrBusy = passwords.ErrBusy
)

// Brute-force defaults (docs/DATABASE_CONNECTIONS.md).
const (
	DefaultMaxAttempts = lockout.DefaultMaxAttempts
	DefaultBlockFor    = lockout.DefaultBlockFor
)

// DefaultTicketTTL is a ticket's lifetime when none is given: 432000 s
// (5 days), as Auth0's.
const DefaultTicketTTL = 432000 * time.Second

// DefaultResetTicketTTL is the lifetime of the links forgot-password
// emails (the server's --reset-ticket-ttl). Tickets of the management API
// keep DefaultTicketTTL, as Auth0's.
const DefaultResetTicketTTL = time.Hour

// Forgot-password and signup-notice limits (per address: emails sent to
// it; per IP: forgot-password requests and signups of existing addresses
// it makes), per ThrottleWindow.
const (
	DefaultResetPerAddress = 5
	DefaultResetPerIP      = 20
	ThrottleWindow         = time.Hour
)

// DefaultResetFloor is the least time RequestPasswordReset takes, so that
// its answer time does not tell a known address (ticket written) from an
// unknown one. The email itself is sent in the background.
const DefaultResetFloor = 250 * time.Millisecond

// Service authenticates database-connection users.
type Service struct {
	DB *ent.Client
	// Mail sends verification and reset emails.
	Mail mail.Sender
	// Issuer is the issuer URL ending in "/"; ticket links are
	// {Issuer}login/reset?ticket=… and {Issuer}login/verify?ticket=….
	Issuer string
	Logger *slog.Logger
	// MaxAttempts is the brute-force threshold (default 10).
	MaxAttempts int
	// BlockFor is how long a brute-force block lasts after the last
	// failure (default 30 days).
	BlockFor time.Duration
	// ResetFloor is the minimum duration of RequestPasswordReset.
	ResetFloor time.Duration
	// ResetTicketTTL is the lifetime of forgot-password links (default
	// DefaultResetTicketTTL, 1 hour).
	ResetTicketTTL time.Duration
	// ResetPerAddress and ResetPerIP bound forgot-password requests and
	// signup notices per ThrottleWindow (defaults DefaultResetPerAddress and
	// DefaultResetPerIP); beyond them nothing is sent, and the answer is
	// the same.
	ResetPerAddress, ResetPerIP int
	Now                         func() time.Time
	// CustomDB runs the scripts of custom-database connections (signup,
	// reset, password change, verification: customdb.go); nil leaves
	// those connections to their logins only.
	CustomDB CustomDB
	// Passwords admits every password hash and verification (logins,
	// signups, changes, resets, history checks): beyond its bound and
	// queue wait they fail with ErrBusy. Nil admits everything (tests).
	Passwords *passwords.Limiter
	// Metrics counts failed and blocked logins (nil: not measured).
	Metrics *metrics.Registry

	mailWG   sync.WaitGroup
	throttle throttle
	// conns caches the database and custom-database connections for logins
	// (loginstate.go).
	connsOnce sync.Once
	conns     *store.Cache[struct{}, []*ent.Connection]
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) resetTicketTTL() time.Duration {
	if s.ResetTicketTTL > 0 {
		return s.ResetTicketTTL
	}
	return DefaultResetTicketTTL
}

// allowMail counts one request from the client's IP and, when the IP is
// within its limit, one email to address; it reports whether both are
// within their limits. An IP over its limit adds no address count, so it
// cannot fill the throttle's memory with addresses.
func (s *Service) allowMail(ctx context.Context, address string) bool {
	perAddr, perIP := s.ResetPerAddress, s.ResetPerIP
	if perAddr <= 0 {
		perAddr = DefaultResetPerAddress
	}
	if perIP <= 0 {
		perIP = DefaultResetPerIP
	}
	now := s.now()
	if !s.throttle.allow(now, perIP, ThrottleWindow, ipThrottleKey(clientIP(ctx))) {
		return false
	}
	return s.throttle.allow(now, perAddr, ThrottleWindow, "address\x00"+address)
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Wait blocks until the emails queued so far are handed to the Sender (for
// shutdown and tests).
func (s *Service) Wait() { s.mailWG.Wait() }

// verifyDummy is (*passwords.Limiter).VerifyDummy; tests count its calls.
var verifyDummy = (*passwords.Limiter).VerifyDummy

// Connection returns the database connection called name (through the
// login's connection cache, loginstate.go).
func (s *Service) Connection(ctx context.Context, name string) (*ent.Connection, error) {
	return s.loginConnection(ctx, name)
}

// SignupAllowed reports whether conn accepts self-service signups.
func SignupAllowed(conn *ent.Connection) bool {
	return !boolOpt(conn.Options, "disable_signup", false)
}

// RequiresUsername reports whether conn's users have usernames (and may log
// in with them).
func RequiresUsername(conn *ent.Connection) bool {
	return boolOpt(conn.Options, "requires_username", false)
}

// BruteForceProtection reports whether conn counts failed logins (on unless
// brute_force_protection is false).
func BruteForceProtection(conn *ent.Connection) bool {
	return lockout.Enabled(conn.Options)
}

func boolOpt(opts map[string]any, key string, def bool) bool {
	if b, ok := opts[key].(bool); ok {
		return b
	}
	return def
}

// LoginInput is a password login.
type LoginInput struct {
	Connection string
	// Identifier is the email, or the username when the connection
	// requires usernames (either is accepted then).
	Identifier string
	Password   string
	// ClientID and ClientName go into the log events.
	ClientID, ClientName string
}

// LoginResult is a correct password.
type LoginResult struct {
	User       *ent.User
	Identity   *ent.Identity
	Connection *ent.Connection
	// Pending is what the login leaves for authn.Finalize to record once
	// it is decided: the end of the brute-force counter, the login
	// counters, an upgraded hash, the log event and the session.
	Pending *authn.Pending
}

// Login checks a password. It returns ErrTooManyAttempts (before any hash
// work) for a blocked (identifier, IP), ErrInvalidCredentials for an unknown
// user or a wrong password (the unknown user costs one dummy hash
// verification, so both take the same time, and each is counted and logged:
// f, fp, fu, limit_wc), and ErrBusy when the verification (real or dummy,
// admitted alike) found no slot in time (no failure is counted or logged).
// A correct password writes nothing here: the result's Pending carries the
// end of the brute-force counter, the login counters (bumped also for a
// blocked user, docs/PROFILE.md), the upgrade of a bcrypt or outdated
// argon2id hash (unless the limiter is busy then) and the s event, which
// authn.Finalize records with the login's session once it has decided the
// login (a blocked user is refused there).
func (s *Service) Login(ctx context.Context, in LoginInput) (*LoginResult, error) {
	sys := authz.SystemContext(ctx)
	conn, err := s.loginConnection(ctx, in.Connection) // loginstate.go
	if err != nil {
		return nil, err
	}
	ident := NormalizeIdentifier(in.Identifier)
	ev := logs.Event{ClientID: in.ClientID, ClientName: in.ClientName, Connection: conn.Name,
		ConnectionID: string(conn.ID), Strategy: "auth0", StrategyType: "database", UserName: ident}
	ip := clientIP(ctx)
	bf := BruteForceProtection(conn)

	// The attempt is counted before any password is checked, in one atomic
	// statement (lockout.Reserve): parallel attempts cannot all pass a
	// counter that still reads below the threshold.
	var att *lockout.Attempt
	if bf && ident != "" {
		att, err = s.guard().Reserve(sys, lockout.Key{Connection: conn.Name, Identifier: ident, IP: ip})
		if errors.Is(err, lockout.ErrTooManyAttempts) {
			ev.Type, ev.Description = logs.TypeBruteForceBlock, "Too many failed login attempts for this identifier from this IP"
			s.writeLog(ctx, ev)
			s.Metrics.BruteForceBlock(conn.Name)
			s.Metrics.Login(conn.Name, metrics.LoginBlocked)
			return nil, ErrTooManyAttempts
		}
		if err != nil {
			return nil, err
		}
	}
	fail := func(typ, desc string) (*LoginResult, error) {
		if att != nil {
			if err := att.Failed(sys); err != nil {
				return nil, fmt.Errorf("dbauth: counting a failed login: %w", err)
			}
		}
		ev.Type, ev.Description = typ, desc
		s.writeLog(ctx, ev)
		s.Metrics.Login(conn.Name, metrics.LoginFailure)
		return nil, ErrInvalidCredentials
	}
	// busy: the verification was not admitted, so there is no verdict on
	// the password: the attempt is uncounted, and nothing is logged (a
	// storm would otherwise flood the log with failures that were none).
	busy := func(err error) (*LoginResult, error) {
		if att != nil {
			_ = att.Release(sys)
		}
		return nil, err
	}
	if ident == "" || in.Password == "" {
		if err := verifyDummy(s.Passwords, ctx, in.Password); !errors.Is(err, passwords.ErrMismatch) {
			return busy(err)
		}
		return fail(logs.TypeUnknownUser, "Missing email/username or password")
	}

	idn, err := s.findIdentity(sys, conn, ident)
	if err != nil {
		if att != nil {
			_ = att.Release(sys) // no verdict on the password
		}
		return nil, err
	}
	if idn == nil || idn.PasswordHash == nil || *idn.PasswordHash == "" {
		if err := verifyDummy(s.Passwords, ctx, in.Password); !errors.Is(err, passwords.ErrMismatch) {
			return busy(err)
		}
		if idn == nil {
			return fail(logs.TypeUnknownUser, "Wrong email or username")
		}
		ev.UserID = idn.Edges.User.UserID
		return fail(logs.TypeWrongPassword, "User has no password")
	}
	u := idn.Edges.User
	ev.UserID = u.UserID
	if err := s.Passwords.Verify(ctx, *idn.PasswordHash, in.Password); err != nil {
		if !errors.Is(err, passwords.ErrMismatch) && !errors.Is(err, passwords.ErrUnsupported) {
			return busy(err) // ErrBusy, or the request ended while queued
		}
		desc := "Wrong email or password."
		if errors.Is(err, passwords.ErrUnsupported) {
			desc = "Stored password hash is not supported"
		}
		return fail(logs.TypeWrongPassword, desc)
	}

	// The password is right: the failure counter of this (identifier, IP)
	// starts over (a failure counted concurrently may survive), an
	// outdated hash is upgraded and the login is recorded, all in the
	// login's record (authn.Store: one transaction, one statement on
	// Postgres), so the reservation above costs no statement of its own.
	pending := &authn.Pending{CountLogin: true, Event: ev}
	if att != nil {
		pending.Attempt = &att.Key
	}
	if upgradeHashes(conn) && passwords.NeedsRehash(*idn.PasswordHash) {
		// A busy limiter leaves the hash for a later login: the password
		// was right, and the login is not refused for an optional step.
		if h, err := s.Passwords.Hash(ctx, in.Password); err == nil {
			pending.UpgradeIdentity, pending.UpgradeHash = idn.ID, h
		}
	}
	return &LoginResult{User: u, Identity: idn, Connection: conn, Pending: pending}, nil
}

// findIdentity returns the identity of conn whose email (or username, when
// the connection has usernames) is ident, with its user; nil when none.
func (s *Service) findIdentity(ctx context.Context, conn *ent.Connection, ident string) (*ent.Identity, error) {
	pred := entidentity.EmailLower(ident)
	if RequiresUsername(conn) {
		// Unambiguous: a username is never a valid email address.
		pred = entidentity.Or(pred, entidentity.Username(ident))
	}
	idn, err := s.DB.Identity.Query().
		Where(entidentity.ConnectionID(conn.ID), pred).
		WithUser().
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return idn, err
}

// NormalizeIdentifier trims and lowercases an email or username: database
// connections store both lowercased. An email address is also put in the
// form stored addresses have (emailaddr.Normalize: NFC, ASCII domain), so
// that "alice@bücher.de" finds "alice@xn--bcher-kva.de" and brute-force
// counters see one identifier. An identifier Normalize refuses (a
// look-alike, or a username) is kept as typed: it matches no stored
// address, and signup refuses it through identity. It is lockout.Normalize,
// so a login, its brute-force counter and an unblock see one identifier
// whatever the strategy.
func NormalizeIdentifier(s string) string {
	return lockout.Normalize(s)
}

func clientIP(ctx context.Context) string {
	if ip := logs.RequestFrom(ctx).IP; ip != "" {
		return truncate(ip, 64)
	}
	return "unknown"
}

func (s *Service) writeLog(ctx context.Context, e logs.Event) {
	if err := logs.Write(ctx, s.DB, e); err != nil {
		s.logger().Error("writing log event", "type", e.Type, "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// upgradeHashes reports whether logins re-hash imported hashes to argon2id
// (connection option upgrade_password_hashes, default true).
func upgradeHashes(conn *ent.Connection) bool {
	v, ok := conn.Options["upgrade_password_hashes"].(bool)
	return !ok || v
}

// CheckPassword checks the password of a signed-in user who is about to
// change it (the account page): Login's checks, counting and events for a
// wrong password, but a correct one only ends the brute-force counter: it
// is not a login, so nothing else is recorded. ErrBlocked for a blocked
// user.
func (s *Service) CheckPassword(ctx context.Context, in LoginInput) (*ent.User, error) {
	res, err := s.Login(ctx, in)
	if err != nil {
		return nil, err
	}
	if a := res.Pending.Attempt; a != nil {
		if _, err := s.DB.LoginAttempt.Delete().
			Where(loginattempt.Connection(a.Connection), loginattempt.Identifier(a.Identifier), loginattempt.IP(a.IP)).
			Exec(authz.SystemContext(ctx)); err != nil {
			return nil, fmt.Errorf("dbauth: ending a brute-force counter: %w", err)
		}
	}
	if res.User.Blocked {
		return nil, ErrBlocked
	}
	return res.User, nil
}
