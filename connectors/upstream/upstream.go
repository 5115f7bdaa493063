// Package upstream runs logins through non-database connections: it builds
// the strategy's connector from the connection's options (cached until the
// connection changes), asks it for the user, syncs the result through
// identity.SyncUpstream, and logs the failures (f, fp, fu) as dbauth does
// for database connections. A login vouched for is not decided here: its
// Result carries what authn.Finalize records once it has (the s event, the
// end of the brute-force counter, the session); a blocked user is refused
// there.
//
// Every database access runs as the system viewer: a login is authorised by
// the upstream, not by a token's scopes.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/connectors/ldap"
	"github.com/authgraph/authgraph/connectors/mapping"
	"github.com/authgraph/authgraph/connectors/oidc"
	"github.com/authgraph/authgraph/dbauth/lockout"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/tracing"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/metrics"
	"github.com/authgraph/authgraph/outbound"
	"github.com/authgraph/authgraph/passwords"
	"github.com/authgraph/authgraph/rules"
)

// retiredConnectorGrace outlasts the longest custom-database script (20 s
// at most) before a replaced connector's database pool is closed.
const retiredConnectorGrace = 30 * time.Second

// Errors the edges translate.
var (
	// ErrUnknownConnection: no such connection of a strategy that can do
	// what was asked.
	ErrUnknownConnection = errors.New("unknown connection")
)

// Service runs upstream logins.
type Service struct {
	DB          *ent.Client
	Connections *connections.Service
	// Sealer seals upstream tokens (the master key's secretbox).
	Sealer identity.Sealer
	Logger *slog.Logger
	Now    func() time.Time
	// Issuer (ending in "/") places the SAML SP endpoints:
	// {Issuer}saml/<connection>/metadata and …/acs.
	Issuer string
	// SPKey signs SAML AuthnRequests (signSAMLRequest); nil refuses that
	// option.
	SPKey SPKeyFunc
	// Scripts runs custom-database scripts (the rules engine); nil refuses
	// customdb connections (customdb.go).
	Scripts *rules.Engine
	// Lockout counts password attempts of LDAP and custom-database
	// connections, as dbauth does for database ones (nil: the defaults on
	// DB).
	Lockout *lockout.Guard
	// Passwords admits the hash computations of custom-database logins
	// and migrated users (passwords.ErrBusy beyond it); nil admits all.
	Passwords *passwords.Limiter
	// Metrics counts failed and blocked password logins and times
	// custom-database scripts (nil: not measured).
	Metrics *metrics.Registry

	mu    sync.Mutex
	cache map[pulid.ID]cached
	// failures is the outbound failure cache of every connector, kept
	// across rebuilds: a connector whose upstream failed is rebuilt on the
	// next login, and must not retry at once.
	failures outbound.FailureCache
}

type cached struct {
	updated time.Time
	conn    any
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Connection returns the connection called name, of any strategy.
func (s *Service) Connection(ctx context.Context, name string) (*ent.Connection, error) {
	c, err := s.DB.Connection.Query().Where(connection.Name(name)).Only(authz.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, ErrUnknownConnection
	}
	return c, err
}

// Connector returns conn's connector (cached per connection version).
func (s *Service) Connector(conn *ent.Connection) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[conn.ID]; ok && c.updated.Equal(conn.UpdatedAt) {
		return c.conn, nil
	}
	secrets := map[string]any{}
	if s.Connections != nil {
		var err error
		if secrets, err = s.Connections.Secrets(conn); err != nil {
			return nil, err
		}
	}
	var built any
	switch conn.Strategy {
	case connection.StrategyLdap:
		c, err := ldap.New(ldap.FromOptions(conn.Name, conn.Options, secrets))
		if err != nil {
			return nil, err
		}
		built = c
	case connection.StrategyOidc:
		cfg := oidc.FromOptions(conn.Name, conn.Options, secrets)
		cfg.Failures = &s.failures
		c, err := oidc.New(cfg)
		if err != nil {
			return nil, err
		}
		built = c
	case connection.StrategyCustomdb: // custom database scripts (customdb.go)
		c, err := s.customDBConnector(conn, secrets)
		if err != nil {
			return nil, err
		}
		built = c
	case connection.StrategySaml:
		c, err := s.samlConnector(conn)
		if err != nil {
			return nil, err
		}
		built = c
	default:
		return nil, fmt.Errorf("%w: %s connections are not handled here", ErrUnknownConnection, conn.Strategy)
	}
	if old, ok := s.cache[conn.ID]; ok {
		if c, ok := old.conn.(interface{ Close() }); ok {
			// A login may still be running a script on the old connector:
			// close its pool only after the longest script could have ended.
			time.AfterFunc(retiredConnectorGrace, c.Close)
		}
	}
	if s.cache == nil {
		s.cache = map[pulid.ID]cached{}
	}
	s.cache[conn.ID] = cached{updated: conn.UpdatedAt, conn: built}
	return built, nil
}

