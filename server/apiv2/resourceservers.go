package apiv2

import (
	"errors"
	"net/http"
	"strings"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/resourceserver"
)

// Resource servers (APIs). {id} is the node id (api_…) or the identifier,
// as Auth0 accepts both. The built-in management API is listed with
// is_system true and cannot be changed or deleted (403).

// ResourceServer is Auth0's resource server object as Authgraph serves it.
type ResourceServer struct {
	ID         string                `json:"id"`
	Name       string                `json:"name"`
	Identifier string                `json:"identifier"`
	Scopes     []ResourceServerScope `json:"scopes"`
	// SigningAlg is RS256 (default), ES256 or EdDSA.
	SigningAlg         string `json:"signing_alg"`
	AllowOfflineAccess bool   `json:"allow_offline_access"`
	// TokenLifetime is the access token lifetime in seconds.
	TokenLifetime int  `json:"token_lifetime"`
	IsSystem      bool `json:"is_system"`
	// EnforcePolicies turns RBAC on: users get the permissions their roles
	// and direct assignments give them, clients those of their grant.
	EnforcePolicies bool `json:"enforce_policies"`
	// TokenDialect is access_token, access_token_authz, rfc9068_profile or
	// rfc9068_profile_authz (the _authz ones add a permissions claim and
	// need enforce_policies).
	TokenDialect string `json:"token_dialect"`
	// IntrospectionClients is an Authgraph extension: the client_ids that
	// may introspect this API's access tokens besides each token's own
	// client.
	IntrospectionClients []string `json:"introspection_clients" doc:"Authgraph extension (not in Auth0): the client_ids allowed to introspect this API's access tokens, besides each token's own client."`
}

// ResourceServerScope is one permission an API defines.
type ResourceServerScope struct {
	Value       string `json:"value"`
	Description string `json:"description"`
}

// ResourceServerBody is the body of POST /resource-servers and PATCH
// /resource-servers/{id}; absent properties are left alone on PATCH.
type ResourceServerBody struct {
	// ID and IsSystem are read-only; PATCH accepts them unchanged (SDKs
	// send back what they read).
	ID       *string `json:"id,omitempty"`
	IsSystem *bool   `json:"is_system,omitempty"`
	Name     *string `json:"name,omitempty"`
	// Identifier is required on create and cannot change.
	Identifier *string `json:"identifier,omitempty"`
	// Scopes replace the API's scopes.
	Scopes             *[]ResourceServerScopeBody `json:"scopes,omitempty"`
	SigningAlg         *string                    `json:"signing_alg,omitempty" doc:"RS256 (default), ES256 or EdDSA: the JWS algorithm of this API's access tokens."`
	AllowOfflineAccess *bool                      `json:"allow_offline_access,omitempty"`
	TokenLifetime      *int                       `json:"token_lifetime,omitempty"`
	EnforcePolicies    *bool                      `json:"enforce_policies,omitempty"`
	TokenDialect       *string                    `json:"token_dialect,omitempty" doc:"access_token (default), access_token_authz, rfc9068_profile or rfc9068_profile_authz; the _authz ones need enforce_policies."`
	// IntrospectionClients replaces the list (an Authgraph extension).
	IntrospectionClients *[]string `json:"introspection_clients,omitempty" doc:"Authgraph extension (not in Auth0): the client_ids allowed to introspect this API's access tokens, besides each token's own client; replaces the list."`
}

// ResourceServerScopeBody is a scope in a request; value is required.
type ResourceServerScopeBody struct {
	Value       string  `json:"value"`
	Description *string `json:"description,omitempty"`
}

// ResourceServerList is the include_totals envelope of GET /resource-servers.
type ResourceServerList struct {
	Start           int              `json:"start"`
	Limit           int              `json:"limit"`
	Length          int              `json:"length"`
	Total           int              `json:"total"`
	ResourceServers []ResourceServer `json:"resource_servers"`
}

func (a *API) resourceServerRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodGet, Path: "/resource-servers", Scopes: []string{"read:resource_servers"},
			Summary:     "Get resource servers",
			Description: "Lists the APIs, oldest first, the built-in management API (is_system) included.",
			Query:       PageQuery{}, Response: ResourceServerList{},
			Handle: a.listResourceServers,
		},
		{
			Method: http.MethodPost, Path: "/resource-servers", Scopes: []string{"create:resource_servers"},
			Summary:     "Create a resource server",
			Description: "identifier (an absolute URI) and name are required. 409 if an API has the identifier.",
			Body:        ResourceServerBody{}, Response: ResourceServer{}, Status: http.StatusCreated,
			Handle: a.createResourceServer,
		},
		{
			Method: http.MethodGet, Path: "/resource-servers/{id}", Scopes: []string{"read:resource_servers"},
			Summary:     "Get a resource server",
			Description: "{id} is the id or the identifier.",
			Response:    ResourceServer{},
			Handle:      a.readResourceServer,
		},
		{
			Method: http.MethodPatch, Path: "/resource-servers/{id}", Scopes: []string{"update:resource_servers"},
			Summary:     "Update a resource server",
			Description: "Changes the properties given; scopes are replaced. The built-in management API cannot be changed (403).",
			Body:        ResourceServerBody{}, Response: ResourceServer{},
			Handle: a.updateResourceServer,
		},
		{
			Method: http.MethodDelete, Path: "/resource-servers/{id}", Scopes: []string{"delete:resource_servers"},
			Summary:     "Delete a resource server",
			Description: "The built-in management API cannot be deleted (403).",
			Status:      http.StatusNoContent,
			Handle:      a.deleteResourceServer,
		},
	}
}

