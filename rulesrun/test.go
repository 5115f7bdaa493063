package rulesrun

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/role"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/userrole"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/rules"
)

// TestParams describe a dry run: a stored rule (RuleID) or code not yet
// uploaded (Module or JavaScript), or a stored rule's secrets with new code
// (both).
type TestParams struct {
	RuleID *pulid.ID
	Module []byte
	// JavaScript is an Action or legacy Rule's source (not with Module).
	JavaScript *string
	// UserID (node id or user_id) builds the real login event for that user,
	// with ClientID's application (client_id or node id) when given.
	UserID   string
	ClientID string
	// Event overrides fields of the event, merged object by object
	// ({"user": {"email_verified": false}} changes just that).
	Event map[string]any
}

// TestResult is what the rule would do. Nothing was persisted.
type TestResult struct {
	RuleName          string
	Allowed           bool
	Deny              *string
	IDTokenClaims     map[string]any
	AccessTokenClaims map[string]any
	AppMetadata       map[string]any
	UserMetadata      map[string]any
	DroppedClaims     []string
	// RequireMFA is the rule's require_mfa: a login without a second
	// factor would be sent to the MFA challenge first.
	RequireMFA bool
	Logs       []string
	Duration   time.Duration
	// Error is the rule's failure (rule_failed …), nil when it ran.
	Error *string
}

// Test runs one rule on an event without persisting anything. db reads
// as the caller (its scopes apply to the rule, user and client read).
func (s *Service) Test(ctx context.Context, db *ent.Client, p TestParams) (*TestResult, error) {
	if p.RuleID == nil && p.Module == nil && p.JavaScript == nil {
		return nil, &identity.ValidationError{Field: "id", Message: "give a rule id, code (module or javascript), or both"}
	}
	c, err := codeOf(p.Module, p.JavaScript, false)
	if err != nil {
		return nil, err
	}
	var stored *ent.Rule
	secrets := map[string]string{}
	if p.RuleID != nil {
		r, err := Find(ctx, db, *p.RuleID)
		if err != nil {
			return nil, err
		}
		if secrets, err = s.Secrets(r); err != nil {
			return nil, err
		}
		stored = r
	}
	rv := rules.RuleVersion{ID: "rul_test", Name: "test", Secrets: secrets}
	if stored != nil {
		rv = versionOf(stored, secrets)
	}
	if c != nil {
		if err := s.validateCode(ctx, *c); err != nil {
			return nil, err
		}
		// A key of its own, evicted after the run: a dry run must not
		// leave compiled modules behind.
		rv.Module, rv.JavaScript, rv.Version = c.module, c.javascript, "test-"+c.version()
		defer s.Engine.Evict(context.WithoutCancel(ctx), rv.ID, rv.Version)
	}

	var ev rules.Event
	if p.UserID != "" {
		u, err := identity.Resolve(ctx, db, p.UserID)
		if err != nil {
			return nil, err
		}
		in := Login{User: u, Protocol: "oidc-basic-profile", RequestedScopes: []string{"openid", "profile", "email"}}
		// The user's roles, as a login would show them.
		if in.Roles, err = db.UserRole.Query().Where(userrole.UserRef(u.ID)).QueryRole().
			Order(role.ByName()).Select(role.FieldName).Strings(authz.SystemContext(ctx)); err != nil {
			return nil, err
		}
		if p.ClientID != "" {
			q := db.Application.Query()
			if pulid.ID(p.ClientID).Prefix() == "cli_" {
				q.Where(application.ID(pulid.ID(p.ClientID)))
			} else {
				q.Where(application.ClientID(p.ClientID))
			}
			app, err := q.Only(ctx)
			if ent.IsNotFound(err) {
				return nil, &identity.NotFoundError{What: "client", ID: p.ClientID}
			}
			if err != nil {
				return nil, err
			}
			in.Client = app
			if len(app.RedirectUris) > 0 {
				in.RedirectURI = app.RedirectUris[0]
			}
		}
		if ev, _, err = s.BuildEvent(ctx, in); err != nil {
			return nil, err
		}
	}
	if len(p.Event) > 0 {
		var err error
		if ev, err = overrideEvent(ev, p.Event); err != nil {
			return nil, err
		}
	}

	res, err := s.Engine.RunPipeline(ctx, []rules.RuleVersion{rv}, ev)
	out := &TestResult{
		RuleName: rv.Name, IDTokenClaims: res.IDTokenClaims, AccessTokenClaims: res.AccessTokenClaims,
		AppMetadata: res.AppMetadata, UserMetadata: res.UserMetadata, Duration: res.Duration,
		Logs: []string{}, DroppedClaims: []string{},
	}
	if len(res.Runs) > 0 {
		run := res.Runs[0]
		out.Logs, out.Duration = nonNil(run.Logs), run.Duration
		if run.DroppedClaims != nil {
			out.DroppedClaims = run.DroppedClaims
		}
	}
	if err != nil {
		msg := err.Error()
		out.Error = &msg
		return out, nil
	}
	if res.Deny != nil {
		out.Deny = &res.Deny.Reason
		return out, nil
	}
	out.Allowed, out.RequireMFA = true, res.RequireMFA
	return out, nil
}

// overrideEvent merges patch into ev's JSON form: objects merge key by key,
// anything else replaces.
func overrideEvent(ev rules.Event, patch map[string]any) (rules.Event, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return ev, err
	}
	var base map[string]any
	if err := json.Unmarshal(b, &base); err != nil {
		return ev, err
	}
	merged := mergeObjects(base, patch)
	b, err = json.Marshal(merged)
	if err != nil {
		return ev, &identity.ValidationError{Field: "event", Message: err.Error()}
	}
	var out rules.Event
	if err := json.Unmarshal(b, &out); err != nil {
		return ev, &identity.ValidationError{Field: "event", Message: fmt.Sprintf("does not fit the event schema: %v", err)}
	}
	return out, nil
}

func mergeObjects(base, patch map[string]any) map[string]any {
	for k, v := range patch {
		pm, pok := v.(map[string]any)
		bm, bok := base[k].(map[string]any)
		if pok && bok {
			base[k] = mergeObjects(bm, pm)
			continue
		}
		base[k] = v
	}
	return base
}
