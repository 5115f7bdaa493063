// Package server assembles Authgraph's HTTP server: configuration, the
// database, the OpenID Provider, the GraphQL management API and health
// endpoints. It wires and translates; decisions live in the domain packages.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/authgraph/authgraph/accounts"
	"github.com/authgraph/authgraph/bulkexport"
	"github.com/authgraph/authgraph/bulkimport"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/graph"
	"github.com/authgraph/authgraph/internal/jobstore"
	"github.com/authgraph/authgraph/internal/tracing"
	"github.com/authgraph/authgraph/mail"
	"github.com/authgraph/authgraph/metrics"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/passkeys"
	"github.com/authgraph/authgraph/rbac"
	"github.com/authgraph/authgraph/rulesrun"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/server/account"
	"github.com/authgraph/authgraph/server/apiv2"
	"github.com/authgraph/authgraph/server/dashboard"
	"github.com/authgraph/authgraph/server/login"
	"github.com/authgraph/authgraph/server/oidc"
	"github.com/authgraph/authgraph/sessions"
	"github.com/authgraph/authgraph/store"
)

// Deps are the process-wide dependencies built from a Config.
type Deps struct {
	Config      *Config
	DB          *store.DB
	Box         *secretbox.Box
	MasterKey   []byte
	Keys        *oidc.KeySet
	Connections *connections.Service
	Auth        *dbauth.Service
	Sessions    *sessions.Manager
	Logger      *slog.Logger
	// Rules stores and runs post-login rules (server/rules.go); its engine
	// is closed by Close.
	Rules *rulesrun.Service
	// Imports creates and reads user import jobs; StartJobs runs them.
	Imports *bulkimport.Service
	// MFA is multi-factor authentication: the tenant's policy, users'
	// authenticators, challenges and the lockout (package mfa).
	MFA *mfa.Service
	// Metrics is the Prometheus registry (server/metrics.go), nil when
	// --metrics-listen is not set: nothing is measured then.
	Metrics *metrics.Registry
	// draining is set when the node begins to shut down (drain.go).
	draining draining
	// Passkeys runs the WebAuthn ceremonies of security keys and
	// passkeys; nil when the issuer's host is an IP address (WebAuthn
	// needs a domain name).
	Passkeys *passkeys.Service
	// PreviousMasterKeys follow the current one in AUTHGRAPH_MASTER_KEY
	// during a rotation: they only open (docs/SECURITY.md, Key rotation).
	PreviousMasterKeys [][]byte
}

// Close flushes queued email and releases the database.
func (d *Deps) Close() error {
	d.Auth.Wait()
	if d.Rules != nil {
		_ = d.Rules.Engine.Close(context.Background())
	}
	return d.DB.Close()
}

// PrepareMode says what Prepare may do to the database schema.
type PrepareMode int

const (
	// MigrateIfEmpty creates the schema of an empty database and refuses an
	// outdated one (serve: upgrades are an explicit `authgraph migrate`).
	MigrateIfEmpty PrepareMode = iota
	// MigrateAlways applies every pending migration (authgraph migrate).
	MigrateAlways
)

