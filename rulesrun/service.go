// Package rulesrun makes rules part of every login: it stores rules (module,
// version, sealed secrets), runs the enabled ones in order through the
// wazero engine (package rules) when a user logs in or refreshes, applies
// their metadata updates in one transaction, and logs denials and failures.
//
// The engine decides nothing about storage; this package decides nothing
// about OAuth: server/ translates a *DeniedError into access_denied.
package rulesrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/rule"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/metrics"
	"github.com/authgraph/authgraph/rules"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/store"
)

// Secret limits (docs/RULES.md): key ≤ 128 characters, value ≤ 4096.
const (
	MaxSecretKey   = 128
	MaxSecretValue = 4096
	MaxSecrets     = 100
	maxNameLen     = 128
)

// Service stores and runs rules. Create one per process; it is safe for
// concurrent use.
type Service struct {
	DB     *ent.Client
	Engine *rules.Engine
	Box    *secretbox.Box
	Logger *slog.Logger
	// Postgres locks the user row while applying metadata updates (SQLite
	// has a single writer and no FOR UPDATE).
	Postgres bool
	// Hostname is the event's request.hostname (the issuer's host).
	Hostname string
	// ProtectedAudiences get no access-token claims from rules (the
	// management API, {issuer}api/v2/).
	ProtectedAudiences []string
	// Metrics times the logins' rule pipelines and counts their failures
	// (nil: not measured).
	Metrics *metrics.Registry

	mu    sync.Mutex
	cache map[pulid.ID]*cachedRule // by rule id; entries hold one version

	headsOnce sync.Once
	heads     *store.Cache[struct{}, []*ent.Rule] // the enabled rules, in order (Enabled)
}

// cachedRule is a rule's module and opened secrets as of one update.
type cachedRule struct {
	stamp string // version + updated_at: secrets change without a new version
	rv    rules.RuleVersion
}

// CreateParams describe a new rule: its code is either Module or
// JavaScript.
type CreateParams struct {
	Name   string
	Module []byte
	// JavaScript is an Auth0 post-login Action or legacy Rule's source.
	JavaScript string
	Order      *int
	Enabled    *bool
	// Secrets are string values; other JSON values are refused.
	Secrets map[string]any
}

// UpdateParams change a rule; nil fields are left as they are. Secrets given
// replace stored ones key by key; a null value removes a key. Module or
// JavaScript (at most one) replaces the rule's code, whatever its language
// was.
type UpdateParams struct {
	Name       *string
	Module     []byte
	JavaScript *string
	Order      *int
	Enabled    *bool
	Secrets    map[string]any
}

// Version returns the version string of a module or of JavaScript source
// (its UTF-8 bytes): their hex SHA-256.
func Version(module []byte) string {
	sum := sha256.Sum256(module)
	return hex.EncodeToString(sum[:])
}

// Validate checks a module as an upload, returning a *identity.ValidationError
// on field "module" with the engine's reason.
func (s *Service) Validate(ctx context.Context, module []byte) error {
	if len(module) == 0 {
		return &identity.ValidationError{Field: "module", Message: "is empty"}
	}
	if err := s.Engine.Validate(ctx, module); err != nil {
		if errors.Is(err, rules.ErrInvalidModule) {
			return &identity.ValidationError{Field: "module", Message: err.Error()}
		}
		return err
	}
	return nil
}

// Create validates and stores a rule, then compiles it ahead of the first
// login.
func (s *Service) Create(ctx context.Context, db *ent.Client, p CreateParams) (*ent.Rule, error) {
	if err := validateName(p.Name); err != nil {
		return nil, err
	}
	secrets, err := secretsInput(nil, p.Secrets)
	if err != nil {
		return nil, err
	}
	var js *string
	if p.JavaScript != "" {
		js = &p.JavaScript
	}
	c0, err := codeOf(p.Module, js, true)
	if err != nil {
		return nil, err
	}
	if err := s.validateCode(ctx, *c0); err != nil {
		return nil, err
	}
	order := 0
	if p.Order != nil {
		order = *p.Order
	} else {
		// Append: after every existing rule.
		last, err := db.Rule.Query().Order(ent.Desc(rule.FieldOrder)).First(ctx)
		switch {
		case ent.IsNotFound(err):
		case err != nil:
			return nil, err
		default:
			order = last.Order + 1
		}
	}
	id := pulid.MustNew("rul_")
	c := db.Rule.Create().
		SetID(id).
		SetName(p.Name).
		SetOrder(order).
		SetModuleSize(c0.size()).
		SetVersion(c0.version()).
		SetSecretsSet(keys(secrets))
	if c0.isJavaScript() {
		c.SetJavascript(c0.javascript)
	} else {
		c.SetModule(c0.module)
	}
	if p.Enabled != nil {
		c.SetEnabled(*p.Enabled)
	}
	if len(secrets) > 0 {
		c.SetSecretsSealed(s.seal(id, secrets))
	}
	r, err := c.Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, &identity.ConflictError{Field: "name", Message: "a rule with this name already exists"}
	}
	if err != nil {
		return nil, err
	}
	s.prepare(ctx, r, secrets)
	return r, nil
}

