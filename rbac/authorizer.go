package rbac

import (
	"context"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// Authorizer answers the token endpoint: a user's roles and effective
// permissions per API, and a client's grant for an API. Answers are cached
// per user (and per role, per client) and dropped whenever a role,
// permission, assignment, client grant or API changes (store.Cache).
type Authorizer struct {
	db *ent.Client
}

// NewAuthorizer returns an Authorizer reading db.
func NewAuthorizer(db *ent.Client) *Authorizer { return &Authorizer{db: db} }

// RoleNames returns the names of the roles assigned to the user (node id),
// sorted.
func (a *Authorizer) RoleNames(ctx context.Context, user pulid.ID) ([]string, error) {
	panic("rbac: not implemented yet")
}

// Permissions returns the user's effective permissions on the API (node id
// api_…): direct ∪ through roles. roles, when not nil, replaces the user's
// stored roles by name for this answer (a rule changed them for one login);
// unknown names count for nothing.
func (a *Authorizer) Permissions(ctx context.Context, user, api pulid.ID, roles []string) ([]string, error) {
	panic("rbac: not implemented yet")
}

// ClientScopes returns the scopes a client grant gives the client (node id)
// on the API (node id); ok is false without a grant.
func (a *Authorizer) ClientScopes(ctx context.Context, client, api pulid.ID) (scopes []string, ok bool, err error) {
	panic("rbac: not implemented yet")
}
