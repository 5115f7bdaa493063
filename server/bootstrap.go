package server

import (
	"context"
	"fmt"
	"io"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/connections"
)

// AdminClientName names the bootstrap administrator client.
const AdminClientName = "Authgraph Admin"

// bootstrap fills an empty database: the default database connection, an
// administrator m2m client holding every management scope (present and
// future), and a signing key. It runs under the migration lock.
func bootstrap(ctx context.Context, d *Deps, console io.Writer) error {
	sys := authz.SystemContext(ctx)
	db := d.DB.Ent
	nClients, err := db.Application.Query().Count(sys)
	if err != nil {
		return err
	}
	nConns, err := db.Connection.Query().Count(sys)
	if err != nil {
		return err
	}
	first := nClients == 0 && nConns == 0
	if first {
		if err := firstStart(sys, d, console); err != nil {
			return err
		}
	}
	if !d.Config.Serving {
		// A CLI command (clients create, admins …) may run with a default
		// --issuer: only a serving node registers or re-points issuer-bound
		// records, so that their presence means a server recorded them
		// (apis.ManagementAPIIdentifier), even on a database a CLI command
		// initialised.
		return d.Keys.Ensure(sys)
	}
	if err := apis.EnsureManagementAPI(sys, db, d.Config.Issuer); err != nil {
		return fmt.Errorf("registering the management API: %w", err)
	}
	// The admin dashboard's built-in client, on new and existing databases.
	if _, err := clients.EnsureDashboard(sys, db, d.Config.Issuer); err != nil {
		return fmt.Errorf("registering the dashboard client: %w", err)
	}
	// The self-service account page's built-in client (server/account).
	if _, err := clients.EnsureAccount(sys, db, d.Config.Issuer); err != nil {
		return fmt.Errorf("registering the account page's client: %w", err)
	}
	return d.Keys.Ensure(sys)
}

func firstStart(ctx context.Context, d *Deps, console io.Writer) error {
	tx, err := d.DB.Ent.Tx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := d.Connections.Create(ctx, tx.Client(), connections.CreateParams{
		Name:     connections.DefaultDatabase,
		Strategy: connections.StrategyDatabase,
		Options:  map[string]any{"passwordPolicy": "good", "brute_force_protection": true},
	}); err != nil {
		return fmt.Errorf("creating the default connection: %w", err)
	}
	created, err := clients.Create(ctx, tx.Client(), clients.Params{
		Name:      AdminClientName,
		Type:      clients.TypeM2M,
		AllScopes: true,
		// Built in: it cannot be renamed or deleted through the API (that
		// would lock administrators out); its secret can still be rotated.
		System:   true,
		ClientID: d.Config.AdminClientID,
		Secret:   d.Config.AdminClientSecret,
	})
	if err != nil {
		return fmt.Errorf("creating the admin client (AUTHGRAPH_ADMIN_CLIENT_ID/SECRET): %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	d.Logger.Info("bootstrapped an empty database",
		"connection", connections.DefaultDatabase, "admin_client_id", created.Client.ClientID)
	if d.Config.AdminClientSecret == "" {
		// A CLI command's issuer may be a default rather than the one the
		// server will run with: name the server's issuer instead of guessing.
		issuer, where := d.Config.Issuer, ""
		if !d.Config.Serving {
			issuer, where = "${ISSUER}", " (ISSUER: the --issuer `authgraph serve` runs with, by default http://<its --listen address>/)"
		}
		// Printed once, to the console only: never into the structured log.
		fmt.Fprintf(console, `
Authgraph created its administrator client. Save the secret now: it is not shown again.
  client_id:     %s
  client_secret: %s
Get a management token from the server with%s:
  curl -s -u '%s:%s' -d grant_type=client_credentials %soauth/token

`, created.Client.ClientID, created.Secret, where, created.Client.ClientID, created.Secret, issuer)
	}
	return nil
}
