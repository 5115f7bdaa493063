package apis

import (
	"context"
	"slices"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/clientgrant"
	"github.com/authgraph/authgraph/ent/rolepermission"
	"github.com/authgraph/authgraph/ent/userpermission"
)

// PrunePermissions deletes, in the caller's transaction, every role and
// user permission (package rbac) of the API rs that is not among the scopes
// it keeps, and takes those scopes out of the API's client grants: a scope
// removed from an API is held by nobody any more, and a name declared again
// later, perhaps with another meaning, is granted to nobody until granted
// anew. Update calls it.
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
	if _, err := ud.Exec(sys); err != nil {
		return err
	}
	grants, err := tx.ClientGrant.Query().Where(clientgrant.ResourceServerRef(rs.ID)).All(sys)
	if err != nil {
		return err
	}
	for _, g := range grants {
		kept := slices.DeleteFunc(slices.Clone(g.Scopes), func(s string) bool { return !slices.Contains(keep, s) })
		if len(kept) == len(g.Scopes) {
			continue
		}
		// An emptied grant stays: the client keeps its access to the API
		// (Auth0's grants may have no scope), with nothing in it.
		if err := tx.ClientGrant.UpdateOne(g).SetScopes(append([]string{}, kept...)).Exec(sys); err != nil {
			return err
		}
	}
	return nil
}
