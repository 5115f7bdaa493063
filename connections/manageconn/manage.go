// Package manageconn holds the connection management use cases (create,
// update, delete) that every transport calls: GraphQL's createConnection,
// updateConnection and deleteConnection and the REST API v2's
// /connections. Each one is a manage.Write: scope first, one transaction,
// the control check on administrators who sign in through the connection,
// and the audit entry.
//
// It is a package of its own, not part of package connections, because it
// returns identity's NotFoundError and package identity imports connections.
package manageconn

import (
	"context"
	"slices"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/manage"
)

// Scopes of the connection writes.
const (
	ScopeCreate = "create:connections"
	ScopeUpdate = "update:connections"
	ScopeDelete = "delete:connections"
)

// UpdateParams change a connection.
type UpdateParams struct {
	// Options, when non-nil, change the options as connections.UpdateParams
	// says (key by key, a null removes a key). Non-nil, even empty, also
	// makes the change one that needs control of the connection's
	// administrators.
	Options map[string]any
	// ReplaceOptions makes Options the whole set of non-secret options (the
	// REST API's PATCH, as Auth0 replaces options wholesale): stored
	// non-secret options it omits are removed. Secret options it omits are
	// kept, since they are never read back and a read-modify-write could not
	// carry them; for the same reason scripts stay merged key by key.
	ReplaceOptions bool
	// EnabledClients, when non-nil, replaces the enabled clients.
	EnabledClients []string
	// EnableClients and DisableClients add clients to, and remove them
	// from, the enabled clients as stored when the write runs (the REST
	// API's PATCH /connections/{id}/clients); ignored with EnabledClients.
	EnableClients, DisableClients []string
}

// Find resolves a node id (con_…) or a connection name with ctx's
// visibility.
func Find(ctx context.Context, db *ent.Client, idOrName string) (*ent.Connection, error) {
	q := db.Connection.Query()
	if pulid.ID(idOrName).Prefix() == "con_" {
		q.Where(connection.ID(pulid.ID(idOrName)))
	} else {
		q.Where(connection.Name(idOrName))
	}
	c, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &identity.NotFoundError{What: "connection", ID: idOrName}
	}
	return c, err
}

// Create validates and stores a connection (create:connections).
func Create(ctx context.Context, svc *connections.Service, db *ent.Client, p connections.CreateParams) (*ent.Connection, error) {
	var c *ent.Connection
	err := manage.Write(ctx, db, manage.Op{Scope: ScopeCreate, Operation: "createConnection", Description: "Create a connection " + p.Name},
		func(tx *ent.Client) (manage.Audit, error) {
			var err error
			c, err = svc.Create(ctx, tx, p)
			if err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{Description: "Create a connection " + c.Name}, nil
		})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Update changes the connection idOrName (update:connections). New options,
// or a change to whether the dashboard client is enabled, need control of
// the administrators who sign in through it.
func Update(ctx context.Context, svc *connections.Service, db *ent.Client, idOrName string, p UpdateParams) (*ent.Connection, error) {
	var c *ent.Connection
	err := manage.Write(ctx, db, manage.Op{Scope: ScopeUpdate, Operation: "updateConnection"},
		func(tx *ent.Client) (manage.Audit, error) {
			found, err := Find(authz.SystemContext(ctx), tx, idOrName)
			if err != nil {
				return manage.Audit{}, err
			}
			enabled := p.EnabledClients
			if enabled == nil && len(p.EnableClients)+len(p.DisableClients) > 0 {
				enabled = toggled(found.EnabledClients, p.EnableClients, p.DisableClients)
			}
			if err := requireControl(ctx, tx, found, p.Options != nil, enabled); err != nil {
				return manage.Audit{}, err
			}
			opts := p.Options
			switch {
			case opts != nil && p.ReplaceOptions:
				opts = replacing(found, opts)
			case len(opts) == 0:
				// An empty patch (GraphQL's options: null or {}) changes no
				// option, but was checked for control above all the same.
				opts = nil
			}
			c, err = svc.Update(ctx, tx, found, connections.UpdateParams{Options: opts, EnabledClients: enabled})
			if err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{Description: "Update a connection " + c.Name}, nil
		})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Delete removes the connection idOrName with its identities and the users
// left without any (delete:connections), once the caller is shown to
// control its administrators. It returns the deleted connection.
func Delete(ctx context.Context, svc *connections.Service, db *ent.Client, idOrName string) (*ent.Connection, error) {
	var c *ent.Connection
	err := manage.Write(ctx, db, manage.Op{Scope: ScopeDelete, Operation: "deleteConnection"},
		func(tx *ent.Client) (manage.Audit, error) {
			var err error
			c, err = Find(authz.SystemContext(ctx), tx, idOrName)
			if err != nil {
				return manage.Audit{}, err
			}
			if err := admins.RequireControlOfConnection(ctx, tx, c.ID); err != nil {
				return manage.Audit{}, err
			}
			if err := svc.Delete(ctx, tx, c); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{Description: "Delete a connection " + c.Name}, nil
		})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// replacing turns a whole-set options object into the key-by-key patch
// connections.Service.Update applies: stored non-secret options it omits
// become nulls. Secret options it omits stay, and so do the scripts a given
// scripts object omits (scripts are secret, and modules too large to send
// together are uploaded one request at a time).
func replacing(c *ent.Connection, given map[string]any) map[string]any {
	out := make(map[string]any, len(given)+len(c.Options))
	for k, v := range given {
		out[k] = v
	}
	// c.Options holds only non-secret options: secrets live sealed apart.
	for k := range c.Options {
		if _, ok := out[k]; !ok {
			out[k] = nil
		}
	}
	return out
}

// toggled is stored with enable added (in order, once) and disable removed.
func toggled(stored, enable, disable []string) []string {
	out := make([]string, 0, len(stored)+len(enable))
	for _, id := range append(slices.Clone(stored), enable...) {
		if !slices.Contains(out, id) && !slices.Contains(disable, id) {
			out = append(out, id)
		}
	}
	return out
}

// requireControl refuses, before anything changes, a connection change
// that decides how its administrators sign in unless the caller holds
// their scopes (admins.RequireControlOfConnection): new options (upstream,
// directory, scripts, password rules), or adding or removing the dashboard
// client, through which administrators use their grants. Enabling other
// applications changes no administrator's power.
func requireControl(ctx context.Context, db *ent.Client, c *ent.Connection, options bool, enabledClients []string) error {
	touchesDashboard := false
	if enabledClients != nil {
		dash, err := clients.Dashboard(ctx, db)
		if err != nil && !ent.IsNotFound(err) {
			return err
		}
		touchesDashboard = dash != nil && slices.Contains(c.EnabledClients, dash.ClientID) != slices.Contains(enabledClients, dash.ClientID)
	}
	if !options && !touchesDashboard {
		return nil
	}
	return admins.RequireControlOfConnection(ctx, db, c.ID)
}
