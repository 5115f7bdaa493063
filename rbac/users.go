package rbac

import (
	"context"
	"slices"
	"strings"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/predicate"
	"github.com/authgraph/authgraph/ent/role"
	"github.com/authgraph/authgraph/ent/rolepermission"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/userpermission"
	"github.com/authgraph/authgraph/ent/userrole"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/manage"
)

// findUser resolves a user (user_id or node id) as the system.
func findUser(ctx context.Context, db *ent.Client, id string) (*ent.User, error) {
	return identity.Resolve(sys(ctx), db, id)
}

// userForWrite resolves the user a write changes. An administrator's roles
// and permissions are theirs to keep: only a caller holding every scope of
// their admin grant may change them (admins.RequireControl), as for every
// other change of an administrator's account.
func userForWrite(ctx context.Context, db *ent.Client, id string) (*ent.User, error) {
	u, err := findUser(ctx, db, id)
	if err != nil {
		return nil, err
	}
	return u, admins.RequireControl(ctx, db, u.ID)
}

// UserRoles lists a user's roles by name (read:users and read:roles); the
// user given by user_id or node id.
func (m Manager) UserRoles(ctx context.Context, userID string, page Page) ([]*ent.Role, int, error) {
	if err := needScopes(ctx, "read:users", "read:roles"); err != nil {
		return nil, 0, err
	}
	page, err := page.normalize()
	if err != nil {
		return nil, 0, err
	}
	u, err := findUser(ctx, m.DB, userID)
	if err != nil {
		return nil, 0, err
	}
	ids, err := heldRoles(ctx, m.DB, u.ID)
	if err != nil {
		return nil, 0, err
	}
	return rolePage(ctx, m.DB.Role.Query().Where(role.IDIn(ids...)), page)
}

func rolePage(ctx context.Context, q *ent.RoleQuery, page Page) ([]*ent.Role, int, error) {
	total, err := q.Clone().Count(sys(ctx))
	if err != nil {
		return nil, 0, err
	}
	rs, err := q.Order(ent.Asc(role.FieldName), ent.Asc(role.FieldID)).Offset(page.Offset).Limit(page.Limit).All(sys(ctx))
	return rs, total, err
}

// AssignUserRoles assigns roles to a user (update:users and
// create:role_members); roles already held are kept.
func (m Manager) AssignUserRoles(ctx context.Context, userID string, roleIDs []string) error {
	op := manage.Op{Scope: "update:users", Scopes: []string{"create:role_members"}, Operation: "assignUserRoles"}
	return manage.Write(ctx, m.DB, op, func(tx *ent.Client) (manage.Audit, error) {
		if err := checkCount("roles", len(roleIDs)); err != nil {
			return manage.Audit{}, err
		}
		u, err := userForWrite(ctx, tx, userID)
		if err != nil {
			return manage.Audit{}, err
		}
		rs, err := findRoles(ctx, tx, roleIDs)
		if err != nil {
			return manage.Audit{}, err
		}
		held, err := heldRoles(ctx, tx, u.ID)
		if err != nil {
			return manage.Audit{}, err
		}
		var creates []*ent.UserRoleCreate
		for _, r := range rs {
			if !slices.Contains(held, r.ID) {
				creates = append(creates, tx.UserRole.Create().SetUserRef(u.ID).SetRoleRef(r.ID))
			}
		}
		if len(creates) == 0 {
			return manage.Audit{Skip: true}, nil
		}
		a := manage.Audit{UserID: u.UserID, Description: "Assign roles to a user"}
		return a, tx.UserRole.CreateBulk(creates...).Exec(sys(ctx))
	})
}

func heldRoles(ctx context.Context, db *ent.Client, user pulid.ID) ([]pulid.ID, error) {
	rows, err := db.UserRole.Query().Where(userrole.UserRef(user)).All(sys(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]pulid.ID, len(rows))
	for i, r := range rows {
		out[i] = r.RoleRef
	}
	return out, nil
}

