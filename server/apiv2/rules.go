package apiv2

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/rulesrun"
)

// Rules. Auth0's rule object is {id, name, script, order, enabled, stage}
// with a JavaScript script: Authgraph runs that script unchanged (a legacy
// Rule or a post-login Action), and also accepts a WebAssembly module (rules
// ABI v1, see rules-sdk/), carried base64-encoded in "module" as the GraphQL
// API carries it. A rule has exactly one of the two.

// Rule is a rule as the API returns it: a JavaScript rule's script, as
// Auth0 returns it; never a module or the secrets' values.
type Rule struct {
	ID      string `json:"id" doc:"The rule's id (rul_…)."`
	Name    string `json:"name"`
	Script  string `json:"script,omitempty" doc:"A JavaScript rule's source (Auth0's script); absent for a WebAssembly rule."`
	Order   int    `json:"order" doc:"Enabled rules run in ascending order (ties: oldest first)."`
	Enabled bool   `json:"enabled"`
	Stage   string `json:"stage" doc:"Always login_success: rules run after a user authenticated and on refresh."`
	// Language, Version, ModuleSize and SecretsSet are Authgraph's.
	Language string `json:"language" doc:"javascript (a script) or wasm (a module)."`
	Version  string `json:"version" doc:"The hex SHA-256 of the module's bytes or of the script (UTF-8): new code makes a new version."`
	// ModuleSize and SecretsSet stand in for what is never returned.
	ModuleSize int      `json:"module_size" doc:"The module's size in bytes; for a JavaScript rule, the script's size in bytes (UTF-8)."`
	SecretsSet []string `json:"secrets_set" doc:"Names of the rule's secrets; their values are never returned."`
	CreatedAt  string   `json:"created_at" doc:"RFC 3339, UTC, milliseconds."`
	UpdatedAt  string   `json:"updated_at" doc:"RFC 3339, UTC, milliseconds."`
}

// RuleList is GET /rules with include_totals=true.
type RuleList struct {
	Start  int    `json:"start"`
	Limit  int    `json:"limit"`
	Length int    `json:"length"`
	Total  int    `json:"total"`
	Rules  []Rule `json:"rules"`
}

// RuleCreate is POST /rules' body: script or module, not both.
type RuleCreate struct {
	Name    string         `json:"name" doc:"Unique, at most 128 characters."`
	Script  *string        `json:"script,omitempty" doc:"JavaScript, at most 1 MiB: an Auth0 Rule (function (user, context, callback) {…}) or post-login Action (exports.onExecutePostLogin = async (event, api) => {…}), run unchanged. A syntax error is refused (400) with its line and column."`
	Module  *string        `json:"module,omitempty" doc:"Instead of script: a WebAssembly module (rules ABI v1), base64 (standard encoding), at most 8 MiB decoded."`
	Order   *int           `json:"order,omitempty" doc:"Default: after every existing rule."`
	Enabled *bool          `json:"enabled,omitempty" doc:"Default: true."`
	Stage   *string        `json:"stage,omitempty" doc:"Only login_success."`
	Secrets map[string]any `json:"secrets,omitempty" doc:"String values, sealed at rest and passed to the rule in event.secrets. Never returned."`
}

// RuleUpdate is PATCH /rules/{id}'s body: absent properties are left as
// they are.
type RuleUpdate struct {
	// ID is accepted when it names the rule patched: a read-modify-update
	// round trip (go-auth0's Rule.Read then Rule.Update) sends it back.
	ID      *string        `json:"id,omitempty" doc:"Read-only: accepted only when it is the rule's own id."`
	Name    *string        `json:"name,omitempty"`
	Script  *string        `json:"script,omitempty" doc:"New JavaScript (see POST /rules): a new version; a WebAssembly rule becomes a JavaScript one."`
	Module  *string        `json:"module,omitempty" doc:"A new module (base64): a new version; a JavaScript rule becomes a WebAssembly one. Not with script."`
	Order   *int           `json:"order,omitempty"`
	Enabled *bool          `json:"enabled,omitempty"`
	Stage   *string        `json:"stage,omitempty" doc:"Only login_success."`
	Secrets map[string]any `json:"secrets,omitempty" doc:"Replace stored secrets key by key; a null value removes a key."`
}

