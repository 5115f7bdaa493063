package graph

import (
	"context"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/graph/model"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/rbac"
)

// permissionsInput converts GraphQL permission inputs to rbac's.
func permissionsInput(in []*model.PermissionInput) []rbac.Permission {
	out := make([]rbac.Permission, 0, len(in))
	for _, p := range in {
		out = append(out, rbac.Permission{ResourceServerIdentifier: p.ResourceServerIdentifier, PermissionName: p.PermissionName})
	}
	return out
}

// permissionsOutput converts rbac's permission listing to GraphQL's, the
// sources (direct, through which role) included.
func permissionsOutput(in []rbac.PermissionInfo) []*model.Permission {
	out := make([]*model.Permission, 0, len(in))
	for _, p := range in {
		m := &model.Permission{
			ResourceServerIdentifier: p.ResourceServerIdentifier,
			PermissionName:           p.PermissionName,
			ResourceServerName:       p.ResourceServerName,
			Description:              p.Description,
			Sources:                  make([]*model.PermissionSource, 0, len(p.Sources)),
		}
		for _, s := range p.Sources {
			src := &model.PermissionSource{Type: model.PermissionSourceType(s.Type)}
			if src.Type == model.PermissionSourceTypeRole {
				id, name := s.RoleID, s.RoleName
				src.RoleID, src.RoleName = &id, &name
			}
			m.Sources = append(m.Sources, src)
		}
		out = append(out, m)
	}
	return out
}

// idStrings converts GraphQL ids (node ids or external ids: user_id, …) to
// the strings the use cases resolve.
func idStrings(ids []pulid.ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

// allPages reads a whole offset-paged rbac listing, for the GraphQL fields
// that answer with a plain list (a user's roles, a role's permissions).
func allPages[T any](list func(rbac.Page) ([]T, int, error)) ([]T, error) {
	out := make([]T, 0)
	for {
		items, total, err := list(rbac.Page{Offset: len(out), Limit: rbac.MaxPage})
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if len(items) == 0 || len(out) >= total {
			return out, nil
		}
	}
}

// writtenRole reads back the role a write just changed. The write's scope
// is the authorisation (Auth0 answers a role update with the role to a
// caller holding update:roles alone), so it reads as the system, inside the
// operation's transaction; the role's permissions and members still check
// their own scopes.
func (r *Resolver) writtenRole(ctx context.Context, id pulid.ID) (*ent.Role, error) {
	return rbac.FindRole(authz.SystemContext(ctx), r.db(ctx), string(id))
}

// writtenUser reads back the user a write just changed, as writtenRole does
// (updateUser answers a caller holding update:users alone the same way).
func (r *Resolver) writtenUser(ctx context.Context, id pulid.ID) (*ent.User, error) {
	return identity.Resolve(authz.SystemContext(ctx), r.db(ctx), string(id))
}
