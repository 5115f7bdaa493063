package apis

import (
	"context"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/resourceserver"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/manage"
)

// Manager runs the resource-server use cases of the management API for
// GraphQL and the REST API v2 alike: scope first, one transaction, one
// audit entry named after the GraphQL mutation.
type Manager struct {
	DB *ent.Client
	// Issuer names the built-in management API ({Issuer}api/v2/), an
	// identifier no other API may take.
	Issuer string
}

// Find returns the API whose node id (api_…) or identifier is id, as ctx
// may read it; *identity.NotFoundError otherwise. The two cannot collide:
// an identifier is an absolute URI, and "_" is not allowed in a URI scheme.
func Find(ctx context.Context, db *ent.Client, id string) (*ent.ResourceServer, error) {
	q := db.ResourceServer.Query()
	if strings.HasPrefix(id, "api_") {
		q.Where(resourceserver.ID(pulid.ID(id)))
	} else {
		q.Where(resourceserver.Identifier(id))
	}
	rs, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &identity.NotFoundError{What: "resource server", ID: id}
	}
	return rs, err
}

// Create registers an API (create:resource_servers).
func (m Manager) Create(ctx context.Context, p Params) (*ent.ResourceServer, error) {
	var out *ent.ResourceServer
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "create:resource_servers", Operation: "createResourceServer"},
		func(tx *ent.Client) (manage.Audit, error) {
			rs, err := Create(ctx, tx, m.Issuer, p)
			if err != nil {
				return manage.Audit{}, err
			}
			out = rs
			return manage.Audit{Description: "Create a resource server " + rs.Identifier}, nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Update changes the API id names (node id or identifier;
// update:resource_servers); the built-in one refuses (ErrSystem).
func (m Manager) Update(ctx context.Context, id string, p Params) (*ent.ResourceServer, error) {
	var out *ent.ResourceServer
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "update:resource_servers", Operation: "updateResourceServer"},
		func(tx *ent.Client) (manage.Audit, error) {
			rs, err := Find(authz.SystemContext(ctx), tx, id)
			if err != nil {
				return manage.Audit{}, err
			}
			if out, err = Update(ctx, tx, rs, p); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{Description: "Update a resource server " + rs.Identifier}, nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes the API id names (delete:resource_servers) and returns it
// as it was; the built-in one refuses (ErrSystem).
func (m Manager) Delete(ctx context.Context, id string) (*ent.ResourceServer, error) {
	var out *ent.ResourceServer
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "delete:resource_servers", Operation: "deleteResourceServer"},
		func(tx *ent.Client) (manage.Audit, error) {
			rs, err := Find(authz.SystemContext(ctx), tx, id)
			if err != nil {
				return manage.Audit{}, err
			}
			if err := Delete(ctx, tx, rs); err != nil {
				return manage.Audit{}, err
			}
			out = rs
			return manage.Audit{Description: "Delete a resource server " + rs.Identifier}, nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}
