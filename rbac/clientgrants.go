package rbac

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/clientgrant"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/manage"
)

// mgmtGrantPrefix starts the ids of the management API's virtual grants.
const mgmtGrantPrefix = "cgr_mgmt_"

// ManagementGrantID is the id of a client's management API grant.
func ManagementGrantID(client pulid.ID) string { return mgmtGrantPrefix + string(client) }

// managementGrant presents a client's management scopes as a grant; ok is
// false when it has none.
func (m Manager) managementGrant(app *ent.Application) (ClientGrant, bool) {
	scopes := clients.Power(app)
	if len(scopes) == 0 {
		return ClientGrant{}, false
	}
	slices.Sort(scopes)
	return ClientGrant{ID: ManagementGrantID(app.ID), ClientID: app.ClientID, Audience: authz.ManagementAudience(m.Issuer),
		Scopes: scopes, CreatedAt: app.CreatedAt, UpdatedAt: app.UpdatedAt}, true
}

func storedGrant(g *ent.ClientGrant, app *ent.Application, rs *ent.ResourceServer) ClientGrant {
	return ClientGrant{ID: string(g.ID), ClientID: app.ClientID, Audience: rs.Identifier,
		Scopes: slices.Clone(g.Scopes), CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

// ClientGrants lists client grants (read:client_grants), the management
// API's included.
func (m Manager) ClientGrants(ctx context.Context, f ClientGrantFilter, page Page) ([]ClientGrant, int, error) {
	if err := needScopes(ctx, "read:client_grants"); err != nil {
		return nil, 0, err
	}
	page, err := page.normalize()
	if err != nil {
		return nil, 0, err
	}
	aq := m.DB.Application.Query()
	if f.ClientID != "" {
		aq.Where(application.ClientID(f.ClientID))
	}
	apps, err := aq.Order(ent.Asc(application.FieldID)).All(sys(ctx))
	if err != nil {
		return nil, 0, err
	}
	byApp := make(map[pulid.ID]*ent.Application, len(apps))
	appIDs := make([]pulid.ID, len(apps))
	for i, a := range apps {
		byApp[a.ID], appIDs[i] = a, a.ID
	}
	var out []ClientGrant
	mgmt := authz.ManagementAudience(m.Issuer)
	if f.Audience == "" || f.Audience == mgmt {
		for _, a := range apps {
			if g, ok := m.managementGrant(a); ok {
				out = append(out, g)
			}
		}
	}
	gq := m.DB.ClientGrant.Query().Where(clientgrant.ClientRefIn(appIDs...)).WithResourceServer()
	if f.Audience != "" {
		rs, err := apis.Find(sys(ctx), m.DB, f.Audience)
		if _, nf := err.(*identity.NotFoundError); nf {
			return nil, 0, nil // no such API: no grants
		} else if err != nil {
			return nil, 0, err
		}
		gq.Where(clientgrant.ResourceServerRef(rs.ID))
	}
	stored, err := gq.Order(ent.Asc(clientgrant.FieldID)).All(sys(ctx))
	if err != nil {
		return nil, 0, err
	}
	for _, g := range stored {
		out = append(out, storedGrant(g, byApp[g.ClientRef], g.Edges.ResourceServer))
	}
	lo, hi := page.window(len(out))
	return out[lo:hi], len(out), nil
}

// grantTarget finds the client and API of a new grant; both unknown ones
// are NotFoundErrors (Auth0 answers 404 for an unknown client and API).
func (m Manager) grantTarget(ctx context.Context, tx *ent.Client, clientID, audience string) (*ent.Application, *ent.ResourceServer, error) {
	if clientID == "" {
		return nil, nil, &identity.ValidationError{Field: "client_id", Message: "is required"}
	}
	if audience == "" {
		return nil, nil, &identity.ValidationError{Field: "audience", Message: "is required"}
	}
	app, err := clients.Find(sys(ctx), tx, clientID)
	if err != nil {
		return nil, nil, err
	}
	rs, err := apis.Find(sys(ctx), tx, audience)
	if err != nil {
		return nil, nil, err
	}
	return app, rs, nil
}

// checkScopes validates a grant's scopes against the API.
func checkScopes(rs *ent.ResourceServer, scopes []string) ([]string, error) {
	if len(scopes) > 500 {
		return nil, &identity.ValidationError{Field: "scope", Message: "at most 500 scopes"}
	}
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if rs.System {
			if !authz.IsManagementScope(s) {
				return nil, &identity.ValidationError{Field: "scope", Message: fmt.Sprintf("%q is not a management API scope", s)}
			}
		} else if !declares(rs, s) {
			return nil, &identity.ValidationError{Field: "scope", Message: fmt.Sprintf("%q is not a scope of the API %s", s, rs.Identifier)}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out, nil
}

// setManagementScopes writes a client's management API grant: the caller
// must control the client (hold every scope it has now) and hold every
// scope it gives; built-in clients refuse, as their update does.
func setManagementScopes(ctx context.Context, tx *ent.Client, app *ent.Application, scopes []string) (*ent.Application, error) {
	if app.System {
		return nil, clients.ErrSystemClient
	}
	if err := clients.RequireControl(ctx, app); err != nil {
		return nil, err
	}
	if err := authz.RequireHeld(ctx, scopes, ""); err != nil {
		return nil, err
	}
	return tx.Application.UpdateOne(app).SetManagementScopes(scopes).SetAllManagementScopes(false).Save(sys(ctx))
}

// CreateClientGrant grants a client scopes of an API (create:client_grants);
// a second grant for the same (client, API) is a conflict. For the
// management API the caller must hold every scope it grants and control the
// client (clients.RequireControl).
func (m Manager) CreateClientGrant(ctx context.Context, clientID, audience string, scopes []string) (ClientGrant, error) {
	var out ClientGrant
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "create:client_grants", Operation: "createClientGrant"},
		func(tx *ent.Client) (manage.Audit, error) {
			app, rs, err := m.grantTarget(ctx, tx, clientID, audience)
			if err != nil {
				return manage.Audit{}, err
			}
			scopes, err := checkScopes(rs, scopes)
			if err != nil {
				return manage.Audit{}, err
			}
			a := manage.Audit{Description: "Create a client grant for client " + app.ClientID + " on " + rs.Identifier}
			conflict := &identity.ConflictError{Field: "audience",
				Message: fmt.Sprintf("client %s already has a grant for %s", app.ClientID, rs.Identifier)}
			if rs.System {
				if len(clients.Power(app)) > 0 {
					return manage.Audit{}, conflict
				}
				if len(scopes) == 0 {
					return manage.Audit{}, &identity.ValidationError{Field: "scope", Message: "a management API grant needs at least one scope"}
				}
				if app, err = setManagementScopes(ctx, tx, app, scopes); err != nil {
					return manage.Audit{}, err
				}
				out, _ = m.managementGrant(app)
				return a, nil
			}
			exists, err := tx.ClientGrant.Query().Where(clientgrant.ClientRef(app.ID), clientgrant.ResourceServerRef(rs.ID)).Exist(sys(ctx))
			if err != nil {
				return manage.Audit{}, err
			}
			if exists {
				return manage.Audit{}, conflict
			}
			g, err := tx.ClientGrant.Create().SetClientRef(app.ID).SetResourceServerRef(rs.ID).SetScopes(scopes).Save(sys(ctx))
			if ent.IsConstraintError(err) {
				return manage.Audit{}, conflict
			} else if err != nil {
				return manage.Audit{}, err
			}
			out = storedGrant(g, app, rs)
			return a, nil
		})
	return out, err
}

// ClientGrant reads one grant by id (read:client_grants), the management
// API's included; *identity.NotFoundError when there is none.
func (m Manager) ClientGrant(ctx context.Context, id string) (ClientGrant, error) {
	if err := needScopes(ctx, "read:client_grants"); err != nil {
		return ClientGrant{}, err
	}
	app, g, rs, err := m.findGrant(ctx, m.DB, id)
	if err != nil {
		return ClientGrant{}, err
	}
	if g == nil {
		out, _ := m.managementGrant(app)
		return out, nil
	}
	return storedGrant(g, app, rs), nil
}

// findGrant resolves a grant id: a management API grant (its client) or a
// stored one.
func (m Manager) findGrant(ctx context.Context, tx *ent.Client, id string) (*ent.Application, *ent.ClientGrant, *ent.ResourceServer, error) {
	notFound := &identity.NotFoundError{What: "client grant", ID: id}
	if ref, ok := strings.CutPrefix(id, mgmtGrantPrefix); ok {
		app, err := tx.Application.Query().Where(application.ID(pulid.ID(ref))).Only(sys(ctx))
		if ent.IsNotFound(err) || (err == nil && len(clients.Power(app)) == 0) {
			return nil, nil, nil, notFound
		}
		return app, nil, nil, err
	}
	g, err := tx.ClientGrant.Query().Where(clientgrant.ID(pulid.ID(id))).WithClient().WithResourceServer().Only(sys(ctx))
	if ent.IsNotFound(err) {
		return nil, nil, nil, notFound
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return g.Edges.Client, g, g.Edges.ResourceServer, nil
}

// UpdateClientGrant replaces a grant's scopes (update:client_grants), with
// the same checks as CreateClientGrant.
func (m Manager) UpdateClientGrant(ctx context.Context, id string, scopes []string) (ClientGrant, error) {
	var out ClientGrant
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "update:client_grants", Operation: "updateClientGrant"},
		func(tx *ent.Client) (manage.Audit, error) {
			app, g, rs, err := m.findGrant(ctx, tx, id)
			if err != nil {
				return manage.Audit{}, err
			}
			if g == nil { // the management API's
				if scopes, err = checkScopes(&ent.ResourceServer{System: true}, scopes); err != nil {
					return manage.Audit{}, err
				}
				if len(scopes) == 0 {
					return manage.Audit{}, &identity.ValidationError{Field: "scope",
						Message: "a management API grant needs at least one scope: delete the grant instead"}
				}
				if app, err = setManagementScopes(ctx, tx, app, scopes); err != nil {
					return manage.Audit{}, err
				}
				out, _ = m.managementGrant(app)
				return manage.Audit{Description: "Update a client grant of client " + app.ClientID + " on " + out.Audience}, nil
			}
			if scopes, err = checkScopes(rs, scopes); err != nil {
				return manage.Audit{}, err
			}
			if g, err = tx.ClientGrant.UpdateOne(g).SetScopes(scopes).Save(sys(ctx)); err != nil {
				return manage.Audit{}, err
			}
			out = storedGrant(g, app, rs)
			return manage.Audit{Description: "Update a client grant of client " + app.ClientID + " on " + rs.Identifier}, nil
		})
	return out, err
}

// DeleteClientGrant deletes a grant (delete:client_grants), returning it as
// it was.
func (m Manager) DeleteClientGrant(ctx context.Context, id string) (ClientGrant, error) {
	var out ClientGrant
	err := manage.Write(ctx, m.DB, manage.Op{Scope: "delete:client_grants", Operation: "deleteClientGrant"},
		func(tx *ent.Client) (manage.Audit, error) {
			app, g, rs, err := m.findGrant(ctx, tx, id)
			if err != nil {
				return manage.Audit{}, err
			}
			if g == nil {
				out, _ = m.managementGrant(app)
				if _, err := setManagementScopes(ctx, tx, app, []string{}); err != nil {
					return manage.Audit{}, err
				}
				return manage.Audit{Description: "Delete a client grant of client " + app.ClientID + " on " + out.Audience}, nil
			}
			if err := tx.ClientGrant.DeleteOne(g).Exec(sys(ctx)); err != nil {
				return manage.Audit{}, err
			}
			out = storedGrant(g, app, rs)
			return manage.Audit{Description: "Delete a client grant of client " + app.ClientID + " on " + rs.Identifier}, nil
		})
	return out, err
}