// IsPasswordStrategy reports whether users of strategy type a password on
// the hosted page (besides database connections).
// Custom-database connections are too (customdb.go).
func IsPasswordStrategy(strategy string) bool {
	return strategy == connection.StrategyLdap.String() || strategy == connection.StrategyCustomdb.String()
}

// PasswordLogin is a username/password login through a password connector.
type PasswordLogin struct {
	Connection           string
	Username, Password   string
	ClientID, ClientName string
}

// Result is a successful upstream login.
type Result struct {
	*identity.SyncResult
	Connection *ent.Connection
	// AMR is the authentication methods reference for the tokens.
	AMR []string
	// Pending is what authn.Finalize records for the login.
	Pending *authn.Pending
}

// Login checks a username and password against a password connection.
// Errors: connectors.ErrInvalidCredentials (whatever the reason: the log
// event carries it), connectors.ErrUnavailable (nothing written but the
// log event), ErrUnknownConnection, connectors.ErrConfig, and
// lockout.ErrTooManyAttempts (brute-force protection, before the upstream
// is asked).
func (s *Service) Login(ctx context.Context, in PasswordLogin) (*Result, error) {
	conn, err := s.Connection(ctx, in.Connection)
	if err != nil {
		return nil, err
	}
	built, err := s.Connector(conn)
	if err != nil {
		return nil, err
	}
	pc, ok := built.(connectors.PasswordConnector)
	if !ok {
		return nil, fmt.Errorf("%w: %s does not take passwords", ErrUnknownConnection, conn.Name)
	}
	// Brute-force protection, as for database connections: the attempt
	// is counted before the upstream sees the password.
	att, err := s.reserve(ctx, conn, in)
	if err != nil {
		return nil, err
	}
	res, err := s.passwordLogin(ctx, conn, pc, in)
	if errors.Is(err, connectors.ErrInvalidCredentials) {
		s.Metrics.Login(conn.Name, metrics.LoginFailure)
	} else if err != nil {
		s.Metrics.Login(conn.Name, metrics.LoginError)
	}
	if att != nil {
		if err == nil {
			// The correct password's counter ends with the login's record.
			res.Pending.Attempt = &att.Key
		} else {
			s.settle(ctx, att, err)
		}
	}
	return res, err
}

// passwordLogin is Login once the attempt is counted.
func (s *Service) passwordLogin(ctx context.Context, conn *ent.Connection, pc connectors.PasswordConnector, in PasswordLogin) (_ *Result, err error) {
	// A span for the upstream's answer (LDAP bind, custom-database
	// script); wrong credentials are an outcome, not a span error.
	ctx, span := tracing.Start(ctx, "upstream.login",
		attribute.String("authgraph.connection", conn.Name), attribute.String("authgraph.strategy", string(conn.Strategy)))
	defer func() {
		if ce := new(connectors.CredentialsError); errors.As(err, &ce) {
			span.End()
			return
		}
		tracing.End(span, err)
	}()
	if cdb, ok := pc.(*customdb.Connector); ok { // scripts and import mode: customdb.go
		return s.customDBLogin(ctx, conn, cdb, in, s.event(conn, in))
	}
	ev := s.event(conn, in)
	id, err := pc.Login(ctx, in.Username, in.Password)
	if err != nil {
		var ce *connectors.CredentialsError
		switch {
		case errors.As(err, &ce):
			ev.Type, ev.Description = logs.TypeWrongPassword, "Wrong username or password: "+ce.Reason
			if ce.Unknown {
				ev.Type = logs.TypeUnknownUser
			}
			s.writeLog(ctx, ev)
			return nil, err
		case errors.Is(err, connectors.ErrUnavailable):
			ev.Type, ev.Description = logs.TypeFailedLogin, "connection unavailable"
		default:
			ev.Type, ev.Description = logs.TypeFailedLogin, "connection error"
		}
		s.logger().Warn("upstream login failed", "connection", conn.Name, "err", err)
		s.writeLog(ctx, ev)
		return nil, err
	}
	return s.complete(ctx, conn, id, ev, []string{"pwd"})
}

