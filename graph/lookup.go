package graph

import (
	"context"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/resourceserver"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
)

// graphNodePrefixes are the id prefixes of types the GraphQL Node interface
// has. Other ent types (identities, signing keys, sessions…) are not nodes:
// an id of theirs must answer NOT_FOUND, never reach gqlgen's type switch.
var graphNodePrefixes = map[string]bool{"usr_": true, "con_": true, "cli_": true, "log_": true, "api_": true, "rul_": true, "rol_": true}

// graphNodeType is pulid.IDToType restricted to graphNodePrefixes.
func graphNodeType(ctx context.Context, id pulid.ID) (string, error) {
	if !graphNodePrefixes[id.Prefix()] {
		return "", &identity.NotFoundError{What: "node", ID: string(id)}
	}
	return pulid.IDToType(ctx, id)
}

// loadFullClients replaces the clients among nodes by fully loaded ones.
// The GraphQL type of ent's Application is named Client (entgql.Type would
// clash with ent's own Client), but ent's Noder narrows its query with
// CollectFields(ctx, "Application", "Node"): fields selected in
// `... on Client { … }` would not be loaded.
func loadFullClients(ctx context.Context, db *ent.Client, nodes []ent.Noder) error {
	var ids []pulid.ID
	for _, n := range nodes {
		if app, ok := n.(*ent.Application); ok && app != nil {
			ids = append(ids, app.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// One query for all of them, not one per client.
	full, err := db.Application.Query().Where(application.IDIn(ids...)).All(ctx)
	if err != nil {
		return err
	}
	byID := make(map[pulid.ID]*ent.Application, len(full))
	for _, app := range full {
		byID[app.ID] = app
	}
	for i, n := range nodes {
		if app, ok := n.(*ent.Application); ok && app != nil && byID[app.ID] != nil {
			nodes[i] = byID[app.ID]
		}
	}
	return nil
}

// findClient resolves a node id (cli_…) or a client_id.
func findClient(ctx context.Context, db *ent.Client, id pulid.ID) (*ent.Application, error) {
	q := db.Application.Query()
	if id.Prefix() == "cli_" {
		q.Where(application.ID(id))
	} else {
		q.Where(application.ClientID(string(id)))
	}
	app, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &identity.NotFoundError{What: "client", ID: string(id)}
	}
	return app, err
}

// findConnection resolves a node id (con_…) or a connection name.
func findConnection(ctx context.Context, db *ent.Client, id pulid.ID) (*ent.Connection, error) {
	q := db.Connection.Query()
	if id.Prefix() == "con_" {
		q.Where(connection.ID(id))
	} else {
		q.Where(connection.Name(string(id)))
	}
	c, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &identity.NotFoundError{What: "connection", ID: string(id)}
	}
	return c, err
}

// findResourceServer resolves a node id (api_…) or an API identifier.
func findResourceServer(ctx context.Context, db *ent.Client, id pulid.ID) (*ent.ResourceServer, error) {
	q := db.ResourceServer.Query()
	if id.Prefix() == "api_" {
		q.Where(resourceserver.ID(id))
	} else {
		q.Where(resourceserver.Identifier(string(id)))
	}
	rs, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &identity.NotFoundError{What: "resource server", ID: string(id)}
	}
	return rs, err
}
