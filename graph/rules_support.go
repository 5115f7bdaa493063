package graph

// Helpers of the rules resolvers (rules.resolvers.go stays thin delegations:
// gqlgen rewrites that file).

import (
	"context"

	"entgo.io/contrib/entgql"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/graph/model"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/rules/jstemplates"
	"github.com/authgraph/authgraph/rulesrun"
)

func (r *Resolver) listRules(ctx context.Context, after *entgql.Cursor[pulid.ID], first *int, before *entgql.Cursor[pulid.ID], last *int, orderBy *ent.RuleOrder) (*ent.RuleConnection, error) {
	if orderBy == nil {
		orderBy = &ent.RuleOrder{Direction: entgql.OrderDirectionAsc, Field: ent.RuleOrderFieldOrder}
	}
	return r.Ent.Rule.Query().Paginate(ctx, after, first, before, last, ent.WithRuleOrder(orderBy))
}

// The rule mutations are rulesrun's use cases (scope, transaction, audit);
// these map GraphQL inputs onto them.

func (r *Resolver) createRule(ctx context.Context, input model.CreateRuleInput) (*ent.Rule, error) {
	return r.Rules.CreateRule(ctx, rulesrun.CreateInput{
		Name: input.Name, Module: input.Module.Value(), JavaScript: input.Javascript.Value(),
		Order: opt(input.Order), Enabled: opt(input.Enabled), Secrets: input.Secrets.Value(),
	})
}

func (r *Resolver) updateRule(ctx context.Context, id pulid.ID, input model.UpdateRuleInput) (*ent.Rule, error) {
	return r.Rules.UpdateRule(ctx, string(id), rulesrun.UpdateInput{
		Name:   identity.Patch[string]{Set: input.Name.IsSet(), Value: input.Name.Value()},
		Module: input.Module.Value(), JavaScript: input.Javascript.Value(),
		Order: opt(input.Order), Enabled: opt(input.Enabled), Secrets: input.Secrets.Value(),
	})
}

func (r *Resolver) deleteRule(ctx context.Context, id pulid.ID) (pulid.ID, error) {
	rl, err := r.Rules.DeleteRule(ctx, string(id))
	if err != nil {
		return "", err
	}
	return rl.ID, nil
}

func (r *Resolver) reorderRules(ctx context.Context, ids []pulid.ID) ([]*ent.Rule, error) {
	return r.Rules.ReorderRules(ctx, ids)
}

// ruleTemplates lists the JavaScript rule templates (read:rules, as the
// rules they become).
func (r *Resolver) ruleTemplates(ctx context.Context) ([]*jstemplates.Template, error) {
	if err := requireScope(ctx, "read:rules"); err != nil {
		return nil, err
	}
	all := jstemplates.All()
	out := make([]*jstemplates.Template, len(all))
	for i := range all {
		out[i] = &all[i]
	}
	return out, nil
}

// testRule checks the scopes of what the dry run reads and runs: a rule's
// secrets reach whatever code runs with them, so running new code (a module
// or JavaScript) with a stored rule's secrets takes update:rules, as
// replacing its code would.
func (r *Resolver) testRule(ctx context.Context, id *pulid.ID, module, javascript *string, userID *pulid.ID, clientID *string, event map[string]any) (*rulesrun.TestResult, error) {
	need := []string{"read:rules"}
	if module != nil || javascript != nil {
		need = append(need, "create:rules")
		if id != nil {
			need = append(need, "update:rules")
		}
	}
	if userID != nil {
		need = append(need, "read:users")
	}
	if clientID != nil {
		need = append(need, "read:clients")
	}
	for _, s := range need {
		if err := requireScope(ctx, s); err != nil {
			return nil, err
		}
	}
	p := rulesrun.TestParams{RuleID: id, JavaScript: javascript, Event: event}
	if module != nil {
		var err error
		if p.Module, err = rulesrun.DecodeModule("module", *module); err != nil {
			return nil, err
		}
	}
	if userID != nil {
		p.UserID = string(*userID)
	}
	if clientID != nil {
		p.ClientID = *clientID
	}
	return r.Rules.Test(ctx, r.db(ctx), p)
}