// event is the log event of a password login through conn.
func (s *Service) event(conn *ent.Connection, in PasswordLogin) logs.Event {
	ev := logs.Event{ClientID: in.ClientID, ClientName: in.ClientName, Connection: conn.Name,
		ConnectionID: string(conn.ID), Strategy: providerOf(conn), StrategyType: "enterprise",
		UserName: truncate(strings.TrimSpace(in.Username), 320)}
	if conn.Strategy == connection.StrategyCustomdb {
		ev.Strategy, ev.StrategyType = "auth0", "database"
	}
	return ev
}

// reserve counts a password attempt of (connection, identifier, IP) when
// the connection's brute_force_protection is on (the default). A blocked
// triple is refused with lockout.ErrTooManyAttempts (log limit_wc) before
// the upstream is asked.
func (s *Service) reserve(ctx context.Context, conn *ent.Connection, in PasswordLogin) (*lockout.Attempt, error) {
	ident := lockout.Normalize(in.Username)
	if !lockout.Enabled(conn.Options) || ident == "" {
		return nil, nil
	}
	g := s.Lockout
	if g == nil {
		g = &lockout.Guard{DB: s.DB, Now: s.Now}
	}
	ip := "unknown"
	if v := logs.RequestFrom(ctx).IP; v != "" {
		ip = truncate(v, 64)
	}
	att, err := g.Reserve(authz.SystemContext(ctx), lockout.Key{Connection: conn.Name, Identifier: ident, IP: ip})
	if errors.Is(err, lockout.ErrTooManyAttempts) {
		ev := s.event(conn, in)
		ev.Type, ev.Description = logs.TypeBruteForceBlock, "Too many failed login attempts for this identifier from this IP"
		s.writeLog(ctx, ev)
		s.Metrics.BruteForceBlock(conn.Name)
		s.Metrics.Login(conn.Name, metrics.LoginBlocked)
	}
	return att, err
}

// settle reports a failed attempt's outcome: a wrong or unknown credential
// is a failure; anything else (upstream unavailable, a script or
// configuration error) gave no verdict on the password and is uncounted.
// (A correct password's counter ends with the login's record.)
func (s *Service) settle(ctx context.Context, att *lockout.Attempt, loginErr error) {
	var err error
	switch {
	case errors.Is(loginErr, connectors.ErrInvalidCredentials):
		err = att.Failed(ctx)
	default:
		err = att.Release(ctx)
	}
	if err != nil {
		s.logger().Error("counting a login attempt", "connection", att.Key.Connection, "err", err)
	}
}

// complete syncs a vouched-for identity; the login's s event is left to
// its record (Result.Pending).
func (s *Service) complete(ctx context.Context, conn *ent.Connection, id connectors.Identity, ev logs.Event, amr []string) (*Result, error) {
	res, err := identity.SyncUpstream(ctx, s.DB, identity.UpstreamLogin{
		Connection: conn, Identity: id, Sealer: s.Sealer, IP: logs.RequestFrom(ctx).IP, Now: s.now(),
	})
	if err != nil {
		return nil, err
	}
	if res.RefusedEmail != nil {
		// Kept out of the profile (a look-alike or malformed address); the
		// login itself goes on.
		s.logger().WarnContext(ctx, "upstream email refused", "connection", conn.Name, "user_id", res.User.UserID, "err", res.RefusedEmail)
	}
	ev.UserID = res.User.UserID
	// The profile sync counted the login (last_login, logins_count).
	return &Result{SyncResult: res, Connection: conn, AMR: amr, Pending: &authn.Pending{Event: ev}}, nil
}

// DiscoverRealm returns the first of the named connections (SAML or LDAP)
// whose domain_aliases hold email's domain: home-realm discovery.
func (s *Service) DiscoverRealm(ctx context.Context, names []string, email string) (*ent.Connection, error) {
	at := strings.LastIndexByte(email, '@')
	if at < 0 || len(names) == 0 {
		return nil, nil
	}
	conns, err := s.DB.Connection.Query().
		Where(connection.NameIn(names...), connection.StrategyIn(connection.StrategySaml, connection.StrategyLdap)).
		Order(ent.Asc(connection.FieldName)).All(authz.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	for _, c := range conns {
		if mapping.VerifiedByDomain(email, mapping.Strings(c.Options["domain_aliases"])) {
			return c, nil
		}
	}
	return nil, nil
}

func providerOf(conn *ent.Connection) string {
	switch conn.Strategy {
	case connection.StrategyLdap:
		return ldap.Provider
	case connection.StrategySaml:
		return "samlp"
	case connection.StrategyOidc:
		switch conn.Options["preset"] {
		case oidc.PresetGitHub:
			return oidc.ProviderGitHub
		case oidc.PresetGoogle:
			return oidc.ProviderGoogle
		}
	}
	return string(conn.Strategy)
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
