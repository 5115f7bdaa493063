package oidc

import (
	"context"
	"errors"
	"net/http"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/server/loginflow"
)

// The provider's side of authn.Finalize: the users, grants and rules it
// decides a login with. The decision itself is authn's.

// finalizeUsers loads users for authn.
type finalizeUsers struct{ db *ent.Client }

func (u finalizeUsers) User(ctx context.Context, id pulid.ID) (*ent.User, error) {
	user, err := u.db.User.Get(authz.SystemContext(ctx), id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return user, err
}

// finalizeGrants decides a login's scopes with the provider's APIs, RBAC
// and UserAPIScopes.
type finalizeGrants struct{ p *Provider }

func (g finalizeGrants) RoleNames(ctx context.Context, user *ent.User) ([]string, error) {
	return g.p.roleNames(ctx, user)
}

func (g finalizeGrants) Scopes(ctx context.Context, req *authn.Request, user *ent.User, roles []string) ([]string, error) {
	var api *API
	if req.Audience != "" {
		var err error
		api, err = g.p.resolveAPI(ctx, req.Audience)
		if errors.Is(err, errUnknownAPI) {
			return nil, authn.ErrUnknownAudience
		}
		if err != nil {
			return nil, err
		}
	}
	return g.p.grantScopes(ctx, user, req.Client, api, req.Scopes, roles)
}

// finalizeRules runs the claims hook at login.
type finalizeRules struct{ p *Provider }

func (r finalizeRules) Login(ctx context.Context, ev *authn.ClaimsEvent) (*authn.CustomClaims, error) {
	return r.p.runClaimsHook(ctx, ev)
}

// Establish implements loginflow.Handoff: a login no application asked for
// is recorded with its session (authn.Finalizer.Establish), whose cookie is
// set on w; false when the user may not sign in.
func (p *Provider) Establish(w http.ResponseWriter, r *http.Request, login loginflow.Login) (bool, error) {
	res, err := p.finalizer.Establish(r.Context(), login)
	if err != nil {
		return false, err
	}
	if res.Session == nil {
		return false, nil
	}
	p.sessions.Open(r.Context(), w, r, res.Session)
	return true, nil
}
