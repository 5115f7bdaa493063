package rbac

import (
	"context"
	"slices"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/clientgrant"
	"github.com/authgraph/authgraph/ent/resourceserver"
	"github.com/authgraph/authgraph/ent/role"
	"github.com/authgraph/authgraph/ent/rolepermission"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/userpermission"
	"github.com/authgraph/authgraph/ent/userrole"
	"github.com/authgraph/authgraph/store"
)

// cacheSize bounds each of the Authorizer's caches (they start over when
// full).
const cacheSize = 8192

// watched are the entity types whose change drops every cached answer: a
// change of one role may change any user's permissions. Not User: logins
// update users all the time, and assignments are rows of their own.
var watched = []string{ent.TypeRole, ent.TypeRolePermission, ent.TypeUserRole, ent.TypeUserPermission,
	ent.TypeClientGrant, ent.TypeResourceServer, ent.TypeApplication}

// Authorizer answers the token endpoint: a user's roles and effective
// permissions per API, and a client's grant for an API. Answers are cached
// per user (and per (user, API), per (client, API)) and dropped whenever a role,
// permission, assignment, client grant or API changes (store.Cache).
type Authorizer struct {
	db        *ent.Client
	users     *store.Cache[pulid.ID, *userEntry]
	names     *store.Cache[struct{}, map[string]pulid.ID]
	effective *store.Cache[[2]pulid.ID, []string]
	grants    *store.Cache[[2]pulid.ID, grantEntry]
}

// userEntry is what the store says of one user.
type userEntry struct {
	roleIDs   []pulid.ID
	roleNames []string // sorted
	direct    map[pulid.ID][]string
}

type grantEntry struct {
	scopes []string
	ok     bool
}

// NewAuthorizer returns an Authorizer reading db.
func NewAuthorizer(db *ent.Client) *Authorizer {
	return &Authorizer{
		db:        db,
		users:     store.NewCache[pulid.ID, *userEntry](db, clients.CacheTTL, cacheSize, watched...).Named("rbac_users").KeepTTL(),
		names:     store.NewCache[struct{}, map[string]pulid.ID](db, clients.CacheTTL, 1, watched...).Named("rbac_role_names").KeepTTL(),
		effective: store.NewCache[[2]pulid.ID, []string](db, clients.CacheTTL, cacheSize, watched...).Named("rbac_permissions").KeepTTL(),
		grants:    store.NewCache[[2]pulid.ID, grantEntry](db, clients.CacheTTL, cacheSize, watched...).Named("rbac_client_grants").KeepTTL(),
	}
}

