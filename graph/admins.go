package graph

import (
	"context"
	"errors"
	"slices"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
)

// Helpers of admins.resolvers.go (gqlgen drops non-resolver code there).

const scopeUpdateAdmins = "update:admins"

func (r *Resolver) grantAdmin(ctx context.Context, userID pulid.ID, scopes []string) (*ent.AdminGrant, error) {
	if err := requireScope(ctx, scopeUpdateAdmins); err != nil {
		return nil, err
	}
	db := r.db(ctx)
	u, err := identity.Resolve(authz.SystemContext(ctx), db, string(userID))
	if err != nil {
		return nil, err
	}
	g, err := admins.Grant(ctx, db, u.ID, scopes)
	if err != nil {
		return nil, adminError(err)
	}
	return g, r.audit(ctx, "grantAdmin", "Grant administrator scopes", u.UserID)
}

func (r *Resolver) revokeAdmin(ctx context.Context, userID pulid.ID) (pulid.ID, error) {
	if err := requireScope(ctx, scopeUpdateAdmins); err != nil {
		return "", err
	}
	db := r.db(ctx)
	u, err := identity.Resolve(authz.SystemContext(ctx), db, string(userID))
	if err != nil {
		return "", err
	}
	if err := admins.Revoke(ctx, db, u.ID); err != nil {
		return "", adminError(err)
	}
	return u.ID, r.audit(ctx, "revokeAdmin", "Revoke administrator scopes", u.UserID)
}

func (r *Resolver) adminUser(ctx context.Context, g *ent.AdminGrant) (*ent.User, error) {
	if g.Edges.User != nil {
		return g.Edges.User, nil
	}
	u, err := r.Ent.User.Get(ctx, g.UserRef)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return u, err
}

// adminError gives package admins' errors their GraphQL codes.
func adminError(err error) error {
	var esc *admins.EscalationError
	switch {
	case errors.As(err, &esc):
		e := newError(CodeForbidden, esc.Error())
		e.Extensions["scope"] = esc.Scope
		return e
	case errors.Is(err, admins.ErrInvalid):
		e := newError(CodeBadUserInput, err.Error())
		e.Extensions["field"] = "scopes"
		return e
	case errors.Is(err, admins.ErrNotFound):
		return newError(CodeNotFound, err.Error())
	}
	return err
}

// requireConnectionControl refuses, before anything changes, a connection
// change that decides how its administrators sign in unless the caller
// holds their scopes (admins.RequireControlOfConnection): new options
// (upstream, directory, scripts, password rules), or adding or removing the
// dashboard client, through which administrators use their grants.
// Enabling other applications changes no administrator's power.
func requireConnectionControl(ctx context.Context, db *ent.Client, c *ent.Connection, options bool, enabledClients []string) error {
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
