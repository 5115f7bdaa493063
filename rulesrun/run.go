package rulesrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/rule"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
	idn "github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/tracing"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/metrics"
	"github.com/authgraph/authgraph/rules"
	"github.com/authgraph/authgraph/store"
)

// Login is one token issuance the rules run for: an interactive login
// (after the user authenticated, before the code is issued) or a refresh.
type Login struct {
	User   *ent.User
	Client *ent.Application
	// Connection is the connection's name; "" (refresh) means the user's
	// primary identity's connection.
	Connection      string
	Protocol        string
	RequestedScopes []string
	RedirectURI     string
	// Audience is the API the access token is for ("" for /userinfo only).
	Audience string
	// Roles are the names of the user's roles (event.authorization.roles).
	Roles []string
	// AMR are the login's authentication methods ("pwd", "fed", "otp",
	// "mfa"…) and AuthTime when the user authenticated: the event's
	// authentication.methods. At refresh, those of the original login.
	// "mfa" in AMR satisfies a rule's require_mfa.
	AMR      []string
	AuthTime time.Time
}

// Outcome is what the rules add to the tokens. Their metadata updates have
// been written by the time Run returns it.
type Outcome struct {
	IDTokenClaims     map[string]any
	AccessTokenClaims map[string]any
	Runs              []rules.RuleRun
	// Primary is set when a rule's link_to was honoured: the user who logged
	// in is now a secondary of Primary, and the login continues as Primary.
	Primary *ent.User
	// Roles, when not nil, is the net change the rules' roles commands make
	// to the roles of whoever the login ends up as (Primary after a link),
	// for this login only (nothing is stored).
	Roles *rules.RolesChange
	// RequireMFA is set when a rule asked for a second factor at an
	// interactive login whose AMR has no "mfa": the user must pass one
	// first. Nothing was written (no metadata update, no link), and the
	// claims, roles and Primary are empty: the rules run again once the
	// factor is passed, and that run's effects are the ones that apply.
	RequireMFA bool
}

// AMRMFA is the authentication method that satisfies a rule's require_mfa:
// the user passed a second factor in this session.
const AMRMFA = "mfa"

// DeniedError is a rule's refusal: the login fails with access_denied and
// Reason.
type DeniedError struct {
	RuleID, RuleName, Reason string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("denied by rule %q: %s", e.RuleName, e.Reason)
}

// FailedError is a rule that failed or exceeded a limit: the login fails
// with Description (rule_failed, naming the rule); the full error and the
// rule's log lines are in the log event.
type FailedError struct {
	RuleID, RuleName string
	Err              error
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("%s: rule %q (%s): %v", rules.CodeRuleFailed, e.RuleName, e.RuleID, e.Err)
}

func (e *FailedError) Unwrap() error { return e.Err }

// Description is the text sent to the client: which rule, and which kind
// of failure, without guest output (that stays in the log).
func (e *FailedError) Description() string {
	return fmt.Sprintf("%s: rule %q failed: %s", rules.CodeRuleFailed, e.RuleName, failureKind(e.Err))
}

