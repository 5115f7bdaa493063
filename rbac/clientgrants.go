package rbac

import "context"

// ClientGrants lists client grants (read:client_grants), the management
// API's included.
func (m Manager) ClientGrants(ctx context.Context, f ClientGrantFilter, page Page) ([]ClientGrant, int, error) {
	panic("rbac: not implemented yet")
}

// CreateClientGrant grants a client scopes of an API (create:client_grants);
// a second grant for the same (client, API) is a conflict. For the
// management API the caller must hold every scope it grants and control the
// client (clients.RequireControl).
func (m Manager) CreateClientGrant(ctx context.Context, clientID, audience string, scopes []string) (ClientGrant, error) {
	panic("rbac: not implemented yet")
}

// UpdateClientGrant replaces a grant's scopes (update:client_grants), with
// the same checks as CreateClientGrant.
func (m Manager) UpdateClientGrant(ctx context.Context, id string, scopes []string) (ClientGrant, error) {
	panic("rbac: not implemented yet")
}

// DeleteClientGrant deletes a grant (delete:client_grants), returning it as
// it was.
func (m Manager) DeleteClientGrant(ctx context.Context, id string) (ClientGrant, error) {
	panic("rbac: not implemented yet")
}