func (a *Authorizer) user(ctx context.Context, id pulid.ID) (*userEntry, error) {
	return a.users.Get(ctx, id, func(ctx context.Context) (*userEntry, error) {
		ctx = authz.SystemContext(ctx)
		rows, err := a.db.UserRole.Query().Where(userrole.UserRef(id)).WithRole().All(ctx)
		if err != nil {
			return nil, err
		}
		e := &userEntry{direct: map[pulid.ID][]string{}}
		for _, r := range rows {
			e.roleIDs = append(e.roleIDs, r.RoleRef)
			if r.Edges.Role != nil {
				e.roleNames = append(e.roleNames, r.Edges.Role.Name)
			}
		}
		slices.Sort(e.roleNames)
		perms, err := a.db.UserPermission.Query().Where(userpermission.UserRef(id)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range perms {
			e.direct[p.ResourceServerRef] = append(e.direct[p.ResourceServerRef], p.PermissionName)
		}
		return e, nil
	})
}

func (a *Authorizer) roleIDs(ctx context.Context) (map[string]pulid.ID, error) {
	return a.names.Get(ctx, struct{}{}, func(ctx context.Context) (map[string]pulid.ID, error) {
		rs, err := a.db.Role.Query().Select(role.FieldID, role.FieldName).All(authz.SystemContext(ctx))
		if err != nil {
			return nil, err
		}
		out := make(map[string]pulid.ID, len(rs))
		for _, r := range rs {
			out[r.Name] = r.ID
		}
		return out, nil
	})
}

// RoleNames returns the names of the roles assigned to the user (node id),
// sorted.
func (a *Authorizer) RoleNames(ctx context.Context, user pulid.ID) ([]string, error) {
	e, err := a.user(ctx, user)
	if err != nil {
		return nil, err
	}
	return slices.Clone(e.roleNames), nil
}

// Permissions returns the user's effective permissions on the API (node id
// api_…): direct ∪ through roles. roles, when not nil, replaces the user's
// stored roles by name for this answer (a rule changed them for one login);
// unknown names count for nothing.
func (a *Authorizer) Permissions(ctx context.Context, user, api pulid.ID, roles []string) ([]string, error) {
	if roles != nil {
		byName, err := a.roleIDs(ctx)
		if err != nil {
			return nil, err
		}
		ids := make([]pulid.ID, 0, len(roles))
		for _, n := range roles {
			if id, ok := byName[n]; ok {
				ids = append(ids, id)
			}
		}
		ps, err := a.compute(ctx, user, api, ids)
		return ps, err
	}
	ps, err := a.effective.Get(ctx, [2]pulid.ID{user, api}, func(ctx context.Context) ([]string, error) {
		e, err := a.user(ctx, user)
		if err != nil {
			return nil, err
		}
		return a.compute(ctx, user, api, e.roleIDs)
	})
	return slices.Clone(ps), err
}

// compute is direct ∪ the roles' permissions on api, sorted, deduplicated.
// The roles' permissions come in one query however many roles there are:
// every cached answer is dropped on any change (watched), so this runs cold
// on the token path after each edit.
func (a *Authorizer) compute(ctx context.Context, user, api pulid.ID, roleIDs []pulid.ID) ([]string, error) {
	e, err := a.user(ctx, user)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(e.direct[api])
	if len(roleIDs) > 0 {
		names, err := a.db.RolePermission.Query().
			Where(rolepermission.RoleRefIn(roleIDs...), rolepermission.ResourceServerRef(api)).
			Select(rolepermission.FieldPermissionName).Strings(authz.SystemContext(ctx))
		if err != nil {
			return nil, err
		}
		out = append(out, names...)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// ClientScopes returns the scopes a client grant gives the client (node id)
// on the API (node id); ok is false without a grant. The management API's
// grant is the client's management scopes.
func (a *Authorizer) ClientScopes(ctx context.Context, client, api pulid.ID) (scopes []string, ok bool, err error) {
	g, err := a.grants.Get(ctx, [2]pulid.ID{client, api}, func(ctx context.Context) (grantEntry, error) {
		ctx = authz.SystemContext(ctx)
		system, err := a.db.ResourceServer.Query().Where(resourceserver.ID(api), resourceserver.System(true)).Exist(ctx)
		if err != nil {
			return grantEntry{}, err
		}
		if system {
			app, err := a.db.Application.Query().Where(application.ID(client)).Only(ctx)
			if ent.IsNotFound(err) {
				return grantEntry{}, nil
			} else if err != nil {
				return grantEntry{}, err
			}
			p := clients.Power(app)
			slices.Sort(p)
			return grantEntry{scopes: p, ok: len(p) > 0}, nil
		}
		cg, err := a.db.ClientGrant.Query().Where(clientgrant.ClientRef(client), clientgrant.ResourceServerRef(api)).Only(ctx)
		if ent.IsNotFound(err) {
			return grantEntry{}, nil
		} else if err != nil {
			return grantEntry{}, err
		}
		s := slices.Clone(cg.Scopes)
		slices.Sort(s)
		return grantEntry{scopes: slices.Compact(s), ok: true}, nil
	})
	if err != nil {
		return nil, false, err
	}
	return slices.Clone(g.scopes), g.ok, nil
}
