package clients

import (
	"context"
	"fmt"
	"net/url"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
)

// DashboardClientName names the built-in SPA client the admin dashboard
// (server/dashboard) signs in with. It is a system client: the API cannot
// edit or delete it, and the rules pipeline must skip logins through it
// (IsDashboard) so that a broken rule cannot lock administrators out.
const DashboardClientName = "Authgraph Dashboard"

// DashboardCallbackPath is the dashboard's redirect URI, relative to the
// issuer.
const DashboardCallbackPath = "dashboard/callback"

// IsDashboard reports whether app is the built-in dashboard client. Rules
// and any other login hook that could deny a login should skip it.
func IsDashboard(app *ent.Application) bool {
	return app != nil && app.System && app.Name == DashboardClientName && app.Type == application.TypeSpa
}

// EnsureDashboard returns the dashboard client, creating it when missing
// (first start, or a database older than the dashboard) and correcting its
// redirect URI and web origin when the issuer changed. It runs as the
// system, under the server's migration lock.
func EnsureDashboard(ctx context.Context, db *ent.Client, issuer string) (*ent.Application, error) {
	sys := authz.SystemContext(ctx)
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: issuer %q", ErrInvalid, issuer)
	}
	redirect := issuer + DashboardCallbackPath
	origin := u.Scheme + "://" + u.Host
	app, err := db.Application.Query().
		Where(application.System(true), application.Name(DashboardClientName), application.TypeEQ(application.TypeSpa)).
		First(sys)
	switch {
	case ent.IsNotFound(err):
		created, err := Create(sys, db, Params{
			Name:         DashboardClientName,
			Type:         TypeSPA,
			RedirectURIs: []string{redirect},
			LogoutURLs:   []string{issuer + "dashboard/"},
			WebOrigins:   []string{origin},
			System:       true,
		})
		if err != nil {
			return nil, err
		}
		// Administrators sign in through the connections that exist now;
		// connections added later list it in enabledClients when wanted.
		if err := enableOnAllConnections(sys, db, created.Client.ClientID); err != nil {
			return nil, err
		}
		return created.Client, nil
	case err != nil:
		return nil, err
	}
	if len(app.RedirectUris) == 1 && app.RedirectUris[0] == redirect && len(app.WebOrigins) == 1 && app.WebOrigins[0] == origin {
		return app, nil
	}
	return db.Application.UpdateOne(app).
		SetRedirectUris([]string{redirect}).
		SetLogoutUrls([]string{issuer + "dashboard/"}).
		SetWebOrigins([]string{origin}).
		Save(sys)
}

// Dashboard returns the built-in dashboard client (ent.NotFoundError before
// EnsureDashboard ran).
func Dashboard(ctx context.Context, db *ent.Client) (*ent.Application, error) {
	return db.Application.Query().
		Where(application.System(true), application.Name(DashboardClientName), application.TypeEQ(application.TypeSpa)).
		First(authz.SystemContext(ctx))
}