// failureKind names the engine sentinel an error wraps.
func failureKind(err error) string {
	for _, s := range []error{rules.ErrTimeout, rules.ErrMemoryLimit, rules.ErrOutputTooLarge, rules.ErrBadResult,
		rules.ErrRuleReported, rules.ErrInvalidMetadata, rules.ErrClaimsTooLarge, rules.ErrTrap, rules.ErrBusy,
		rules.ErrClosed, rules.ErrInvalidModule, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	var verr *idn.ValidationError
	if errors.As(err, &verr) {
		return "invalid metadata update: " + verr.Message
	}
	return "internal error"
}

// Run runs the enabled rules in order for a login. It returns a
// *DeniedError when a rule denied, a *FailedError when one failed; in both
// cases nothing was written but the log event. When a rule required MFA
// that the login has not passed yet, it returns an Outcome with only
// RequireMFA (and Runs) set, having written nothing. Otherwise the metadata
// updates are written once, in one transaction, and the claims returned.
func (s *Service) Run(ctx context.Context, in Login) (_ *Outcome, err error) {
	rvs, err := s.Enabled(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading rules: %w", err)
	}
	if len(rvs) == 0 {
		return &Outcome{}, nil
	}
	// One span for the pipeline (a denial is an outcome, not an error).
	ctx, span := tracing.Start(ctx, "rules.run", attribute.Int("rules.count", len(rvs)))
	defer func() {
		var denied *DeniedError
		if errors.As(err, &denied) {
			span.SetAttributes(attribute.String("rules.denied_by", denied.RuleName))
			span.End()
			return
		}
		tracing.End(span, err)
	}()
	ev, conn, err := s.BuildEvent(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("building the rules event: %w", err)
	}
	res, err := s.Engine.RunPipeline(ctx, rvs, ev)
	lev := s.logEvent(in, conn)
	if err != nil {
		var rerr *rules.RuleError
		if !errors.As(err, &rerr) {
			return nil, err
		}
		ferr := &FailedError{RuleID: rerr.RuleID, RuleName: rerr.RuleName, Err: rerr}
		s.logFailure(ctx, lev, ferr, rerr.Logs, rerr.Duration)
		s.Metrics.RulesRun(metrics.RulesFailed, res.Duration)
		s.Metrics.RuleFailed(rules.Reason(rerr))
		return nil, ferr
	}
	if d := res.Deny; d != nil {
		s.Metrics.RulesRun(metrics.RulesDenied, res.Duration)
		lev.Description = "Denied by rule " + d.RuleName + ": " + d.Reason
		lev.Details["rule_id"], lev.Details["rule_name"], lev.Details["reason"] = d.RuleID, d.RuleName, d.Reason
		lev.Details["rule_logs"] = runLogs(res.Runs)
		s.writeLog(ctx, lev)
		return nil, &DeniedError{RuleID: d.RuleID, RuleName: d.RuleName, Reason: d.Reason}
	}
	// require_mfa is Auth0's api.multifactor.enable: ignored at refresh,
	// satisfied once the session has a second factor. Until then nothing
	// the rules decided is applied: the provider sends the user to the
	// challenge and runs the rules again afterwards, so a metadata update
	// or a link applied now would be applied twice.
	if res.RequireMFA && in.Protocol != ProtocolRefresh && !slices.Contains(in.AMR, AMRMFA) {
		s.Metrics.RulesRun(metrics.RulesMFARequired, res.Duration)
		return &Outcome{RequireMFA: true, Runs: res.Runs}, nil
	}
	if len(res.AppMetadata)+len(res.UserMetadata) > 0 {
		if err := s.applyMetadata(ctx, in.User.ID, res.AppMetadata, res.UserMetadata); err != nil {
			var verr *idn.ValidationError
			if !errors.As(err, &verr) {
				return nil, fmt.Errorf("applying the rules' metadata updates: %w", err)
			}
			// The merged metadata breaks a storage limit: the rule that
			// last wrote that object is at fault.
			id, name := lastMetadataWriter(res.Runs, verr.Field == "app_metadata")
			ferr := &FailedError{RuleID: id, RuleName: name, Err: fmt.Errorf("%w: %v", rules.ErrInvalidMetadata, verr)}
			s.logFailure(ctx, lev, ferr, runLogs(res.Runs), res.Duration)
			s.Metrics.RulesRun(metrics.RulesFailed, res.Duration)
			s.Metrics.RuleFailed(rules.Reason(rules.ErrInvalidMetadata))
			return nil, ferr
		}
	}
	s.Metrics.RulesRun(metrics.RulesOK, res.Duration)
	out := &Outcome{
		IDTokenClaims:     res.IDTokenClaims,
		AccessTokenClaims: rules.ClaimsForAudience(res.AccessTokenClaims, in.Audience, s.ProtectedAudiences...),
		Runs:              res.Runs,
		Roles:             res.RolesChange,
	}
	if res.LinkTo != nil && in.Protocol != ProtocolRefresh {
		primary, err := s.link(ctx, in.User, res.LinkTo.UserID)
		if err != nil {
			// A link the rule may not make is not a login failure: the
			// user signs in as themselves, and the log says why.
			lev.Type, lev.Description = logTypeWarning, "link_to not honoured: "+err.Error()
			lev.Details["rule_id"] = res.LinkTo.RuleID
			s.writeLog(ctx, lev)
		} else {
			out.Primary = primary
		}
	}
	return out, nil
}

// logTypeWarning is Auth0's "w" log type: something went wrong that did not
// fail the login.
const logTypeWarning = "w"

// ProtocolRefresh is the protocol of refresh-token exchanges (no linking).
const ProtocolRefresh = "oauth2-refresh-token"

// errLinkRefused explains why a link_to was not honoured.
var errLinkRefused = errors.New("both users' emails must be verified and equal")

// errLinkAdministrator refuses a link_to involving an administrator.
var errLinkAdministrator = errors.New("administrators are linked only through the management API")

// link honours a rule's link_to: the user who logged in becomes a secondary
// of target, only when both emails are verified and equal (so a rule cannot
// merge accounts that merely share an unverified address).
func (s *Service) link(ctx context.Context, current *ent.User, target string) (*ent.User, error) {
	sys := authz.SystemContext(ctx)
	primary, err := idn.Resolve(sys, s.DB, target)
	if err != nil {
		return nil, err
	}
	if primary.ID == current.ID {
		return nil, errors.New("a user cannot be linked to itself")
	}
	if current.Email == nil || primary.Email == nil || !current.EmailVerified || !primary.EmailVerified ||
		!strings.EqualFold(*current.Email, *primary.Email) {
		return nil, errLinkRefused
	}
	// An administrator's account changes hands only through a caller
	// holding every scope of their grant (linkUser): a rule runs on nobody's
	// behalf, and a user created with an administrator's verified email by
	// a caller holding create:users would otherwise sign in as them.
	if isAdmin, err := admins.IsAdministrator(ctx, s.DB, primary.ID, current.ID); err != nil {
		return nil, err
	} else if isAdmin {
		return nil, errLinkAdministrator
	}
	return idn.Link(sys, s.DB, string(primary.ID), string(current.ID))
}

// Enabled returns the enabled rules in order, with their modules and
// secrets. The list of enabled rules (ids, versions, timestamps) comes from
// a read cache that any rule change made through this process drops at once
// and that another node's change reaches within clients.CacheTTL (as for
// clients and connections): every login needs it, and it rarely changes.
// Modules and opened secrets are cached per (version, updated_at), so an
// update loads the new version and evicts the old one.
func (s *Service) Enabled(ctx context.Context) ([]rules.RuleVersion, error) {
	sys := authz.SystemContext(ctx)
	s.headsOnce.Do(func() {
		s.heads = store.NewCache[struct{}, []*ent.Rule](s.DB, clients.CacheTTL, 1, ent.TypeRule).Named("rules")
	})
	heads, err := s.heads.Get(sys, struct{}{}, func(ctx context.Context) ([]*ent.Rule, error) {
		return s.DB.Rule.Query().Where(rule.Enabled(true)).
			Order(rule.ByOrder(), rule.ByCreatedAt(), rule.ByID()).
			Select(rule.FieldID, rule.FieldName, rule.FieldVersion, rule.FieldUpdatedAt).
			All(ctx)
	})
	if err != nil || len(heads) == 0 {
		return nil, err
	}
	out := make([]rules.RuleVersion, 0, len(heads))
	for _, h := range heads {
		stamp := h.Version + "@" + h.UpdatedAt.UTC().Format(time.RFC3339Nano)
		s.mu.Lock()
		c := s.cache[h.ID]
		s.mu.Unlock()
		if c == nil || c.stamp != stamp {
			full, err := s.DB.Rule.Get(sys, h.ID)
			if ent.IsNotFound(err) {
				continue // deleted meanwhile
			}
			if err != nil {
				return nil, err
			}
			secrets, err := s.Secrets(full)
			if err != nil {
				return nil, err
			}
			if c != nil && c.rv.Version != full.Version {
				s.Engine.Evict(ctx, string(h.ID), c.rv.Version)
			}
			c = &cachedRule{stamp: stamp, rv: versionOf(full, secrets)}
			s.mu.Lock()
			if s.cache == nil {
				s.cache = map[pulid.ID]*cachedRule{}
			}
			s.cache[h.ID] = c
			s.mu.Unlock()
		}
		out = append(out, c.rv)
	}
	return out, nil
}

// BuildEvent builds the post-login event for a login (also used by
// testRule with a real user). It returns the connection, nil if unknown.
func (s *Service) BuildEvent(ctx context.Context, in Login) (rules.Event, *ent.Connection, error) {
	sys := authz.SystemContext(ctx)
	u := in.User
	ids, err := s.DB.Identity.Query().Where(identity.OwnerID(u.ID)).WithConnection().
		Order(identity.ByCreatedAt(), identity.ByID()).All(sys)
	if err != nil {
		return rules.Event{}, nil, err
	}
	var conn *ent.Connection
	identities := make([]rules.Identity, 0, len(ids))
	for _, i := range ids {
		ri := rules.Identity{Provider: i.Provider, UserID: i.UpstreamID, IsSocial: i.IsSocial, ProfileData: i.ProfileData}
		if c := i.Edges.Connection; c != nil {
			ri.Connection = c.Name
			if conn == nil && (in.Connection == "" || c.Name == in.Connection) {
				conn = c
			}
		}
		identities = append(identities, ri)
	}
	if conn == nil && in.Connection != "" {
		conn, err = s.DB.Connection.Query().Where(connection.Name(in.Connection)).Only(sys)
		if err != nil && !ent.IsNotFound(err) {
			return rules.Event{}, nil, err
		}
	}
	ev := rules.Event{
		User: userOf(u, identities),
		Request: rules.Request{
			IP: logs.RequestFrom(ctx).IP, UserAgent: logs.RequestFrom(ctx).UserAgent, Hostname: s.Hostname,
		},
		Transaction: rules.Transaction{
			Protocol: in.Protocol, RequestedScopes: in.RequestedScopes, RedirectURI: in.RedirectURI,
		},
		Stats:          rules.Stats{LoginsCount: int64(u.LoginsCount)},
		Authorization:  rules.Authorization{Roles: in.Roles},
		Authentication: authenticationOf(in.AMR, in.AuthTime),
	}
	if in.Client != nil {
		ev.Client = rules.Client{ClientID: in.Client.ClientID, Name: in.Client.Name, Metadata: in.Client.Metadata}
	}
	if conn != nil {
		ev.Connection = rules.Connection{ID: string(conn.ID), Name: conn.Name, Strategy: strategyName(conn)}
	}
	return ev, conn, nil
}

// authenticationOf is Auth0's event.authentication: one method per AMR
// value, each at the session's auth time (the session keeps no time per
// method).
func authenticationOf(amr []string, at time.Time) rules.Authentication {
	methods := make([]rules.AuthenticationMethod, 0, len(amr))
	for _, m := range amr {
		methods = append(methods, rules.AuthenticationMethod{Name: m, Timestamp: at.UTC()})
	}
	return rules.Authentication{Methods: methods}
}

// strategyName is Auth0's name of a connection's strategy (event
// connection.strategy): the password database is "auth0".
func strategyName(c *ent.Connection) string {
	switch c.Strategy {
	case connection.StrategyDatabase:
		return "auth0"
	case connection.StrategySaml:
		return "samlp"
	case connection.StrategyLdap:
		return "ad"
	}
	return string(c.Strategy)
}

func userOf(u *ent.User, identities []rules.Identity) rules.User {
	d := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	ru := rules.User{
		UserID: u.UserID, Email: d(u.Email), EmailVerified: u.EmailVerified, Username: d(u.Username),
		PhoneNumber: d(u.PhoneNumber), PhoneVerified: u.PhoneVerified, Name: d(u.Name),
		GivenName: d(u.GivenName), FamilyName: d(u.FamilyName), Nickname: d(u.Nickname), Picture: d(u.Picture),
		Blocked: u.Blocked, Identities: identities, UserMetadata: u.UserMetadata, AppMetadata: u.AppMetadata,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LoginsCount: int64(u.LoginsCount),
	}
	if u.LastLogin != nil {
		ru.LastLogin = *u.LastLogin
	}
	return ru
}

// applyMetadata writes the pipeline's key updates in one transaction, on the
// user as stored now (not as the event saw it), with the API's merge
// semantics and limits.
func (s *Service) applyMetadata(ctx context.Context, id pulid.ID, app, usr map[string]any) error {
	sys := authz.SystemContext(ctx)
	tx, err := s.DB.Tx(sys)
	if err != nil {
		return err
	}
	err = func() error {
		q := tx.User.Query().Where(user.ID(id))
		if s.Postgres {
			q.ForUpdate()
		}
		u, err := q.Only(sys)
		if err != nil {
			return err
		}
		upd := tx.User.UpdateOne(u)
		if len(app) > 0 {
			merged := idn.MergeMetadata(u.AppMetadata, app)
			if err := idn.ValidateMetadata("app_metadata", merged, true); err != nil {
				return err
			}
			upd.SetAppMetadata(merged)
		}
		if len(usr) > 0 {
			merged := idn.MergeMetadata(u.UserMetadata, usr)
			if err := idn.ValidateMetadata("user_metadata", merged, false); err != nil {
				return err
			}
			upd.SetUserMetadata(merged)
		}
		return upd.Exec(sys)
	}()
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func lastMetadataWriter(runs []rules.RuleRun, app bool) (id, name string) {
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i].Result
		if r != nil && ((app && len(r.AppMetadata) > 0) || (!app && len(r.UserMetadata) > 0)) {
			return runs[i].RuleID, runs[i].RuleName
		}
	}
	if len(runs) > 0 {
		return runs[len(runs)-1].RuleID, runs[len(runs)-1].RuleName
	}
	return "", ""
}

