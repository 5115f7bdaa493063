package apiv2

import (
	"errors"
	"net/http"
	"strings"

	"github.com/authgraph/authgraph/apierror"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/server/oidc"
)

func (a *API) identityRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodPost, Path: "/users/{id}/identities", Scopes: []string{"update:users"},
			Summary: "Link a user account",
			Description: "Links the secondary account, named by provider and user_id (connection_id optional) or by its ID token " +
				"(link_with, an ID token of this issuer for one of its clients), to the user {id}: the secondary's identities move " +
				"to the primary and the secondary user is deleted. Returns the primary's identities.",
			Body: LinkBody{}, Response: []UserIdentity{}, Status: http.StatusCreated, Handle: a.linkIdentity,
		},
		{
			Method: http.MethodDelete, Path: "/users/{id}/identities/{provider}/{user_id}", Scopes: []string{"update:users"},
			Summary: "Unlink a user identity",
			Description: "Detaches the identity (provider, and its user_id without the provider prefix) into a user of its own. " +
				"The primary identity cannot be unlinked. Returns the remaining identities.",
			Response: []UserIdentity{}, Handle: a.unlinkIdentity,
		},
	}
}

// LinkBody is POST /users/{id}/identities's body: provider and user_id
// (connection_id optional), or link_with alone.
type LinkBody struct {
	Provider     *string `json:"provider,omitempty" doc:"The secondary account's identity provider (auth0, google-oauth2, oidc…)."`
	UserID       *string `json:"user_id,omitempty" doc:"The secondary account's user_id, with or without the provider| prefix."`
	ConnectionID *string `json:"connection_id,omitempty" doc:"The secondary identity's connection id, when the provider has several connections."`
	LinkWith     *string `json:"link_with,omitempty" doc:"The secondary account's ID token (instead of provider and user_id)."`
}

func (a *API) linkIdentity(r *Request) (any, error) {
	var b LinkBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	ctx := r.Ctx()
	sys := authz.SystemContext(ctx)
	var secondary string
	switch {
	case b.LinkWith != nil:
		if b.Provider != nil || b.UserID != nil || b.ConnectionID != nil {
			return nil, badRequest("link_with cannot be combined with provider, user_id or connection_id")
		}
		if a.cfg.VerifyIDToken == nil {
			return nil, badRequest("link_with is not supported")
		}
		sub, err := a.cfg.VerifyIDToken(ctx, *b.LinkWith)
		if err != nil {
			if a.cfg.Unavailable != nil && a.cfg.Unavailable(err) {
				return nil, &httpError{Status: http.StatusServiceUnavailable, Message: "Temporarily unavailable", RetryAfter: 1}
			}
			if !errors.Is(err, oidc.ErrInvalidIDToken) {
				return nil, err // our failure (the database), not the token's: 500
			}
			return nil, badRequest("link_with must be a valid ID token of this tenant")
		}
		secondary = sub
	case b.Provider != nil && b.UserID != nil:
		if *b.Provider == "" || *b.UserID == "" {
			return nil, badRequest("provider and user_id must not be empty")
		}
		idn, err := a.secondaryIdentity(r, *b.Provider, *b.UserID, b.ConnectionID)
		if err != nil {
			return nil, err
		}
		owner, err := a.cfg.DB.User.Get(sys, idn.OwnerID)
		if err != nil {
			return nil, err
		}
		secondary = owner.UserID
	default:
		return nil, badRequest("Missing required properties: provider and user_id, or link_with")
	}
	u, err := a.cfg.Accounts.Link(ctx, r.Param("id"), secondary)
	if err != nil {
		return nil, linkErr(err)
	}
	return a.userIdentities(ctx, u)
}

// secondaryIdentity finds the identity to link: provider, its user_id (a
// "provider|" prefix is dropped) and, when given, its connection's id.
func (a *API) secondaryIdentity(r *Request, provider, userID string, connID *string) (*ent.Identity, error) {
	upstream := strings.TrimPrefix(userID, provider+"|")
	q := a.cfg.DB.Identity.Query().Where(entidentity.Provider(provider), entidentity.UpstreamID(upstream))
	if connID != nil {
		q.Where(entidentity.ConnectionID(pulid.ID(*connID)))
	}
	idents, err := q.Limit(2).All(authz.SystemContext(r.Ctx()))
	if err != nil {
		return nil, err
	}
	switch len(idents) {
	case 0:
		return nil, notFound("user")
	case 1:
		return idents[0], nil
	}
	return nil, badRequest("several connections of provider %s have an identity %s: give connection_id", provider, upstream)
}

func (a *API) unlinkIdentity(r *Request) (any, error) {
	ctx := r.Ctx()
	sys := authz.SystemContext(ctx)
	u, err := identity.Resolve(sys, a.cfg.DB, r.Param("id"))
	if err != nil {
		return nil, userNotFound(err)
	}
	provider := r.Param("provider")
	upstream := strings.TrimPrefix(r.Param("user_id"), provider+"|")
	// Auth0 names the identity by provider; Authgraph's use case by
	// connection (a provider such as oidc has several): the user's
	// identity of that provider and id says which.
	// Two connections of one provider (two oidc connections to the same
	// IdP) may each hold the id: Auth0's path cannot say which is meant.
	idents, err := a.cfg.DB.Identity.Query().
		Where(entidentity.OwnerID(u.ID), entidentity.Provider(provider), entidentity.UpstreamID(upstream)).
		WithConnection().All(sys)
	if err != nil {
		return nil, err
	}
	if len(idents) == 0 {
		return nil, &httpError{Status: http.StatusNotFound, ErrorCode: "inexistent_identity", Message: "The identity does not exist."}
	}
	if len(idents) > 1 {
		return nil, badRequest("several connections of provider %s hold identity %s: unlink it with the GraphQL API's unlinkIdentity, which names the connection", provider, upstream)
	}
	idn := idents[0]
	out, err := a.cfg.Accounts.Unlink(ctx, u.UserID, idn.Edges.Connection.Name, upstream)
	var ve *identity.ValidationError
	if errors.As(err, &ve) && ve.Message == identity.ErrPrimaryIdentity.Error() {
		return nil, badRequest("The primary identity cannot be unlinked")
	}
	if err != nil {
		return nil, linkErr(err)
	}
	return a.userIdentities(ctx, out)
}

// linkErr maps a link or unlink failure: a conflict keeps the use case's
// own message (it is not "The user already exists."); the rest as for
// users.
func linkErr(err error) error {
	if apierror.Classify(err).Kind == apierror.Conflict {
		return err
	}
	return writeErr(err)
}