// RuleListQuery documents GET /rules' parameters.
type RuleListQuery struct {
	PageQuery
	Enabled       bool   `query:"enabled" doc:"Only enabled (true) or disabled (false) rules."`
	Fields        string `query:"fields" doc:"Comma-separated properties to include or exclude."`
	IncludeFields bool   `query:"include_fields" doc:"Whether fields lists the properties to include (true, default) or to exclude (false)."`
}

// RuleReadQuery documents GET /rules/{id}'s parameters.
type RuleReadQuery struct {
	Fields        string `query:"fields" doc:"Comma-separated properties to include or exclude."`
	IncludeFields bool   `query:"include_fields" doc:"Whether fields lists the properties to include (true, default) or to exclude (false)."`
}

// stageLoginSuccess is the only stage Authgraph runs rules in.
const stageLoginSuccess = "login_success"

func (a *API) ruleRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodGet, Path: "/rules", Scopes: []string{"read:rules"},
			Summary:     "Get rules",
			Description: "Rules in the order they run. Without include_totals=true the answer is a bare array of rules.",
			Query:       RuleListQuery{}, Response: RuleList{},
			Handle: a.listRules,
		},
		{
			Method: http.MethodPost, Path: "/rules", Scopes: []string{"create:rules"},
			Summary:     "Create a rule",
			Description: "The rule is Auth0's JavaScript (script) or a WebAssembly module (module, base64): exactly one of them.",
			Body:        RuleCreate{}, Response: Rule{}, Status: http.StatusCreated,
			Handle: a.createRule,
		},
		{
			Method: http.MethodGet, Path: "/rules/{id}", Scopes: []string{"read:rules"},
			Summary:     "Get a rule",
			Description: "id is the rule's id (rul_…) or its name.",
			Query:       RuleReadQuery{}, Response: Rule{},
			Handle: a.getRule,
		},
		{
			Method: http.MethodPatch, Path: "/rules/{id}", Scopes: []string{"update:rules"},
			Summary:     "Update a rule",
			Description: "id is the rule's id (rul_…) or its name. Absent properties are left as they are.",
			Body:        RuleUpdate{}, Response: Rule{},
			Handle: a.updateRule,
		},
		{
			Method: http.MethodDelete, Path: "/rules/{id}", Scopes: []string{"delete:rules"},
			Summary:     "Delete a rule",
			Description: "id is the rule's id (rul_…) or its name.",
			Status:      http.StatusNoContent,
			Handle:      a.deleteRule,
		},
	}
}

func toRule(r *ent.Rule) Rule {
	secrets := r.SecretsSet
	if secrets == nil {
		secrets = []string{}
	}
	out := Rule{
		ID: string(r.ID), Name: r.Name, Order: r.Order, Enabled: r.Enabled, Stage: stageLoginSuccess,
		Language: "wasm", Version: r.Version, ModuleSize: r.ModuleSize, SecretsSet: secrets,
		CreatedAt: auth0Time(r.CreatedAt), UpdatedAt: auth0Time(r.UpdatedAt),
	}
	if rulesrun.IsJavaScript(r) {
		out.Script, out.Language = *r.Javascript, "javascript"
	}
	return out
}

func (a *API) listRules(r *Request) (any, error) {
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	fields, include, err := r.Fields()
	if err != nil {
		return nil, err
	}
	lp := rulesrun.ListParams{Offset: p.Offset(), Limit: p.PerPage}
	if r.URL.Query().Get("enabled") != "" {
		on, err := r.Bool("enabled", true)
		if err != nil {
			return nil, err
		}
		lp.Enabled = &on
	}
	found, total, err := rulesrun.ListRules(r.Ctx(), a.cfg.DB, lp)
	if err != nil {
		return nil, err
	}
	items := make([]Rule, len(found))
	for i, rl := range found {
		items[i] = toRule(rl)
	}
	return ProjectedList(p, "rules", items, total, fields, include)
}

