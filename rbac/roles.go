package rbac

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/role"
	"github.com/authgraph/authgraph/ent/rolepermission"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/ent/userrole"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/manage"
)

// FindRole returns the role with node id id (rol_…) as ctx may read it;
// *identity.NotFoundError otherwise.
func FindRole(ctx context.Context, db *ent.Client, id string) (*ent.Role, error) {
	r, err := db.Role.Query().Where(role.ID(pulid.ID(id))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &identity.NotFoundError{What: "role", ID: id}
	}
	return r, err
}

// validateRole checks p; creating asks for a name.
func validateRole(p *RoleParams, creating bool) error {
	if p.Name != nil {
		n := strings.TrimSpace(*p.Name)
		if n == "" || utf8.RuneCountInString(n) > 200 {
			return &identity.ValidationError{Field: "name", Message: "must be 1 to 200 characters"}
		}
		p.Name = &n
	} else if creating {
		return &identity.ValidationError{Field: "name", Message: "is required"}
	}
	if p.Description != nil && utf8.RuneCountInString(*p.Description) > 1000 {
		return &identity.ValidationError{Field: "description", Message: "must be at most 1000 characters"}
	}
	return nil
}

// nameFree refuses a name another role has. Checked before writing, so a
// conflict does not abort the caller's transaction on Postgres; the unique
// index still decides races.
func nameFree(ctx context.Context, db *ent.Client, name string, except pulid.ID) error {
	taken, err := db.Role.Query().Where(role.Name(name), role.IDNEQ(except)).Exist(sys(ctx))
	if err != nil {
		return err
	}
	if taken {
		return nameTaken(name)
	}
	return nil
}

func nameTaken(name string) error {
	return &identity.ConflictError{Field: "name", Message: fmt.Sprintf("a role named %q already exists", name)}
}