// RemoveUserRoles removes roles from a user (update:users and
// delete:role_members).
func (m Manager) RemoveUserRoles(ctx context.Context, userID string, roleIDs []string) error {
	op := manage.Op{Scope: "update:users", Scopes: []string{"delete:role_members"}, Operation: "removeUserRoles"}
	return manage.Write(ctx, m.DB, op, func(tx *ent.Client) (manage.Audit, error) {
		if err := checkCount("roles", len(roleIDs)); err != nil {
			return manage.Audit{}, err
		}
		u, err := userForWrite(ctx, tx, userID)
		if err != nil {
			return manage.Audit{}, err
		}
		rs, err := findRoles(ctx, tx, roleIDs)
		if err != nil {
			return manage.Audit{}, err
		}
		ids := make([]pulid.ID, len(rs))
		for i, r := range rs {
			ids[i] = r.ID
		}
		n, err := tx.UserRole.Delete().Where(userrole.UserRef(u.ID), userrole.RoleRefIn(ids...)).Exec(sys(ctx))
		if err != nil || n == 0 {
			return manage.Audit{Skip: true}, err
		}
		return manage.Audit{UserID: u.UserID, Description: "Remove roles from a user"}, nil
	})
}

// UserPermissions lists the permissions a user holds, directly and through
// roles, with their sources (read:users); audience, when set, keeps one API's.
func (m Manager) UserPermissions(ctx context.Context, userID, audience string, page Page) ([]PermissionInfo, int, error) {
	if err := needScopes(ctx, "read:users"); err != nil {
		return nil, 0, err
	}
	page, err := page.normalize()
	if err != nil {
		return nil, 0, err
	}
	u, err := findUser(ctx, m.DB, userID)
	if err != nil {
		return nil, 0, err
	}
	dq := m.DB.UserPermission.Query().Where(userpermission.UserRef(u.ID))
	var only pulid.ID
	if audience != "" {
		rs, err := apis.Find(sys(ctx), m.DB, audience)
		if err != nil {
			return nil, 0, err
		}
		only = rs.ID
		dq.Where(userpermission.ResourceServerRef(only))
	}
	direct, err := dq.All(sys(ctx))
	if err != nil {
		return nil, 0, err
	}
	roleIDs, err := heldRoles(ctx, m.DB, u.ID)
	if err != nil {
		return nil, 0, err
	}
	roles, err := m.DB.Role.Query().Where(role.IDIn(roleIDs...)).All(sys(ctx))
	if err != nil {
		return nil, 0, err
	}
	names := map[pulid.ID]string{}
	for _, r := range roles {
		names[r.ID] = r.Name
	}
	rq := m.DB.RolePermission.Query().Where(rolepermission.RoleRefIn(roleIDs...))
	if only != "" {
		rq.Where(rolepermission.ResourceServerRef(only))
	}
	viaRoles, err := rq.All(sys(ctx))
	if err != nil {
		return nil, 0, err
	}

	sources := map[perm][]Source{}
	var order []perm
	add := func(p perm, s Source) {
		if _, ok := sources[p]; !ok {
			order = append(order, p)
		}
		sources[p] = append(sources[p], s)
	}
	for _, d := range direct {
		add(perm{d.ResourceServerRef, d.PermissionName}, Source{Type: "DIRECT"})
	}
	for _, rp := range viaRoles {
		add(perm{rp.ResourceServerRef, rp.PermissionName}, Source{Type: "ROLE", RoleID: rp.RoleRef, RoleName: names[rp.RoleRef]})
	}
	var apiIDs []pulid.ID
	for _, p := range order {
		apiIDs = append(apiIDs, p.rs)
	}
	infos, err := apiInfos(ctx, m.DB, apiIDs)
	if err != nil {
		return nil, 0, err
	}
	out := make([]PermissionInfo, 0, len(order))
	for _, p := range order {
		a := infos[p.rs]
		ss := sources[p]
		slices.SortFunc(ss, func(a, b Source) int {
			if a.Type != b.Type {
				return strings.Compare(a.Type, b.Type) // DIRECT first
			}
			return strings.Compare(a.RoleName, b.RoleName)
		})
		out = append(out, PermissionInfo{
			Permission:         Permission{ResourceServerIdentifier: a.identifier, PermissionName: p.name},
			ResourceServerName: a.name, Description: a.descriptions[p.name], Sources: ss,
		})
	}
	sortPerms(out)
	lo, hi := page.window(len(out))
	return out[lo:hi], len(out), nil
}

