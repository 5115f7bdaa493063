package apiv2

import (
	"errors"
	"net/http"
	"strings"

	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/rbac"
)

// Client grants: which scopes of which API a machine client may obtain with
// client_credentials, one grant per (client, API), as Auth0. The management
// API's grant of a client is its management_scopes, shown as a grant with
// the id cgr_mgmt_<client node id>; changing it changes them.

// ClientGrant is Auth0's client grant object.
type ClientGrant struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	// Audience is the API's identifier.
	Audience string   `json:"audience"`
	Scope    []string `json:"scope"`
}

// ClientGrantBody is the body of POST /client-grants and PATCH
// /client-grants/{id}.
type ClientGrantBody struct {
	// ID, ClientID and Audience cannot change: PATCH accepts them unchanged
	// (SDKs send back what they read); ClientID and Audience are required
	// on create.
	ID       *string `json:"id,omitempty"`
	ClientID *string `json:"client_id,omitempty" doc:"The client's client_id (required on create)."`
	Audience *string `json:"audience,omitempty" doc:"The API's identifier (required on create)."`
	// Scope replaces the grant's scopes; each must be a scope of the API.
	Scope *[]string `json:"scope,omitempty" doc:"The scopes granted (required on create); each a scope the API declares."`
	// SubjectType is accepted only as "client": Authgraph's grants are for
	// client_credentials.
	SubjectType *string `json:"subject_type,omitempty" doc:"Only client (the default)."`
}

// ClientGrantList is the include_totals envelope of GET /client-grants.
type ClientGrantList struct {
	Start        int           `json:"start"`
	Limit        int           `json:"limit"`
	Length       int           `json:"length"`
	Total        int           `json:"total"`
	ClientGrants []ClientGrant `json:"client_grants"`
}

// ClientGrantListQuery documents GET /client-grants.
type ClientGrantListQuery struct {
	PageQuery
	Audience string `query:"audience" doc:"Keep the grants for this API identifier."`
	ClientID string `query:"client_id" doc:"Keep the grants of this client."`
}

func (a *API) clientGrantRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodGet, Path: "/client-grants", Scopes: []string{"read:client_grants"},
			Summary:     "Get client grants",
			Description: "Lists the client grants, the management API's included (a client's management_scopes, id cgr_mgmt_…).",
			Query:       ClientGrantListQuery{}, Response: ClientGrantList{},
			Handle: a.listClientGrants,
		},
		{
			Method: http.MethodPost, Path: "/client-grants", Scopes: []string{"create:client_grants"},
			Summary: "Create a client grant",
			Description: "201. client_id, audience and scope are required; one grant per client and API (409 otherwise). " +
				"A grant of the management API sets the client's management_scopes: the caller must hold every scope it grants and be allowed to change the client.",
			Body: ClientGrantBody{}, Response: ClientGrant{}, Status: http.StatusCreated,
			Handle: a.createClientGrant,
		},
		{
			Method: http.MethodGet, Path: "/client-grants/{id}", Scopes: []string{"read:client_grants"},
			Summary: "Get a client grant", Response: ClientGrant{},
			Handle: a.readClientGrant,
		},
		{
			Method: http.MethodPatch, Path: "/client-grants/{id}", Scopes: []string{"update:client_grants"},
			Summary:     "Update a client grant",
			Description: "scope replaces the grant's scopes, with the same checks as on create.",
			Body:        ClientGrantBody{}, Response: ClientGrant{},
			Handle: a.updateClientGrant,
		},
		{
			Method: http.MethodDelete, Path: "/client-grants/{id}", Scopes: []string{"delete:client_grants"},
			Summary:     "Delete a client grant",
			Description: "204, also for a grant that does not exist, as Auth0. Deleting the management API's grant empties the client's management_scopes.",
			Status:      http.StatusNoContent,
			Handle:      a.deleteClientGrant,
		},
	}
}

func clientGrantJSON(g rbac.ClientGrant) ClientGrant {
	scope := g.Scopes
	if scope == nil {
		scope = []string{}
	}
	return ClientGrant{ID: g.ID, ClientID: g.ClientID, Audience: g.Audience, Scope: scope}
}