// CreateRole creates a role (create:roles); a taken name is a conflict.
func (m Manager) CreateRole(ctx context.Context, p RoleParams) (*ent.Role, error) {
	var out *ent.Role
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "create:roles", Operation: "createRole"},
		func(tx *ent.Client) (manage.Audit, error) {
			if err := validateRole(&p, true); err != nil {
				return manage.Audit{}, err
			}
			if err := nameFree(ctx, tx, *p.Name, ""); err != nil {
				return manage.Audit{}, err
			}
			c := tx.Role.Create().SetName(*p.Name)
			if p.Description != nil {
				c.SetDescription(*p.Description)
			}
			r, err := c.Save(sys(ctx))
			if ent.IsConstraintError(err) {
				return manage.Audit{}, nameTaken(*p.Name)
			}
			if err != nil {
				return manage.Audit{}, err
			}
			out = r
			return manage.Audit{Description: "Create a role " + r.Name}, nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateRole changes a role (update:roles).
func (m Manager) UpdateRole(ctx context.Context, id string, p RoleParams) (*ent.Role, error) {
	var out *ent.Role
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "update:roles", Operation: "updateRole"},
		func(tx *ent.Client) (manage.Audit, error) {
			if err := validateRole(&p, false); err != nil {
				return manage.Audit{}, err
			}
			r, err := findRole(ctx, tx, id)
			if err != nil {
				return manage.Audit{}, err
			}
			u := tx.Role.UpdateOne(r)
			if p.Name != nil {
				if err := nameFree(ctx, tx, *p.Name, r.ID); err != nil {
					return manage.Audit{}, err
				}
				u.SetName(*p.Name)
			}
			if p.Description != nil {
				u.SetDescription(*p.Description)
			}
			if out, err = u.Save(sys(ctx)); ent.IsConstraintError(err) {
				return manage.Audit{}, nameTaken(*p.Name)
			} else if err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{Description: "Update a role " + out.Name}, nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteRole deletes a role, its permissions and its assignments
// (delete:roles), returning it as it was.
func (m Manager) DeleteRole(ctx context.Context, id string) (*ent.Role, error) {
	var out *ent.Role
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "delete:roles", Operation: "deleteRole"},
		func(tx *ent.Client) (manage.Audit, error) {
			r, err := findRole(ctx, tx, id)
			if err != nil {
				return manage.Audit{}, err
			}
			// Explicitly rather than by the foreign keys' cascade: the
			// deletes then go through ent, whose hooks tell the caches.
			if _, err := tx.RolePermission.Delete().Where(rolepermission.RoleRef(r.ID)).Exec(sys(ctx)); err != nil {
				return manage.Audit{}, err
			}
			if _, err := tx.UserRole.Delete().Where(userrole.RoleRef(r.ID)).Exec(sys(ctx)); err != nil {
				return manage.Audit{}, err
			}
			if err := tx.Role.DeleteOne(r).Exec(sys(ctx)); err != nil {
				return manage.Audit{}, err
			}
			out = r
			return manage.Audit{Description: "Delete a role " + r.Name}, nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Roles lists roles by name (read:roles); nameFilter, when set, keeps the
// names containing it, case-insensitively (Auth0's name_filter).
func (m Manager) Roles(ctx context.Context, nameFilter string, page Page) ([]*ent.Role, int, error) {
	if err := needScopes(ctx, "read:roles"); err != nil {
		return nil, 0, err
	}
	page, err := page.normalize()
	if err != nil {
		return nil, 0, err
	}
	q := m.DB.Role.Query()
	if nameFilter != "" {
		q.Where(role.NameContainsFold(nameFilter))
	}
	total, err := q.Clone().Count(sys(ctx))
	if err != nil {
		return nil, 0, err
	}
	rs, err := q.Order(ent.Asc(role.FieldName), ent.Asc(role.FieldID)).
		Offset(page.Offset).Limit(page.Limit).All(sys(ctx))
	return rs, total, err
}

// RolePermissions lists a role's permissions (read:roles).
func (m Manager) RolePermissions(ctx context.Context, roleID string, page Page) ([]PermissionInfo, int, error) {
	if err := needScopes(ctx, "read:roles"); err != nil {
		return nil, 0, err
	}
	page, err := page.normalize()
	if err != nil {
		return nil, 0, err
	}
	r, err := findRole(ctx, m.DB, roleID)
	if err != nil {
		return nil, 0, err
	}
	rows, err := m.DB.RolePermission.Query().Where(rolepermission.RoleRef(r.ID)).All(sys(ctx))
	if err != nil {
		return nil, 0, err
	}
	var ids []pulid.ID
	for _, row := range rows {
		ids = append(ids, row.ResourceServerRef)
	}
	infos, err := apiInfos(ctx, m.DB, ids)
	if err != nil {
		return nil, 0, err
	}
	out := make([]PermissionInfo, 0, len(rows))
	for _, row := range rows {
		a := infos[row.ResourceServerRef]
		out = append(out, PermissionInfo{
			Permission:         Permission{ResourceServerIdentifier: a.identifier, PermissionName: row.PermissionName},
			ResourceServerName: a.name, Description: a.descriptions[row.PermissionName],
		})
	}
	sortPerms(out)
	lo, hi := page.window(len(out))
	return out[lo:hi], len(out), nil
}

// AddRolePermissions adds permissions to a role (update:roles); each must be
// a scope its API declares, and the management API's are refused.
// Permissions the role holds already are kept (idempotent).
func (m Manager) AddRolePermissions(ctx context.Context, roleID string, perms []Permission) error {
	return manage.Write(ctx, m.DB, manage.Op{Scope: "update:roles", Operation: "addRolePermissions"},
		func(tx *ent.Client) (manage.Audit, error) {
			r, err := findRole(ctx, tx, roleID)
			if err != nil {
				return manage.Audit{}, err
			}
			ps, err := resolvePerms(ctx, tx, perms, true)
			if err != nil {
				return manage.Audit{}, err
			}
			held, err := tx.RolePermission.Query().Where(rolepermission.RoleRef(r.ID)).All(sys(ctx))
			if err != nil {
				return manage.Audit{}, err
			}
			have := map[perm]bool{}
			for _, h := range held {
				have[perm{h.ResourceServerRef, h.PermissionName}] = true
			}
			var creates []*ent.RolePermissionCreate
			for _, p := range ps {
				if !have[p] {
					creates = append(creates, tx.RolePermission.Create().SetRoleRef(r.ID).
						SetResourceServerRef(p.rs).SetPermissionName(p.name))
				}
			}
			if len(creates) == 0 {
				return manage.Audit{Skip: true}, nil
			}
			if err := tx.RolePermission.CreateBulk(creates...).Exec(sys(ctx)); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{Description: "Add permissions to a role " + r.Name}, nil
		})
}

// RemoveRolePermissions removes permissions from a role (update:roles).
func (m Manager) RemoveRolePermissions(ctx context.Context, roleID string, perms []Permission) error {
	return manage.Write(ctx, m.DB, manage.Op{Scope: "update:roles", Operation: "removeRolePermissions"},
		func(tx *ent.Client) (manage.Audit, error) {
			r, err := findRole(ctx, tx, roleID)
			if err != nil {
				return manage.Audit{}, err
			}
			ps, err := resolvePerms(ctx, tx, perms, false)
			if err != nil {
				return manage.Audit{}, err
			}
			n := 0
			for _, p := range ps {
				k, err := tx.RolePermission.Delete().Where(rolepermission.RoleRef(r.ID),
					rolepermission.ResourceServerRef(p.rs), rolepermission.PermissionName(p.name)).Exec(sys(ctx))
				if err != nil {
					return manage.Audit{}, err
				}
				n += k
			}
			if n == 0 {
				return manage.Audit{Skip: true}, nil
			}
			return manage.Audit{Description: "Remove permissions from a role " + r.Name}, nil
		})
}

// RoleUsers lists a role's members (read:users and read:role_members) in
// user node id order, after the given user node id ("" from the start),
// at most limit of them; total is the member count.
func (m Manager) RoleUsers(ctx context.Context, roleID, after string, limit int) (users []*ent.User, total int, err error) {
	p, err := m.RoleMembers(ctx, roleID, after, limit)
	return p.Users, p.Total, err
}

// MemberPage is a page of a role's members by cursor.
type MemberPage struct {
	Users []*ent.User
	// Next is the cursor of the following page (the page's last member's
	// user node id), "" on the last page. It follows the assignment rows,
	// so a member whose user the caller cannot see does not end paging.
	Next  string
	Total int
}

// RoleMembers is RoleUsers with the cursor of the next page: checkpoint
// paging for REST (take/from) and GraphQL (first/after) alike.
func (m Manager) RoleMembers(ctx context.Context, roleID, after string, limit int) (MemberPage, error) {
	if err := needScopes(ctx, "read:users", "read:role_members"); err != nil {
		return MemberPage{}, err
	}
	if limit <= 0 || limit > MaxPage {
		return MemberPage{}, &identity.ValidationError{Field: "take", Message: fmt.Sprintf("must be 1 to %d", MaxPage)}
	}
	r, err := findRole(ctx, m.DB, roleID)
	if err != nil {
		return MemberPage{}, err
	}
	var p MemberPage
	members := m.DB.UserRole.Query().Where(userrole.RoleRef(r.ID))
	if p.Total, err = members.Clone().Count(sys(ctx)); err != nil {
		return MemberPage{}, err
	}
	if after != "" {
		members.Where(userrole.UserRefGT(pulid.ID(after)))
	}
	// One row more than the page tells whether another page follows.
	rows, err := members.Order(ent.Asc(userrole.FieldUserRef)).Limit(limit + 1).All(sys(ctx))
	if err != nil {
		return MemberPage{}, err
	}
	if len(rows) > limit {
		rows = rows[:limit]
		p.Next = string(rows[limit-1].UserRef)
	}
	p.Users, err = usersInOrder(ctx, m.DB, rows)
	return p, err
}

// RoleUsersPage is RoleUsers by offset (Auth0's page/per_page).
func (m Manager) RoleUsersPage(ctx context.Context, roleID string, page Page) ([]*ent.User, int, error) {
	if err := needScopes(ctx, "read:users", "read:role_members"); err != nil {
		return nil, 0, err
	}
	page, err := page.normalize()
	if err != nil {
		return nil, 0, err
	}
	r, err := findRole(ctx, m.DB, roleID)
	if err != nil {
		return nil, 0, err
	}
	members := m.DB.UserRole.Query().Where(userrole.RoleRef(r.ID))
	total, err := members.Clone().Count(sys(ctx))
	if err != nil {
		return nil, 0, err
	}
	rows, err := members.Order(ent.Asc(userrole.FieldUserRef)).Offset(page.Offset).Limit(page.Limit).All(sys(ctx))
	if err != nil {
		return nil, 0, err
	}
	users, err := usersInOrder(ctx, m.DB, rows)
	return users, total, err
}

// usersInOrder loads the users of assignment rows, in the rows' order. The
// caller holds read:users.
func usersInOrder(ctx context.Context, db *ent.Client, rows []*ent.UserRole) ([]*ent.User, error) {
	ids := make([]pulid.ID, len(rows))
	for i, r := range rows {
		ids[i] = r.UserRef
	}
	us, err := db.User.Query().Where(user.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[pulid.ID]*ent.User, len(us))
	for _, u := range us {
		byID[u.ID] = u
	}
	out := make([]*ent.User, 0, len(ids))
	for _, id := range ids {
		if u := byID[id]; u != nil {
			out = append(out, u)
		}
	}
	return out, nil
}

// AssignRoleUsers assigns a role to users (update:roles and
// create:role_members, as Auth0's POST /roles/{id}/users); users given by
// user_id or node id.
func (m Manager) AssignRoleUsers(ctx context.Context, roleID string, userIDs []string) error {
	op := manage.Op{Scope: "update:roles", Scopes: []string{"create:role_members"}, Operation: "assignRoleUsers"}
	return manage.Write(ctx, m.DB, op, func(tx *ent.Client) (manage.Audit, error) {
		if err := checkCount("users", len(userIDs)); err != nil {
			return manage.Audit{}, err
		}
		r, err := findRole(ctx, tx, roleID)
		if err != nil {
			return manage.Audit{}, err
		}
		us, err := findUsers(ctx, tx, userIDs)
		if err != nil {
			return manage.Audit{}, err
		}
		refs := make([]pulid.ID, len(us))
		for i, u := range us {
			refs[i] = u.ID
		}
		if err := admins.RequireControl(ctx, tx, refs...); err != nil { // see userForWrite
			return manage.Audit{}, err
		}
		held, err := tx.UserRole.Query().Where(userrole.RoleRef(r.ID), userrole.UserRefIn(refs...)).All(sys(ctx))
		if err != nil {
			return manage.Audit{}, err
		}
		have := map[pulid.ID]bool{}
		for _, h := range held {
			have[h.UserRef] = true
		}
		var creates []*ent.UserRoleCreate
		a := manage.Audit{Description: "Assign users to a role " + r.Name}
		for _, u := range us {
			if !have[u.ID] {
				creates = append(creates, tx.UserRole.Create().SetUserRef(u.ID).SetRoleRef(r.ID))
			}
		}
		if len(creates) == 0 {
			return manage.Audit{Skip: true}, nil
		}
		if len(us) == 1 {
			a.UserID = us[0].UserID
		}
		return a, tx.UserRole.CreateBulk(creates...).Exec(sys(ctx))
	})
}