// AddUserPermissions assigns permissions to a user directly (update:users).
func (m Manager) AddUserPermissions(ctx context.Context, userID string, perms []Permission) error {
	return manage.Write(ctx, m.DB, manage.Op{Scope: "update:users", Operation: "addUserPermissions"},
		func(tx *ent.Client) (manage.Audit, error) {
			u, err := userForWrite(ctx, tx, userID)
			if err != nil {
				return manage.Audit{}, err
			}
			ps, err := resolvePerms(ctx, tx, perms, true)
			if err != nil {
				return manage.Audit{}, err
			}
			held, err := tx.UserPermission.Query().Where(userpermission.UserRef(u.ID)).All(sys(ctx))
			if err != nil {
				return manage.Audit{}, err
			}
			have := map[perm]bool{}
			for _, h := range held {
				have[perm{h.ResourceServerRef, h.PermissionName}] = true
			}
			var creates []*ent.UserPermissionCreate
			for _, p := range ps {
				if !have[p] {
					creates = append(creates, tx.UserPermission.Create().SetUserRef(u.ID).
						SetResourceServerRef(p.rs).SetPermissionName(p.name))
				}
			}
			if len(creates) == 0 {
				return manage.Audit{Skip: true}, nil
			}
			a := manage.Audit{UserID: u.UserID, Description: "Add permissions to a user"}
			return a, tx.UserPermission.CreateBulk(creates...).Exec(sys(ctx))
		})
}

// RemoveUserPermissions removes directly assigned permissions (update:users);
// permissions held through roles stay.
func (m Manager) RemoveUserPermissions(ctx context.Context, userID string, perms []Permission) error {
	return manage.Write(ctx, m.DB, manage.Op{Scope: "update:users", Operation: "removeUserPermissions"},
		func(tx *ent.Client) (manage.Audit, error) {
			u, err := userForWrite(ctx, tx, userID)
			if err != nil {
				return manage.Audit{}, err
			}
			ps, err := resolvePerms(ctx, tx, perms, false)
			if err != nil {
				return manage.Audit{}, err
			}
			n := 0
			for _, p := range ps {
				k, err := tx.UserPermission.Delete().Where(userpermission.UserRef(u.ID),
					userpermission.ResourceServerRef(p.rs), userpermission.PermissionName(p.name)).Exec(sys(ctx))
				if err != nil {
					return manage.Audit{}, err
				}
				n += k
			}
			if n == 0 {
				return manage.Audit{Skip: true}, nil
			}
			return manage.Audit{UserID: u.UserID, Description: "Remove permissions from a user"}, nil
		})
}

// SearchUsers parses a user search (identity.Search) for the caller. A
// "roles:" term discloses who holds a role, which the role-member listing
// guards with read:roles and read:role_members; the search asks the same,
// since its subquery reads the assignment table directly, past the ent
// policy that would otherwise refuse it.
func SearchUsers(ctx context.Context, q string) (predicate.User, error) {
	pred, fields, err := identity.SearchFields(q)
	if err != nil {
		return nil, err
	}
	if slices.Contains(fields, "roles") {
		if err := needScopes(ctx, "read:roles", "read:role_members"); err != nil {
			return nil, err
		}
	}
	return pred, nil
}