func (a *API) apisManager() apis.Manager { return apis.Manager{DB: a.cfg.DB, Issuer: a.cfg.Issuer} }

func (a *API) listResourceServers(r *Request) (any, error) {
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	q := a.cfg.DB.ResourceServer.Query()
	total, err := q.Clone().Count(r.Ctx())
	if err != nil {
		return nil, err
	}
	all, err := q.Order(ent.Asc(resourceserver.FieldID)).Offset(p.Offset()).Limit(p.PerPage).All(r.Ctx())
	if err != nil {
		return nil, err
	}
	out := make([]ResourceServer, 0, len(all))
	for _, rs := range all {
		out = append(out, resourceServerJSON(rs))
	}
	return List(p, "resource_servers", out, total), nil
}

func (a *API) readResourceServer(r *Request) (any, error) {
	rs, err := apis.Find(r.Ctx(), a.cfg.DB, r.Param("id"))
	if err != nil {
		return nil, err
	}
	return resourceServerJSON(rs), nil
}

func (a *API) createResourceServer(r *Request) (any, error) {
	var b ResourceServerBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	switch {
	case b.ID != nil:
		return nil, badRequest("id is generated by the server and cannot be set")
	case b.IsSystem != nil && *b.IsSystem:
		return nil, badRequest("only the built-in management API is a system API on property is_system")
	case b.Identifier == nil || *b.Identifier == "":
		return nil, badRequest("Missing required property: identifier")
	case b.Name == nil:
		return nil, badRequest("Missing required property: name")
	}
	p, err := b.params()
	if err != nil {
		return nil, err
	}
	p.Identifier = *b.Identifier
	rs, err := a.apisManager().Create(r.Ctx(), p)
	if err != nil {
		return nil, asConflict(apiInputError(err), "conflict", "A resource server with the same identifier already exists.")
	}
	return resourceServerJSON(rs), nil
}

func (a *API) updateResourceServer(r *Request) (any, error) {
	var b ResourceServerBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	id := r.Param("id")
	// The route checked update:resource_servers: the read-only properties
	// sent back are compared with the API as it is.
	current, err := apis.Find(authz.SystemContext(r.Ctx()), a.cfg.DB, id)
	if err != nil {
		return nil, err
	}
	switch {
	case b.ID != nil && *b.ID != string(current.ID):
		return nil, badRequest("id cannot be changed")
	case b.Identifier != nil && *b.Identifier != current.Identifier:
		return nil, badRequest("identifier cannot be changed")
	case b.IsSystem != nil && *b.IsSystem != current.System:
		return nil, badRequest("is_system cannot be changed")
	}
	p, err := b.params()
	if err != nil {
		return nil, err
	}
	rs, err := a.apisManager().Update(r.Ctx(), id, p)
	if err != nil {
		return nil, apiInputError(err)
	}
	return resourceServerJSON(rs), nil
}

func (a *API) deleteResourceServer(r *Request) (any, error) {
	_, err := a.apisManager().Delete(r.Ctx(), r.Param("id"))
	return nil, err
}

// params converts the changeable properties of a body.
func (b *ResourceServerBody) params() (apis.Params, error) {
	p := apis.Params{Name: b.Name, AllowOfflineAccess: b.AllowOfflineAccess, TokenLifetime: b.TokenLifetime,
		EnforcePolicies: b.EnforcePolicies, TokenDialect: b.TokenDialect, SigningAlg: b.SigningAlg}
	if b.IntrospectionClients != nil {
		p.IntrospectionClients = nonNilStrings(*b.IntrospectionClients)
	}
	if b.Scopes != nil {
		p.Scopes = make([]apis.Scope, 0, len(*b.Scopes))
		for _, s := range *b.Scopes {
			d := ""
			if s.Description != nil {
				d = *s.Description
			}
			p.Scopes = append(p.Scopes, apis.Scope{"value": s.Value, "description": d})
		}
	}
	return p, nil
}

// apiInputError turns a refused parameter into a 400 naming Auth0's
// property; other errors pass through.
func apiInputError(err error) error {
	if errors.Is(err, apis.ErrInvalid) {
		return badRequest("%s", strings.NewReplacer("invalid resource server: ", "", "tokenLifetime", "token_lifetime",
			"enforcePolicies", "enforce_policies", "tokenDialect", "token_dialect", "introspectionClients", "introspection_clients", "signingAlg", "signing_alg").Replace(err.Error()))
	}
	return err
}

func resourceServerJSON(rs *ent.ResourceServer) ResourceServer {
	scopes := make([]ResourceServerScope, 0, len(rs.Scopes))
	for _, s := range rs.Scopes {
		scopes = append(scopes, ResourceServerScope{Value: s["value"], Description: s["description"]})
	}
	dialect := string(rs.TokenDialect)
	if dialect == "" {
		dialect = string(resourceserver.DefaultTokenDialect)
	}
	alg := rs.SigningAlg
	if alg == "" {
		alg = "RS256"
	}
	return ResourceServer{ID: string(rs.ID), Name: rs.Name, Identifier: rs.Identifier, Scopes: scopes,
		SigningAlg: alg, AllowOfflineAccess: rs.AllowOfflineAccess, TokenLifetime: rs.TokenLifetime, IsSystem: rs.System,
		EnforcePolicies: rs.EnforcePolicies, TokenDialect: dialect, IntrospectionClients: nonNilStrings(rs.IntrospectionClients)}
}

// nonNilStrings is s, or an empty list: a list property is [] rather than
// null, and an empty list given replaces the stored one.
func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
