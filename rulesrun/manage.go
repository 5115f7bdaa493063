package rulesrun

// The rule management use cases, shared by every transport (GraphQL, the
// REST API v2): each checks the caller's scope before looking anything up,
// runs in one transaction through manage.Write and records its audit entry
// (log type sapi, operation = the GraphQL mutation name) in it. Transports
// parse their request shape into these inputs and map the typed errors.

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/rule"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/manage"
	"github.com/authgraph/authgraph/rules"
)

// CreateInput is a new rule as the transports receive it: its code is
// exactly one of Module and JavaScript.
type CreateInput struct {
	Name string
	// Module is the wasm module, base64 (standard encoding; unpadded and
	// URL-safe are accepted too), at most rules.MaxModuleSize decoded.
	Module *string
	// JavaScript is an Auth0 post-login Action or legacy Rule's source.
	JavaScript *string
	Order      *int
	Enabled    *bool
	// Secrets are string values; other JSON values are refused.
	Secrets map[string]any
}

// UpdateInput changes a rule; absent (nil) fields are left as they are.
type UpdateInput struct {
	Name identity.Patch[string]
	// Module (base64) or JavaScript, when set, is new code, whatever the
	// rule's language was: a new version. Not both.
	Module     *string
	JavaScript *string
	Order      *int
	Enabled    *bool
	// Secrets given replace stored ones key by key; a null value removes a
	// key.
	Secrets map[string]any
}

// DecodeModule decodes a base64 wasm module given in field, refusing
// oversized input before decoding it.
func DecodeModule(field, s string) ([]byte, error) {
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

// CreateRule validates and stores a rule (create:rules).
func (s *Service) CreateRule(ctx context.Context, in CreateInput) (*ent.Rule, error) {
	var out *ent.Rule
	err := manage.Write(ctx, s.DB, manage.Op{Scope: "create:rules", Operation: "createRule"}, func(tx *ent.Client) (manage.Audit, error) {
		p := CreateParams{Name: in.Name, Order: in.Order, Enabled: in.Enabled, Secrets: in.Secrets}
		var err error
		switch {
		case in.Module != nil && in.JavaScript != nil:
			return manage.Audit{}, errBothCodes
		case in.JavaScript != nil && *in.JavaScript == "":
			return manage.Audit{}, &identity.ValidationError{Field: "javascript", Message: "is empty"}
		case in.JavaScript != nil:
			p.JavaScript = *in.JavaScript
		case in.Module != nil:
			if p.Module, err = DecodeModule("module", *in.Module); err != nil {
				return manage.Audit{}, err
			}
		}
		out, err = s.Create(ctx, tx, p)
		if err != nil {
			return manage.Audit{}, err
		}
		return manage.Audit{Description: "Create a rule " + out.Name}, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateRule changes the rule id (node id or name) (update:rules).
func (s *Service) UpdateRule(ctx context.Context, id string, in UpdateInput) (*ent.Rule, error) {
	var out *ent.Rule
	err := manage.Write(ctx, s.DB, manage.Op{Scope: "update:rules", Operation: "updateRule"}, func(tx *ent.Client) (manage.Audit, error) {
		// Looked up as the system: update:rules is enough to change a rule
		// without read:rules, as in the GraphQL API.
		rl, err := Find(authz.SystemContext(ctx), tx, pulid.ID(id))
		if err != nil {
			return manage.Audit{}, err
		}
		p := UpdateParams{Order: in.Order, Enabled: in.Enabled, Secrets: in.Secrets}
		if in.Name.Set {
			if in.Name.Value == nil {
				return manage.Audit{}, &identity.ValidationError{Field: "name", Message: "must not be null"}
			}
			p.Name = in.Name.Value
		}
		if in.Module != nil && in.JavaScript != nil {
			return manage.Audit{}, errBothCodes
		}
		if in.Module != nil {
			if p.Module, err = DecodeModule("module", *in.Module); err != nil {
				return manage.Audit{}, err
			}
		}
		p.JavaScript = in.JavaScript
		if out, err = s.Update(ctx, tx, rl, p); err != nil {
			return manage.Audit{}, err
		}
		return manage.Audit{Description: "Update a rule " + out.Name}, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteRule removes the rule id (node id or name) and returns it as it
// was (delete:rules).
func (s *Service) DeleteRule(ctx context.Context, id string) (*ent.Rule, error) {
	var out *ent.Rule
	err := manage.Write(ctx, s.DB, manage.Op{Scope: "delete:rules", Operation: "deleteRule"}, func(tx *ent.Client) (manage.Audit, error) {
		rl, err := Find(authz.SystemContext(ctx), tx, pulid.ID(id))
		if err != nil {
			return manage.Audit{}, err
		}
		if err := s.Delete(ctx, tx, rl); err != nil {
			return manage.Audit{}, err
		}
		out = rl
		return manage.Audit{Description: "Delete a rule " + rl.Name}, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReorderRules gives every rule its place: ids list each rule once, and
// get orders 1, 2, 3… (update:rules).
func (s *Service) ReorderRules(ctx context.Context, ids []pulid.ID) ([]*ent.Rule, error) {
	var out []*ent.Rule
	err := manage.Write(ctx, s.DB, manage.Op{Scope: "update:rules", Operation: "reorderRules", Description: "Reorder rules"}, func(tx *ent.Client) (manage.Audit, error) {
		var err error
		out, err = s.Reorder(ctx, tx, ids)
		return manage.Audit{}, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListParams filter and page a rule list.
type ListParams struct {
	// Enabled, when set, keeps only enabled (true) or disabled rules.
	Enabled *bool
	// Offset and Limit page the list; Limit 0 means no limit.
	Offset, Limit int
}

// ListRules returns rules in the order they run (order, then oldest
// first) and how many match in all. db reads as the caller: read:rules
// applies.
func ListRules(ctx context.Context, db *ent.Client, p ListParams) ([]*ent.Rule, int, error) {
	q := db.Rule.Query()
	if p.Enabled != nil {
		q.Where(rule.Enabled(*p.Enabled))
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, 0, err
	}
	q.Order(ent.Asc(rule.FieldOrder), ent.Asc(rule.FieldCreatedAt), ent.Asc(rule.FieldID)).Offset(p.Offset)
	if p.Limit > 0 {
		q.Limit(p.Limit)
	}
	out, err := q.All(ctx)
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}