// Update applies p to r. New code (a module or JavaScript, either language
// replacing either) makes a new version; the old one's compiled module and
// instances are evicted.
func (s *Service) Update(ctx context.Context, db *ent.Client, r *ent.Rule, p UpdateParams) (*ent.Rule, error) {
	upd := db.Rule.UpdateOne(r)
	if p.Name != nil {
		if err := validateName(*p.Name); err != nil {
			return nil, err
		}
		upd.SetName(*p.Name)
	}
	if p.Order != nil {
		upd.SetOrder(*p.Order)
	}
	if p.Enabled != nil {
		upd.SetEnabled(*p.Enabled)
	}
	newVersion := false
	c, err := codeOf(p.Module, p.JavaScript, false)
	if err != nil {
		return nil, err
	}
	if c != nil {
		if err := s.validateCode(ctx, *c); err != nil {
			return nil, err
		}
		if v := c.version(); v != r.Version || c.isJavaScript() != IsJavaScript(r) {
			newVersion = true
			upd.SetModuleSize(c.size()).SetVersion(v)
			if c.isJavaScript() {
				upd.SetJavascript(c.javascript).ClearModule()
			} else {
				upd.SetModule(c.module).ClearJavascript()
			}
		}
	}
	stored, err := s.Secrets(r)
	if err != nil {
		return nil, err
	}
	if p.Secrets != nil {
		if stored, err = secretsInput(stored, p.Secrets); err != nil {
			return nil, err
		}
		upd.SetSecretsSet(keys(stored))
		if len(stored) > 0 {
			upd.SetSecretsSealed(s.seal(r.ID, stored))
		} else {
			upd.ClearSecretsSealed()
		}
	}
	out, err := upd.Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, &identity.ConflictError{Field: "name", Message: "a rule with this name already exists"}
	}
	if err != nil {
		return nil, err
	}
	if newVersion {
		s.Engine.Evict(ctx, string(r.ID), r.Version)
	}
	s.prepare(ctx, out, stored)
	return out, nil
}

// Delete removes r and evicts its compiled module.
func (s *Service) Delete(ctx context.Context, db *ent.Client, r *ent.Rule) error {
	if err := db.Rule.DeleteOne(r).Exec(ctx); err != nil {
		return err
	}
	s.Engine.Evict(ctx, string(r.ID), r.Version)
	s.mu.Lock()
	delete(s.cache, r.ID)
	s.mu.Unlock()
	return nil
}

