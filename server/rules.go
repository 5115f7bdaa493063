package server

// Rules wiring: the engine (one per process), the rules service, and the
// OpenID Provider's claims hook that runs the rules on every interactive
// login and refresh (never on client_credentials, which has no user and
// never calls the hook).

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	"entgo.io/ent/dialect"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/rules"
	"github.com/authgraph/authgraph/rulesrun"
	"github.com/authgraph/authgraph/server/oidc"
)

// newRules creates the engine and the rules service, and compiles the
// enabled rules ahead of the first login (from the on-disk cache after a
// restart). A rule that does not compile is logged, not fatal: the login
// path reports it as rule_failed.
func newRules(ctx context.Context, d *Deps) (*rulesrun.Service, error) {
	dir := rulesCacheDir(d.Config, d.DB.Path)
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			d.Logger.Warn("rules: compilation cache unavailable, compiling in memory", "dir", dir, "err", err)
			dir = ""
		}
	}
	eng, err := rules.New(ctx, rules.Config{CacheDir: dir, Logger: d.Logger})
	if err != nil {
		return nil, err
	}
	host := ""
	if u, err := url.Parse(d.Config.Issuer); err == nil {
		host = u.Hostname()
	}
	svc := &rulesrun.Service{
		DB: d.DB.Ent, Engine: eng, Box: d.Box, Logger: d.Logger,
		Postgres: d.DB.Dialect == dialect.Postgres, Hostname: host,
		ProtectedAudiences: []string{authz.ManagementAudience(d.Config.Issuer)},
		Metrics:            d.Metrics,
	}
	if err := svc.PrepareAll(ctx); err != nil {
		d.Logger.Warn("rules: preparing rules at startup", "err", err)
	}
	return svc, nil
}

// rulesCacheDir is --rules-cache-dir when set; otherwise a directory next to
// the SQLite file, or under the user's cache directory (Postgres). "" keeps
// the cache in memory.
func rulesCacheDir(cfg *Config, sqlitePath string) string {
	switch {
	case cfg.RulesCacheDir != "":
		return cfg.RulesCacheDir
	case sqlitePath != "":
		return sqlitePath + ".rules-cache"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "authgraph", "rules")
	}
	return ""
}

// skipRulesFor reports whether logins to app bypass the rules: the built-in
// dashboard client does, so that a broken rule cannot lock administrators
// out of the place where they would fix it.
func skipRulesFor(app *ent.Application) bool { return clients.IsDashboard(app) }

// rulesClaimsHook adapts the rules service to the provider's claims hook: a
// rule's deny is access_denied (invalid_grant on refresh) with its reason; a
// failing rule is the same with a "rule_failed: rule "name" failed: …"
// description. Anything else is a server error.
func rulesClaimsHook(svc *rulesrun.Service, logger *slog.Logger) oidc.ClaimsHook {
	return func(ctx context.Context, ev *oidc.ClaimsEvent) (*oidc.CustomClaims, error) {
		if skipRulesFor(ev.Client) {
			return nil, nil
		}
		out, err := svc.Run(ctx, rulesrun.Login{
			User: ev.User, Client: ev.Client, Connection: ev.Connection, Protocol: ev.Protocol,
			RequestedScopes: ev.RequestedScopes, RedirectURI: ev.RedirectURI, Audience: ev.Audience,
			Roles: ev.Roles, AMR: ev.AMR, AuthTime: ev.AuthTime,
		})
		var (
			denied *rulesrun.DeniedError
			failed *rulesrun.FailedError
		)
		switch {
		case errors.As(err, &denied):
			return nil, &oidc.DenyError{Reason: denied.Reason}
		case errors.As(err, &failed):
			return nil, &oidc.DenyError{Reason: failed.Description()}
		case err != nil:
			return nil, err
		}
		if len(out.Runs) > 0 {
			logger.DebugContext(ctx, "rules ran", "rules", len(out.Runs), "protocol", ev.Protocol, "require_mfa", out.RequireMFA)
		}
		if out.RequireMFA {
			// Nothing else applies until the factor is passed: the rules
			// run again then.
			return &oidc.CustomClaims{RequireMFA: true}, nil
		}
		custom := &oidc.CustomClaims{IDToken: out.IDTokenClaims, AccessToken: out.AccessTokenClaims, Primary: out.Primary}
		if out.Roles != nil {
			custom.Roles = &oidc.RolesChange{Add: out.Roles.Add, Remove: out.Roles.Remove}
		}
		return custom, nil
	}
}
