package graph

// Helpers of the rules resolvers (rules.resolvers.go stays thin delegations:
// gqlgen rewrites that file).

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"entgo.io/contrib/entgql"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/graph/model"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/rules"
	"github.com/authgraph/authgraph/rulesrun"
)

// decodeModule decodes a base64 wasm module, refusing oversized input
// before decoding it.
func decodeModule(field, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if base64.StdEncoding.DecodedLen(len(s)) > rules.MaxModuleSize+3 {
		return nil, &identity.ValidationError{Field: field, Message: fmt.Sprintf("is larger than %d bytes", rules.MaxModuleSize)}
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// Also accept unpadded and URL-safe encodings.
		if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			if b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
				return nil, &identity.ValidationError{Field: field, Message: "must be base64 (standard encoding)"}
			}
		}
	}
	if len(b) > rules.MaxModuleSize {
		return nil, &identity.ValidationError{Field: field, Message: fmt.Sprintf("is %d bytes; at most %d are allowed", len(b), rules.MaxModuleSize)}
	}
	return b, nil
}

func (r *Resolver) listRules(ctx context.Context, after *entgql.Cursor[pulid.ID], first *int, before *entgql.Cursor[pulid.ID], last *int, orderBy *ent.RuleOrder) (*ent.RuleConnection, error) {
	if orderBy == nil {
		orderBy = &ent.RuleOrder{Direction: entgql.OrderDirectionAsc, Field: ent.RuleOrderFieldOrder}
	}
	return r.Ent.Rule.Query().Paginate(ctx, after, first, before, last, ent.WithRuleOrder(orderBy))
}

func (r *Resolver) createRule(ctx context.Context, input model.CreateRuleInput) (*ent.Rule, error) {
	if err := requireScope(ctx, "create:rules"); err != nil {
		return nil, err
	}
	module, err := decodeModule("module", input.Module)
	if err != nil {
		return nil, err
	}
	rl, err := r.Rules.Create(ctx, r.db(ctx), rulesrun.CreateParams{
		Name: input.Name, Module: module, Order: opt(input.Order), Enabled: opt(input.Enabled),
		Secrets: input.Secrets.Value(),
	})
	if err != nil {
		return nil, err
	}
	return rl, r.audit(ctx, "createRule", "Create a rule "+rl.Name, "")
}

func (r *Resolver) updateRule(ctx context.Context, id pulid.ID, input model.UpdateRuleInput) (*ent.Rule, error) {
	if err := requireScope(ctx, "update:rules"); err != nil {
		return nil, err
	}
	db := r.db(ctx)
	rl, err := rulesrun.Find(authz.SystemContext(ctx), db, id)
	if err != nil {
		return nil, err
	}
	p := rulesrun.UpdateParams{
		Name: opt(input.Name), Order: opt(input.Order), Enabled: opt(input.Enabled), Secrets: input.Secrets.Value(),
	}
	if m := input.Module.Value(); m != nil {
		if p.Module, err = decodeModule("module", *m); err != nil {
			return nil, err
		}
	}
	if p.Name == nil && input.Name.IsSet() {
		return nil, &identity.ValidationError{Field: "name", Message: "must not be null"}
	}
	rl, err = r.Rules.Update(ctx, db, rl, p)
	if err != nil {
		return nil, err
	}
	return rl, r.audit(ctx, "updateRule", "Update a rule "+rl.Name, "")
}

func (r *Resolver) deleteRule(ctx context.Context, id pulid.ID) (pulid.ID, error) {
	if err := requireScope(ctx, "delete:rules"); err != nil {
		return "", err
	}
	db := r.db(ctx)
	rl, err := rulesrun.Find(authz.SystemContext(ctx), db, id)
	if err != nil {
		return "", err
	}
	if err := r.Rules.Delete(ctx, db, rl); err != nil {
		return "", err
	}
	return rl.ID, r.audit(ctx, "deleteRule", "Delete a rule "+rl.Name, "")
}

func (r *Resolver) reorderRules(ctx context.Context, ids []pulid.ID) ([]*ent.Rule, error) {
	if err := requireScope(ctx, "update:rules"); err != nil {
		return nil, err
	}
	out, err := r.Rules.Reorder(ctx, r.db(ctx), ids)
	if err != nil {
		return nil, err
	}
	return out, r.audit(ctx, "reorderRules", "Reorder rules", "")
}

// testRule checks the scopes of what the dry run reads and runs: a rule's
// secrets reach whatever module runs with them, so running a new module with
// a stored rule's secrets takes update:rules, as replacing its module would.
func (r *Resolver) testRule(ctx context.Context, id *pulid.ID, module *string, userID *pulid.ID, clientID *string, event map[string]any) (*rulesrun.TestResult, error) {
	need := []string{"read:rules"}
	if module != nil {
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
	p := rulesrun.TestParams{RuleID: id, Event: event}
	if module != nil {
		var err error
		if p.Module, err = decodeModule("module", *module); err != nil {
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