// Reorder gives the rules listed the orders 1, 2, 3… in the list's order.
// ids must name every rule exactly once, so that no order is left ambiguous.
func (s *Service) Reorder(ctx context.Context, db *ent.Client, ids []pulid.ID) ([]*ent.Rule, error) {
	all, err := db.Rule.Query().IDs(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[pulid.ID]bool{}
	for _, id := range ids {
		if seen[id] {
			return nil, &identity.ValidationError{Field: "ids", Message: fmt.Sprintf("lists %s twice", id)}
		}
		seen[id] = true
		if !slices.Contains(all, id) {
			return nil, &identity.NotFoundError{What: "rule", ID: string(id)}
		}
	}
	if len(ids) != len(all) {
		return nil, &identity.ValidationError{Field: "ids", Message: fmt.Sprintf("must list every rule exactly once (%d rules, %d given)", len(all), len(ids))}
	}
	out := make([]*ent.Rule, 0, len(ids))
	for i, id := range ids {
		r, err := db.Rule.UpdateOneID(id).SetOrder(i + 1).Save(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Find resolves a node id (rul_…) or a rule name.
func Find(ctx context.Context, db *ent.Client, id pulid.ID) (*ent.Rule, error) {
	q := db.Rule.Query()
	if id.Prefix() == "rul_" {
		q.Where(rule.ID(id))
	} else {
		q.Where(rule.Name(string(id)))
	}
	r, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &identity.NotFoundError{What: "rule", ID: string(id)}
	}
	return r, err
}

// Secrets opens r's secrets (for the engine; never for the API).
func (s *Service) Secrets(r *ent.Rule) (map[string]string, error) {
	out := map[string]string{}
	// A NULL bytes column scans into a pointer to a nil slice (see
	// connections.Service.Secrets): test the length.
	if r.SecretsSealed == nil || len(*r.SecretsSealed) == 0 {
		return out, nil
	}
	plain, err := s.Box.Open(*r.SecretsSealed, sealAD(r.ID))
	if err != nil {
		return nil, fmt.Errorf("opening secrets of rule %s: %w", r.ID, err)
	}
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) seal(id pulid.ID, secrets map[string]string) []byte {
	b, err := json.Marshal(secrets)
	if err != nil {
		panic(err) // a map of strings always encodes
	}
	return s.Box.Seal(b, sealAD(id))
}

// sealAD binds sealed secrets to their rule: a sealed blob copied onto
// another rule does not open.
func sealAD(id pulid.ID) string { return "rule-secrets:" + string(id) }

// prepare compiles a saved rule so that no login pays for it; a failure is
// only logged (the module was validated; the login path retries).
func (s *Service) prepare(ctx context.Context, r *ent.Rule, secrets map[string]string) {
	if !r.Enabled {
		return
	}
	if err := s.Engine.Prepare(ctx, versionOf(r, secrets)); err != nil {
		s.Logger.WarnContext(ctx, "rules: preparing a rule", "rule_id", r.ID, "err", err)
	}
}

// PrepareAll compiles every enabled rule (at startup): with the engine's
// compilation cache on disk, a restart loads them instead of compiling.
func (s *Service) PrepareAll(ctx context.Context) error {
	rs, err := s.DB.Rule.Query().Where(rule.Enabled(true)).All(authz.SystemContext(ctx))
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range rs {
		secrets, err := s.Secrets(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.Engine.Prepare(ctx, versionOf(r, secrets)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// versionOf is what the engine runs of a stored rule: its module or its
// JavaScript source.
func versionOf(r *ent.Rule, secrets map[string]string) rules.RuleVersion {
	rv := rules.RuleVersion{ID: string(r.ID), Name: r.Name, Version: r.Version, Module: r.Module, Secrets: secrets}
	if IsJavaScript(r) {
		rv.Module, rv.JavaScript = nil, *r.Javascript
	}
	return rv
}

func validateName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return &identity.ValidationError{Field: "name", Message: "must not be empty"}
	case utf8.RuneCountInString(name) > maxNameLen:
		return &identity.ValidationError{Field: "name", Message: fmt.Sprintf("must be at most %d characters", maxNameLen)}
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return &identity.ValidationError{Field: "name", Message: "must not contain control characters"}
	}
	return nil
}

// secretsInput applies an input map (string values set, null deletes) to
// stored secrets and checks the limits.
func secretsInput(stored map[string]string, in map[string]any) (map[string]string, error) {
	out := maps.Clone(stored)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range in {
		if k == "" || len(k) > MaxSecretKey {
			return nil, &identity.ValidationError{Field: "secrets", Message: fmt.Sprintf("key %q must be 1 to %d characters", k, MaxSecretKey)}
		}
		switch t := v.(type) {
		case nil:
			delete(out, k)
		case string:
			if len(t) > MaxSecretValue {
				return nil, &identity.ValidationError{Field: "secrets", Message: fmt.Sprintf("value of %q is longer than %d bytes", k, MaxSecretValue)}
			}
			out[k] = t
		default:
			return nil, &identity.ValidationError{Field: "secrets", Message: fmt.Sprintf("value of %q must be a string (or null to remove it)", k)}
		}
	}
	if len(out) > MaxSecrets {
		return nil, &identity.ValidationError{Field: "secrets", Message: fmt.Sprintf("at most %d secrets are allowed", MaxSecrets)}
	}
	return out, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