// Prepare opens the database, migrates it as mode allows, and bootstraps an
// empty one (default connection, admin client, signing key) while holding
// the migration lock. Bootstrap output meant for the operator goes to
// console, outside the structured log.
func Prepare(ctx context.Context, cfg *Config, logger *slog.Logger, console io.Writer, mode PrepareMode) (*Deps, error) {
	pool := cfg.DatabasePool
	if mode == MigrateAlways {
		pool.StatementTimeout = 0 // a migration may rewrite large tables
	}
	db, err := store.OpenPool(ctx, cfg.DatabaseURL, pool)
	if err != nil {
		return nil, err
	}
	if err := openReplica(ctx, cfg, db, logger); err != nil { // server/replica.go
		db.Close()
		return nil, err
	}
	keys, err := loadMasterKeys(cfg, db.Path, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	key := keys[0]
	box, err := secretbox.NewKeys(keys)
	if err != nil {
		db.Close()
		return nil, err
	}
	sender, err := mail.New(cfg.SMTPURL, logger)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("AUTHGRAPH_SMTP_URL: %w", err)
	}
	m := newMetrics(cfg, db) // nil without --metrics-listen (server/metrics.go)
	d := &Deps{
		Config: cfg, DB: db, Box: box, MasterKey: key, PreviousMasterKeys: keys[1:], Logger: logger, Metrics: m,
		Keys:        oidc.NewKeySet(db.Ent, box),
		Connections: &connections.Service{Box: box},
		Auth: &dbauth.Service{DB: db.Ent, Mail: sender, Issuer: cfg.Issuer, Logger: logger, ResetTicketTTL: cfg.ResetTicketTTL,
			Passwords: cfg.PasswordLimiter(), Metrics: m},
		Sessions: &sessions.Manager{DB: db.Ent, Secure: !cfg.InsecureIssuer(), Path: issuerPath(cfg.Issuer),
			Idle: cfg.SessionIdle, Absolute: cfg.SessionLifetime},
		Imports: bulkimport.NewService(db.Ent),
	}
	followRemoteChanges(d) // server/nodes.go
	d.Keys.RotationPeriod = cfg.SigningKeyRotation
	d.MFA, err = mfa.New(mfa.Config{DB: db.Ent, Box: box, Mail: sender, Issuer: cfg.Issuer, Logger: logger})
	if err != nil {
		db.Close()
		return nil, err
	}
	if d.Passkeys, err = passkeys.New(passkeys.Config{DB: db.Ent, MFA: d.MFA, Box: box, Issuer: cfg.Issuer, Logger: logger}); err != nil {
		logger.Info("security keys and passkeys are not available", "err", err)
		d.Passkeys = nil
	}
	err = db.WithLock(ctx, func(ctx context.Context) error {
		version, err := db.Version(ctx)
		if err != nil {
			// No migrations table yet: an empty database.
			version = 0
		}
		if version > store.LatestVersion() {
			return fmt.Errorf("database schema version %d is newer than this binary's %d: upgrade authgraph", version, store.LatestVersion())
		}
		if version < store.LatestVersion() {
			if version > 0 && mode == MigrateIfEmpty {
				return fmt.Errorf("database schema is at version %d, this binary needs %d: run `authgraph migrate` first", version, store.LatestVersion())
			}
			applied, err := db.Migrate(ctx)
			if err != nil {
				return err
			}
			logger.Info("database migrated", "versions", applied)
		}
		return bootstrap(ctx, d, console)
	})
	if err == nil {
		d.Rules, err = newRules(ctx, d) // the rules engine (server/rules.go)
	}
	if err == nil {
		// Custom-database scripts are validated on write by the same engine.
		d.Connections.Scripts = d.Rules.Engine
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// Handler builds the HTTP handler.
func Handler(d *Deps) (http.Handler, error) {
	provider, err := oidc.New(oidc.Config{
		Issuer:        d.Config.Issuer,
		DB:            d.DB.Ent,
		Keys:          d.Keys,
		AllowInsecure: d.Config.InsecureIssuer(),
		Logger:        d.Logger,
		CryptoKey:     mustDerive(d.MasterKey),
		// Opaque tokens, machine token bindings and logout confirmations
		// made under a previous master key stay valid during a rotation.
		PreviousCryptoKeys: mustDeriveAll(d.PreviousMasterKeys),
		Sessions:           d.Sessions,
		Claims:             rulesClaimsHook(d.Rules, d.Logger), // post-login rules
		// Administrators (package admins) get their granted management
		// scopes, through the built-in dashboard client only.
		UserAPIScopes: dashboard.UserAPIScopes(d.DB.Ent),
		// Roles and permissions for APIs that enforce policies, client
		// grants for machine tokens of registered APIs.
		Authorization: rbac.NewAuthorizer(d.DB.Ent),
		// Second factors: the tenant's policy, enrollment, remembered
		// browsers.
		MFA: providerMFA(d.MFA),
		// Logins and tokens counted (nil: not measured).
		Metrics: d.Metrics,
	})
	if err != nil {
		return nil, err
	}
	// Upstream connections (LDAP, OIDC, SAML) log in through the same
	// pages; server/upstream.go builds their service.
	up := newUpstream(d)
	// Signup, resets and password changes of custom-database connections
	// run their scripts through it.
	d.Auth.CustomDB = up
	loginPages, err := login.New(login.Config{
		Issuer: d.Config.Issuer, DB: d.DB.Ent, Handoff: provider,
		Sessions: d.Sessions, Auth: d.Auth, Logger: d.Logger,
		Upstream: up, MFA: d.MFA, Passkeys: d.Passkeys,
	})
	if err != nil {
		return nil, err
	}
	// The provider's verifier also rejects user tokens of revoked grants.
	verifier := provider.Verifier()
	// The user use cases GraphQL and the REST API v2 share.
	accts := &accounts.Service{DB: d.DB.Ent, Auth: d.Auth, Upstream: up}
	gql := graph.NewHandler(&graph.Resolver{
		Ent: d.DB.Ent, Connections: d.Connections, Issuer: d.Config.Issuer, Keys: d.Keys, Auth: d.Auth, Rules: d.Rules,
		Upstream: up, // testConnectionScript runs custom-database scripts
		Accounts: accts, Imports: d.Imports, MFA: d.MFA,
	}, d.Logger)

	mux := http.NewServeMux()
	base := issuerPath(d.Config.Issuer)
	mux.HandleFunc("GET "+base+"healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET "+base+"readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if d.draining.on.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"status":"draining"}`)
			return
		}
		if err := d.DB.Ping(ctx); err != nil {
			d.Logger.Warn("readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"status":"unavailable","database":"unreachable"}`)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok","database":"ok"}`)
	})
	// Auth0's Management API v2 as REST, over the same use cases and
	// tokens as GraphQL (server/apiv2).
	rest := apiv2.New(apiv2.Config{
		Issuer: d.Config.Issuer, DB: d.DB.Ent, Logger: d.Logger,
		Verify: verifier.Verify,
		Unavailable: func(err error) bool {
			return errors.Is(err, oidc.ErrGrantsUnavailable) || errors.Is(err, oidc.ErrKeysUnavailable)
		},
		Accounts: accts, Connections: d.Connections, Rules: d.Rules, Imports: d.Imports, MFA: d.MFA,
		VerifyIDToken: provider.VerifyIDToken, // account linking with link_with

		RateLimit: d.Config.APIRateLimit,
	})
	for _, prefix := range rest.Prefixes() {
		mux.Handle(prefix, provider.CORS(rest, http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete))
	}
	// Completed user exports, downloaded with the token of the job's
	// location (server/apiv2/exportjobs.go).
	mux.Handle("GET "+base+"exports/{file}", bulkexport.DownloadHandler(d.DB.Ent, d.Logger))
	// capBodies (below) bounds its body at maxGraphQLBody.
	mux.Handle(base+"graphql", provider.CORS(requireManagementToken(verifier, gql), http.MethodPost))
	// The admin dashboard ({issuer}dashboard/) and the GraphQL playground
	// ({issuer}playground): static pages that sign in through /authorize
	// with the built-in dashboard client and call only /graphql above.
	dash, err := dashboard.New(context.Background(), dashboard.Config{Issuer: d.Config.Issuer, DB: d.DB.Ent, Logger: d.Logger})
	if err != nil {
		return nil, err
	}
	dash.Register(mux)
	// The self-service account page ({issuer}account): signed-in users'
	// factors, password and sessions (server/account).
	acct, err := account.New(context.Background(), account.Config{Issuer: d.Config.Issuer, DB: d.DB.Ent,
		Sessions: d.Sessions, Auth: d.Auth, MFA: d.MFA, Passkeys: d.Passkeys, Box: d.Box, Logger: d.Logger})
	if err != nil {
		return nil, err
	}
	acct.Register(mux)
	mux.Handle(base+"login", loginPages)
	mux.Handle(base+"login/", loginPages)
	// SAML connections' SP metadata and ACS ({issuer}saml/NAME/metadata,
	// {issuer}saml/NAME/acs) are served by the login pages (upstream.go).
	mux.Handle(base+"saml/", loginPages)
	mux.Handle("/", provider)

	hsts := strings.HasPrefix(d.Config.Issuer, "https://")
	// Request metrics (server/metrics.go): Instrument outside everything,
	// Routes around the mux for the matched pattern. Both are no-ops
	// without metrics.
	// Tracing (server/tracing.go) inside Instrument: a span per request,
	// named by route, when OTEL_* turned it on.
	routed := d.Metrics.Routes(mux, oidcRoutes(base))
	h := withRequestTimeout(d.Config.RequestTimeout, base,
		withRequestInfo(d.Config.TrustedProxies, securityHeaders(hsts, capBodies(base, routed))))
	return d.Metrics.Instrument(traced(h, mux, base)), nil
}

// Serve runs the server until ctx is cancelled, then shuts down gracefully.
func Serve(ctx context.Context, d *Deps, ready func(addr string)) error {
	h, err := Handler(d)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", d.Config.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(d.Logger.Handler(), slog.LevelWarn),
	}
	stopMetrics, err := serveMetrics(ctx, d) // --metrics-listen (server/metrics.go)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	d.Logger.Info("authgraph listening", "addr", ln.Addr().String(), "issuer", d.Config.Issuer)
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	go cleanupLoop(ctx, d)
	go keyRotationLoop(ctx, d) // server/keyrotation.go
	stopJobs := StartJobs(ctx, d)
	defer stopJobs()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Drain, then shut down (drain.go).
	if err := drain(d, srv, errc); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return shutdown(d, srv)
}

// StartJobs runs the import job runner (and resumes unfinished export
// jobs) until ctx ends or stop is called
// (stop waits for it: a batch in flight rolls back and the job's lease is
// released, so another node or the next start resumes it). Every node runs
// one: a job's claim is a conditional update, so no two run the same job.
func StartJobs(ctx context.Context, d *Deps) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	host, _ := os.Hostname()
	r := &bulkimport.Runner{DB: d.DB.Ent, Owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), pulid.MustNew("job_")[4:]),
		Wake: d.Imports.Wake(), Logger: d.Logger, Dialect: d.DB.Dialect}
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		_ = r.Run(ctx)
	}()
	// Export jobs start when created (server/apiv2); this resumes those a
	// stopped process left unfinished.
	go func() {
		defer func() { done <- struct{}{} }()
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			if _, err := bulkexport.ResumeJobs(ctx, d.DB.Ent, d.Logger); err != nil && ctx.Err() == nil {
				d.Logger.Error("resuming export jobs", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		<-done
	}
}

// NewLogger returns the process logger.
func NewLogger(format string) *slog.Logger {
	// Records logged with a request's context carry its trace_id and
	// span_id (internal/tracing).
	if format == "text" {
		return slog.New(tracing.LogHandler(slog.NewTextHandler(os.Stderr, nil)))
	}
	return slog.New(tracing.LogHandler(slog.NewJSONHandler(os.Stderr, nil)))
}

func mustDeriveAll(masters [][]byte) [][]byte {
	out := make([][]byte, len(masters))
	for i, m := range masters {
		out[i] = mustDerive(m)
	}
	return out
}

func mustDerive(master []byte) []byte {
	k, err := oidc.DeriveCryptoKey(master)
	if err != nil {
		panic(err)
	}
	return k
}

// cleanupLoop purges expired login state (auth requests, old grants),
// user export files past their retention, and finished jobs (with their
// row errors) past theirs, every hour. Every node may run it: the deletes are idempotent.
func cleanupLoop(ctx context.Context, d *Deps) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := oidc.Cleanup(ctx, d.DB.Ent); err != nil && ctx.Err() == nil {
			d.Logger.Warn("cleaning up expired login state", "err", err)
		}
		if _, err := bulkexport.PurgeFiles(ctx, d.DB.Ent); err != nil && ctx.Err() == nil {
			d.Logger.Warn("deleting old user export files", "err", err)
		}
		if _, err := jobstore.Purge(ctx, d.DB.Ent); err != nil && ctx.Err() == nil {
			d.Logger.Warn("deleting jobs past their retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// providerMFA is the provider's view of the MFA service; nil without one (a
// nil *mfa.Service in the interface would not read as nil).
func providerMFA(s *mfa.Service) oidc.MFA {
	if s == nil {
		return nil
	}
	return s
}
