package clients

import (
	"context"
	"fmt"
	"net/url"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
)

// AccountClientName names the built-in client the self-service account
// page ({issuer}account) signs users in through: the page starts an
// ordinary authorization request with it, so the login pages, the tenant's
// MFA policy and rules apply as for any application.
const AccountClientName = "Authgraph Account"

// AccountCallbackPath is the account page's redirect URI, relative to the
// issuer URL.
const AccountCallbackPath = "account/callback"

// EnsureAccount returns the account page's client, creating it when
// missing (enabled on every connection that exists then, like the
// dashboard's) and re-pointing its redirect URI at issuer.
func EnsureAccount(ctx context.Context, db *ent.Client, issuer string) (*ent.Application, error) {
	sys := authz.SystemContext(ctx)
	if u, err := url.Parse(issuer); err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: issuer %q", ErrInvalid, issuer)
	}
	redirect := issuer + AccountCallbackPath
	app, err := Account(ctx, db)
	switch {
	case ent.IsNotFound(err):
		created, err := Create(sys, db, Params{
			Name:         AccountClientName,
			Type:         TypeSPA,
			RedirectURIs: []string{redirect},
			LogoutURLs:   []string{issuer + "account"},
			System:       true,
		})
		if err != nil {
			return nil, err
		}
		if err := enableOnAllConnections(sys, db, created.Client.ClientID); err != nil {
			return nil, err
		}
		return created.Client, nil
	case err != nil:
		return nil, err
	}
	if len(app.RedirectUris) == 1 && app.RedirectUris[0] == redirect {
		return app, nil
	}
	return db.Application.UpdateOne(app).
		SetRedirectUris([]string{redirect}).
		SetLogoutUrls([]string{issuer + "account"}).
		Save(sys)
}

// Account returns the account page's built-in client (ent.NotFoundError
// before EnsureAccount ran).
func Account(ctx context.Context, db *ent.Client) (*ent.Application, error) {
	return db.Application.Query().
		Where(application.System(true), application.Name(AccountClientName), application.TypeEQ(application.TypeSpa)).
		First(authz.SystemContext(ctx))
}