// logEvent is the f event of a denied or failed login, before its details.
func (s *Service) logEvent(in Login, conn *ent.Connection) logs.Event {
	e := logs.Event{Type: logs.TypeFailedLogin, UserID: in.User.UserID, Details: map[string]any{"protocol": in.Protocol}}
	if in.User.Email != nil {
		e.UserName = *in.User.Email
	}
	if in.Client != nil {
		e.ClientID, e.ClientName = in.Client.ClientID, in.Client.Name
	}
	if conn != nil {
		e.Connection, e.ConnectionID, e.Strategy = conn.Name, string(conn.ID), strategyName(conn)
	}
	return e
}

func (s *Service) logFailure(ctx context.Context, e logs.Event, ferr *FailedError, lines []string, d time.Duration) {
	e.Description = ferr.Description()
	e.Details["rule_id"], e.Details["rule_name"] = ferr.RuleID, ferr.RuleName
	e.Details["error"] = ferr.Err.Error()
	e.Details["rule_logs"] = nonNil(lines)
	e.Details["duration_ms"] = float64(d.Microseconds()) / 1000
	s.Logger.WarnContext(ctx, "rules: login failed", "rule_id", ferr.RuleID, "rule_name", ferr.RuleName, "err", ferr.Err)
	s.writeLog(ctx, e)
}

func (s *Service) writeLog(ctx context.Context, e logs.Event) {
	// Written even when the login's context ends: the failure must be
	// on record.
	if err := logs.Write(context.WithoutCancel(ctx), s.DB, e); err != nil {
		s.Logger.ErrorContext(ctx, "rules: writing a log event", "err", err)
	}
}

// runLogs flattens the runs' log lines, each prefixed with its rule's name.
func runLogs(runs []rules.RuleRun) []string {
	out := []string{}
	for _, r := range runs {
		for _, l := range r.Logs {
			out = append(out, "["+r.RuleName+"] "+l)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