// grantError maps the use cases' errors to Auth0's: an unknown grant is
// "The grant does not exist.", a second grant for a client and API 409.
func grantError(err error) error {
	if nf := new(identity.NotFoundError); errors.As(err, &nf) && (nf.What == "client grant" || nf.What == "grant") {
		return &httpError{Status: http.StatusNotFound, ErrorCode: "inexistent_client_grant", Message: "The grant does not exist."}
	}
	return asConflict(err, "conflict", "A client grant for this client and audience already exists.")
}

func (a *API) listClientGrants(r *Request) (any, error) {
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	gs, total, err := a.rbac().ClientGrants(r.Ctx(), rbac.ClientGrantFilter{Audience: q.Get("audience"), ClientID: q.Get("client_id")}, rbacPage(p))
	if err != nil {
		return nil, err
	}
	out := make([]ClientGrant, 0, len(gs))
	for _, g := range gs {
		out = append(out, clientGrantJSON(g))
	}
	return List(p, "client_grants", out, total), nil
}

func (b *ClientGrantBody) check() error {
	if b.SubjectType != nil && *b.SubjectType != "client" {
		return badRequest("only client grants for client_credentials are served on property subject_type")
	}
	if b.Scope != nil {
		for _, s := range *b.Scope {
			if strings.TrimSpace(s) == "" {
				return badRequest("String is too short (0 chars), minimum 1 on property scope")
			}
		}
	}
	return nil
}

func (a *API) createClientGrant(r *Request) (any, error) {
	var b ClientGrantBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	switch {
	case b.ID != nil:
		return nil, badRequest("id is generated by the server and cannot be set")
	case b.ClientID == nil || *b.ClientID == "":
		return nil, badRequest("Missing required property: client_id")
	case b.Audience == nil || *b.Audience == "":
		return nil, badRequest("Missing required property: audience")
	case b.Scope == nil:
		return nil, badRequest("Missing required property: scope")
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	g, err := a.rbac().CreateClientGrant(r.Ctx(), *b.ClientID, *b.Audience, *b.Scope)
	if err != nil {
		return nil, grantError(err)
	}
	return clientGrantJSON(g), nil
}

// findClientGrant reads the grant id names (rbac.Manager.ClientGrant),
// answering Auth0's 404 when there is none.
func (a *API) findClientGrant(r *Request, id string) (rbac.ClientGrant, error) {
	g, err := a.rbac().ClientGrant(r.Ctx(), id)
	if errors.As(err, new(*identity.NotFoundError)) {
		return rbac.ClientGrant{}, &httpError{Status: http.StatusNotFound, ErrorCode: "inexistent_client_grant", Message: "The grant does not exist."}
	}
	return g, err
}

func (a *API) readClientGrant(r *Request) (any, error) {
	g, err := a.findClientGrant(r, r.Param("id"))
	if err != nil {
		return nil, err
	}
	return clientGrantJSON(g), nil
}

func (a *API) updateClientGrant(r *Request) (any, error) {
	var b ClientGrantBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	id := r.Param("id")
	if b == (ClientGrantBody{}) {
		return nil, badRequest("Too few properties defined (0), minimum 1")
	}
	if b.ID != nil || b.ClientID != nil || b.Audience != nil || b.Scope == nil {
		// Read-only properties sent back must be the grant's own.
		cur, err := a.findClientGrant(r, id)
		if err != nil {
			return nil, err
		}
		switch {
		case b.ID != nil && *b.ID != cur.ID:
			return nil, badRequest("id cannot be changed")
		case b.ClientID != nil && *b.ClientID != cur.ClientID:
			return nil, badRequest("client_id cannot be changed")
		case b.Audience != nil && *b.Audience != cur.Audience:
			return nil, badRequest("audience cannot be changed")
		case b.Scope == nil:
			// Nothing to change.
			return clientGrantJSON(cur), nil
		}
	}
	g, err := a.rbac().UpdateClientGrant(r.Ctx(), id, *b.Scope)
	if err != nil {
		return nil, grantError(err)
	}
	return clientGrantJSON(g), nil
}

func (a *API) deleteClientGrant(r *Request) (any, error) {
	_, err := a.rbac().DeleteClientGrant(r.Ctx(), r.Param("id"))
	if he := grantError(err); err != nil {
		if e, ok := he.(*httpError); ok && e.Status == http.StatusNotFound {
			// Deleting is idempotent, as in Auth0: the grant is gone
			// either way.
			return nil, nil
		}
		return nil, he
	}
	return nil, nil
}