func (a *API) getRule(r *Request) (any, error) {
	fields, include, err := r.Fields()
	if err != nil {
		return nil, err
	}
	rl, err := rulesrun.Find(r.Ctx(), a.cfg.DB, pulid.ID(r.Param("id")))
	if err != nil {
		return nil, err
	}
	return Project(toRule(rl), fields, include)
}

func (a *API) createRule(r *Request) (any, error) {
	var in RuleCreate
	if _, err := decodeWithNulls(r, &in); err != nil {
		return nil, err
	}
	if err := checkRuleBody(in.Stage); err != nil {
		return nil, err
	}
	rl, err := a.cfg.Rules.CreateRule(r.Ctx(), rulesrun.CreateInput{
		Name: in.Name, Module: in.Module, JavaScript: in.Script, Order: in.Order, Enabled: in.Enabled, Secrets: in.Secrets,
	})
	if err != nil {
		return nil, asConflict(scriptError(err), "conflict", "A rule with the same name already exists.")
	}
	return toRule(rl), nil
}

func (a *API) updateRule(r *Request) (any, error) {
	var in RuleUpdate
	nulls, err := decodeWithNulls(r, &in)
	if err != nil {
		return nil, err
	}
	if err := checkRuleBody(in.Stage); err != nil {
		return nil, err
	}
	for _, k := range []string{"name", "script", "module", "order", "enabled"} {
		if nulls[k] {
			return nil, badRequest("%s must not be null", k)
		}
	}
	id := r.Param("id")
	if in.ID != nil && *in.ID != id {
		// The path may name the rule: compare with its id.
		rl, err := rulesrun.Find(authz.SystemContext(r.Ctx()), a.cfg.DB, pulid.ID(id))
		if err != nil {
			return nil, err
		}
		if string(rl.ID) != *in.ID {
			return nil, badRequest("id cannot be changed")
		}
	}
	rl, err := a.cfg.Rules.UpdateRule(r.Ctx(), id, rulesrun.UpdateInput{
		Name:   identity.Patch[string]{Set: in.Name != nil, Value: in.Name},
		Module: in.Module, JavaScript: in.Script, Order: in.Order, Enabled: in.Enabled, Secrets: in.Secrets,
	})
	if err != nil {
		return nil, asConflict(scriptError(err), "conflict", "A rule with the same name already exists.")
	}
	return toRule(rl), nil
}

func (a *API) deleteRule(r *Request) (any, error) {
	_, err := a.cfg.Rules.DeleteRule(r.Ctx(), r.Param("id"))
	return nil, err
}

// scriptError names the property as this API does: the use case's
// "javascript" is Auth0's script.
func scriptError(err error) error {
	var verr *identity.ValidationError
	if errors.As(err, &verr) && verr.Field == "javascript" {
		return &identity.ValidationError{Field: "script", Message: strings.ReplaceAll(verr.Message, "javascript", "script")}
	}
	return err
}

func checkRuleBody(stage *string) error {
	if stage != nil && *stage != stageLoginSuccess {
		return badRequest("stage must be %s: Authgraph runs rules after a successful login only", stageLoginSuccess)
	}
	return nil
}

// decodeWithNulls decodes the body strictly into v (Request.Decode) and
// reports which top-level properties were JSON null, which v's pointers
// cannot tell from absent ones.
func decodeWithNulls(r *Request, v any) (map[string]bool, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return nil, decodeError(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if err := r.Decode(v); err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	_ = json.Unmarshal(raw, &top) // Decode accepted it: an object
	nulls := map[string]bool{}
	for k, val := range top {
		if string(bytes.TrimSpace(val)) == "null" {
			nulls[k] = true
		}
	}
	return nulls, nil
}
