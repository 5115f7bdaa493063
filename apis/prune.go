package apis

import (
	"context"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/rolepermission"
	"github.com/authgraph/authgraph/ent/userpermission"
)

// PrunePermissions deletes, in the caller's transaction, every role and
// user permission (package rbac) of the API rs that is not among the scopes
// it keeps: a scope removed from an API is held by nobody any more. Update
// calls it; rbac.PrunePermissions is this function under its domain's name.
func PrunePermissions(ctx context.Context, tx *ent.Client, rs *ent.ResourceServer, keep []string) error {
	sys := authz.SystemContext(ctx)
	rd := tx.RolePermission.Delete().Where(rolepermission.ResourceServerRef(rs.ID))
	ud := tx.UserPermission.Delete().Where(userpermission.ResourceServerRef(rs.ID))
	if len(keep) > 0 {
		rd.Where(rolepermission.PermissionNameNotIn(keep...))
		ud.Where(userpermission.PermissionNameNotIn(keep...))
	}
	if _, err := rd.Exec(sys); err != nil {
		return err
	}
	_, err := ud.Exec(sys)
	return err
}
