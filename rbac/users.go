package rbac

import (
	"context"

	"github.com/authgraph/authgraph/ent"
)

// UserRoles lists a user's roles by name (read:users and read:roles); the
// user given by user_id or node id.
func (m Manager) UserRoles(ctx context.Context, userID string, page Page) ([]*ent.Role, int, error) {
	panic("rbac: not implemented yet")
}

// AssignUserRoles assigns roles to a user (update:users and
// create:role_members); roles already held are kept.
func (m Manager) AssignUserRoles(ctx context.Context, userID string, roleIDs []string) error {
	panic("rbac: not implemented yet")
}

// RemoveUserRoles removes roles from a user (update:users and
// delete:role_members).
func (m Manager) RemoveUserRoles(ctx context.Context, userID string, roleIDs []string) error {
	panic("rbac: not implemented yet")
}

// UserPermissions lists the permissions a user holds, directly and through
// roles, with their sources (read:users); audience, when set, keeps one API's.
func (m Manager) UserPermissions(ctx context.Context, userID, audience string, page Page) ([]PermissionInfo, int, error) {
	panic("rbac: not implemented yet")
}

// AddUserPermissions assigns permissions to a user directly (update:users).
func (m Manager) AddUserPermissions(ctx context.Context, userID string, perms []Permission) error {
	panic("rbac: not implemented yet")
}

// RemoveUserPermissions removes directly assigned permissions (update:users);
// permissions held through roles stay.
func (m Manager) RemoveUserPermissions(ctx context.Context, userID string, perms []Permission) error {
	panic("rbac: not implemented yet")
}

// PrunePermissions deletes, in the caller's transaction, every role and
// user permission of the API rs that is not among the scopes it keeps: the
// API's update calls it when scopes are removed.
func PrunePermissions(ctx context.Context, tx *ent.Client, rs *ent.ResourceServer, keep []string) error {
	panic("rbac: not implemented yet")
}
