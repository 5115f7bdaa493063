package rbac

import (
	"context"

	"github.com/authgraph/authgraph/ent"
)

// FindRole returns the role with node id id (rol_…) as ctx may read it;
// *identity.NotFoundError otherwise.
func FindRole(ctx context.Context, db *ent.Client, id string) (*ent.Role, error) {
	panic("rbac: not implemented yet")
}

// CreateRole creates a role (create:roles); a taken name is a conflict.
func (m Manager) CreateRole(ctx context.Context, p RoleParams) (*ent.Role, error) {
	panic("rbac: not implemented yet")
}

// UpdateRole changes a role (update:roles).
func (m Manager) UpdateRole(ctx context.Context, id string, p RoleParams) (*ent.Role, error) {
	panic("rbac: not implemented yet")
}

// DeleteRole deletes a role, its permissions and its assignments
// (delete:roles), returning it as it was.
func (m Manager) DeleteRole(ctx context.Context, id string) (*ent.Role, error) {
	panic("rbac: not implemented yet")
}

// Roles lists roles by name (read:roles); nameFilter, when set, keeps the
// names containing it, case-insensitively (Auth0's name_filter).
func (m Manager) Roles(ctx context.Context, nameFilter string, page Page) ([]*ent.Role, int, error) {
	panic("rbac: not implemented yet")
}

// RolePermissions lists a role's permissions (read:roles).
func (m Manager) RolePermissions(ctx context.Context, roleID string, page Page) ([]PermissionInfo, int, error) {
	panic("rbac: not implemented yet")
}

// AddRolePermissions adds permissions to a role (update:roles); each must be
// a scope its API declares, and the management API's are refused.
// Permissions the role holds already are kept (idempotent).
func (m Manager) AddRolePermissions(ctx context.Context, roleID string, perms []Permission) error {
	panic("rbac: not implemented yet")
}

// RemoveRolePermissions removes permissions from a role (update:roles).
func (m Manager) RemoveRolePermissions(ctx context.Context, roleID string, perms []Permission) error {
	panic("rbac: not implemented yet")
}

// RoleUsers lists a role's members (read:users and read:role_members) in
// user node id order, after the given user node id ("" from the start),
// at most limit of them; total is the member count.
func (m Manager) RoleUsers(ctx context.Context, roleID, after string, limit int) (users []*ent.User, total int, err error) {
	panic("rbac: not implemented yet")
}

// RoleUsersPage is RoleUsers by offset (Auth0's page/per_page).
func (m Manager) RoleUsersPage(ctx context.Context, roleID string, page Page) ([]*ent.User, int, error) {
	panic("rbac: not implemented yet")
}

// AssignRoleUsers assigns a role to users (update:users and
// create:role_members); users given by user_id or node id.
func (m Manager) AssignRoleUsers(ctx context.Context, roleID string, userIDs []string) error {
	panic("rbac: not implemented yet")
}
