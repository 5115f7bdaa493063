package clients

import (
	"context"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/manage"
)

// Manager runs the client use cases of the management API. GraphQL and the
// REST API v2 both call it, so a client is created, changed, deleted or
// given a new secret the same way whichever transport asked: scope first,
// one transaction, one audit entry named after the GraphQL mutation.
type Manager struct{ DB *ent.Client }

// Find returns the client whose client_id is id, or failing that whose node
// id (cli_…) is id, as ctx may read it; *identity.NotFoundError otherwise.
// The client_id wins: an operator-chosen client_id may look like a node id.
func Find(ctx context.Context, db *ent.Client, id string) (*ent.Application, error) {
	q := db.Application.Query()
	if strings.HasPrefix(id, "cli_") {
		q.Where(application.Or(application.ClientID(id), application.ID(pulid.ID(id))))
	} else {
		q.Where(application.ClientID(id))
	}
	apps, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	for _, app := range apps {
		if app.ClientID == id {
			return app, nil
		}
	}
	if len(apps) == 0 {
		return nil, &identity.NotFoundError{What: "client", ID: id}
	}
	return apps[0], nil
}

// Create registers a client (create:clients). The caller must hold every
// management scope p grants (see Create). The secret comes back once.
func (m Manager) Create(ctx context.Context, p Params) (*Created, error) {
	var out *Created
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "create:clients", Operation: "createClient"},
		func(tx *ent.Client) (manage.Audit, error) {
			c, err := Create(ctx, tx, p)
			if err != nil {
				return manage.Audit{}, err
			}
			out = c
			return manage.Audit{Description: "Create a client " + c.Client.ClientID}, nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Update changes the client id names (client_id or node id; update:clients).
// The caller must control it (RequireControl) and hold every scope c gives.
func (m Manager) Update(ctx context.Context, id string, c Changes) (*ent.Application, error) {
	var out *ent.Application
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "update:clients", Operation: "updateClient"},
		func(tx *ent.Client) (manage.Audit, error) {
			app, err := findForWrite(ctx, tx, id)
			if err != nil {
				return manage.Audit{}, err
			}
			if out, err = Update(ctx, tx, app, c); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{Description: "Update a client " + app.ClientID}, nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes the client id names (delete:clients) and returns it as it
// was. The caller must control it.
func (m Manager) Delete(ctx context.Context, id string) (*ent.Application, error) {
	var out *ent.Application
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "delete:clients", Operation: "deleteClient"},
		func(tx *ent.Client) (manage.Audit, error) {
			app, err := findForWrite(ctx, tx, id)
			if err != nil {
				return manage.Audit{}, err
			}
			if err := Delete(ctx, tx, app); err != nil {
				return manage.Audit{}, err
			}
			out = app
			return manage.Audit{Description: "Delete a client " + app.ClientID}, nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RotateSecret gives the confidential client id names a new secret
// (update:clients), returned once; the old secret and the tokens issued
// with it stop working. The caller must control the client.
func (m Manager) RotateSecret(ctx context.Context, id string) (*Created, error) {
	var out *Created
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "update:clients", Operation: "rotateClientSecret"},
		func(tx *ent.Client) (manage.Audit, error) {
			app, err := findForWrite(ctx, tx, id)
			if err != nil {
				return manage.Audit{}, err
			}
			secret, err := RotateSecret(ctx, tx, app)
			if err != nil {
				return manage.Audit{}, err
			}
			out = &Created{Client: app, Secret: secret}
			return manage.Audit{Description: "Rotate the secret of client " + app.ClientID}, nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// findForWrite looks the target up as the system: a caller holding
// update:clients but not read:clients may still name the client it changes;
// RequireControl, not the read scope, decides whether it may.
func findForWrite(ctx context.Context, tx *ent.Client, id string) (*ent.Application, error) {
	return Find(authz.SystemContext(ctx), tx, id)
}
