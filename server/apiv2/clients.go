package apiv2

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/server/oidc"
)

// Clients (applications). Auth0's client object is much larger than
// Authgraph's: the properties served are the ones Authgraph stores or fixes
// (every client is first-party, OIDC-conformant and signs with RS256).
// A property Authgraph cannot honour is refused with 400 rather than
// accepted and dropped, except where the value sent is the one Authgraph
// has anyway, so that a read-modify-update round trip through an SDK works.

// Auth0's app_type for each Authgraph client type.
var appTypes = map[string]string{
	clients.TypeM2M:        "non_interactive",
	clients.TypeSPA:        "spa",
	clients.TypeNative:     "native",
	clients.TypeRegularWeb: "regular_web",
}

// authgraphType maps Auth0's app_type to Authgraph's client type.
func authgraphType(appType string) (string, bool) {
	for t, a := range appTypes {
		if a == appType {
			return t, true
		}
	}
	return "", false
}

// Client is Auth0's client object as Authgraph serves it.
type Client struct {
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
	// AppType is spa, native, regular_web or non_interactive.
	AppType           string   `json:"app_type"`
	Callbacks         []string `json:"callbacks"`
	AllowedLogoutURLs []string `json:"allowed_logout_urls"`
	// WebOrigins and AllowedOrigins are both Authgraph's web_origins: the
	// origins allowed to call the token endpoints from a browser.
	WebOrigins     []string `json:"web_origins"`
	AllowedOrigins []string `json:"allowed_origins"`
	// GrantTypes follow from the app_type.
	GrantTypes []string `json:"grant_types"`
	// TokenEndpointAuthMethod is client_secret_basic for confidential
	// clients (client_secret_post is accepted too) and none for public ones.
	TokenEndpointAuthMethod string                 `json:"token_endpoint_auth_method"`
	IsFirstParty            bool                   `json:"is_first_party"`
	OIDCConformant          bool                   `json:"oidc_conformant"`
	JWTConfiguration        ClientJWTConfiguration `json:"jwt_configuration"`
	RefreshToken            ClientRefreshToken     `json:"refresh_token"`
	ClientMetadata          map[string]string      `json:"client_metadata"`
	// ClientSecret is present only in the answers to create and
	// rotate-secret: Authgraph keeps a hash of it, never the secret.
	ClientSecret string `json:"client_secret,omitempty"`
}

// ClientJWTConfiguration is how ID tokens are signed and how long they live.
type ClientJWTConfiguration struct {
	// Alg is always RS256.
	Alg string `json:"alg"`
	// LifetimeInSeconds is the ID token lifetime.
	LifetimeInSeconds int `json:"lifetime_in_seconds"`
}

// ClientRefreshToken is the refresh token policy: always rotating and
// expiring, with an absolute and an idle lifetime.
type ClientRefreshToken struct {
	RotationType              string `json:"rotation_type"`
	ExpirationType            string `json:"expiration_type"`
	TokenLifetime             int    `json:"token_lifetime"`
	IdleTokenLifetime         int    `json:"idle_token_lifetime"`
	InfiniteTokenLifetime     bool   `json:"infinite_token_lifetime"`
	InfiniteIdleTokenLifetime bool   `json:"infinite_idle_token_lifetime"`
}

// ClientBody is the body of POST /clients and PATCH /clients/{id}. Absent
// properties are left alone on PATCH.
type ClientBody struct {
	// ClientID is refused on create (Authgraph generates it); on PATCH it
	// must be the client's own (SDKs send back what they read).
	ClientID *string `json:"client_id,omitempty"`
	Name     *string `json:"name,omitempty"`
	// Description is not stored by Authgraph: only "" is accepted.
	Description             *string                     `json:"description,omitempty"`
	AppType                 *string                     `json:"app_type,omitempty"`
	Callbacks               []string                    `json:"callbacks,omitempty"`
	AllowedLogoutURLs       []string                    `json:"allowed_logout_urls,omitempty"`
	WebOrigins              []string                    `json:"web_origins,omitempty"`
	AllowedOrigins          []string                    `json:"allowed_origins,omitempty"`
	GrantTypes              []string                    `json:"grant_types,omitempty"`
	TokenEndpointAuthMethod *string                     `json:"token_endpoint_auth_method,omitempty"`
	IsFirstParty            *bool                       `json:"is_first_party,omitempty"`
	OIDCConformant          *bool                       `json:"oidc_conformant,omitempty"`
	JWTConfiguration        *ClientJWTConfigurationBody `json:"jwt_configuration,omitempty"`
	RefreshToken            *ClientRefreshTokenBody     `json:"refresh_token,omitempty"`
	// ClientMetadata replaces the client's metadata: string values only,
	// at most 10 keys.
	ClientMetadata map[string]any `json:"client_metadata,omitempty"`
	// ClientSecret, on create, sets the secret of a confidential client (at
	// least 32 characters); refused on PATCH (use rotate-secret).
	ClientSecret *string `json:"client_secret,omitempty"`
}

// ClientJWTConfigurationBody sets the ID token lifetime; alg must be RS256.
type ClientJWTConfigurationBody struct {
	Alg *string `json:"alg,omitempty"`
	// LifetimeInSeconds is a number or a numeric string, as Auth0 accepts.
	LifetimeInSeconds *json.Number `json:"lifetime_in_seconds,omitempty"`
}

// ClientRefreshTokenBody sets the refresh token lifetimes; the other
// properties are accepted only with the values Authgraph has.
type ClientRefreshTokenBody struct {
	RotationType              *string `json:"rotation_type,omitempty"`
	ExpirationType            *string `json:"expiration_type,omitempty"`
	TokenLifetime             *int    `json:"token_lifetime,omitempty"`
	IdleTokenLifetime         *int    `json:"idle_token_lifetime,omitempty"`
	InfiniteTokenLifetime     *bool   `json:"infinite_token_lifetime,omitempty"`
	InfiniteIdleTokenLifetime *bool   `json:"infinite_idle_token_lifetime,omitempty"`
}

// ClientListQuery documents GET /clients.
type ClientListQuery struct {
	PageQuery
	Fields        string `query:"fields" doc:"Comma-separated list of fields to include or exclude (see include_fields)."`
	IncludeFields bool   `query:"include_fields" doc:"Whether the fields listed are included (true, default) or excluded (false)."`
	AppType       string `query:"app_type" doc:"Comma-separated list of application types to return: spa, native, regular_web, non_interactive."`
	IsFirstParty  bool   `query:"is_first_party" doc:"Every Authgraph client is first-party: false returns none."`
	From          string `query:"from" doc:"Checkpoint paging: the next value of the previous answer."`
	Take          int    `query:"take" doc:"Checkpoint paging: how many clients to return (at most 100, default 50)."`
}

// ClientReadQuery documents GET /clients/{id}.
type ClientReadQuery struct {
	Fields        string `query:"fields" doc:"Comma-separated list of fields to include or exclude (see include_fields)."`
	IncludeFields bool   `query:"include_fields" doc:"Whether the fields listed are included (true, default) or excluded (false)."`
}

// ClientList is the include_totals envelope of GET /clients.
type ClientList struct {
	Start   int      `json:"start"`
	Limit   int      `json:"limit"`
	Length  int      `json:"length"`
	Total   int      `json:"total"`
	Clients []Client `json:"clients"`
	// Next is the checkpoint cursor (with from/take): pass it as from.
	Next string `json:"next,omitempty"`
}

func (a *API) clientRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodGet, Path: "/clients", Scopes: []string{"read:clients"},
			Summary:     "Get clients",
			Description: "Lists the clients (applications), oldest first. client_secret is never returned: Authgraph stores only a hash of it.",
			Query:       ClientListQuery{}, Response: ClientList{},
			Handle: a.listClients,
		},
		{
			Method: http.MethodPost, Path: "/clients", Scopes: []string{"create:clients"},
			Summary:     "Create a client",
			Description: "Creates a client; app_type defaults to regular_web. The answer holds the client_secret of a confidential client (regular_web, non_interactive), shown this once. Management scopes are granted through GraphQL (updateClient managementScopes).",
			Body:        ClientBody{}, Response: Client{}, Status: http.StatusCreated,
			Handle: a.createClient,
		},
		{
			Method: http.MethodGet, Path: "/clients/{id}", Scopes: []string{"read:clients"},
			Summary:     "Get a client",
			Description: "{id} is the client_id. client_secret is never returned.",
			Query:       ClientReadQuery{}, Response: Client{},
			Handle: a.readClient,
		},
		{
			Method: http.MethodPatch, Path: "/clients/{id}", Scopes: []string{"update:clients"},
			Summary:     "Update a client",
			Description: "Changes the properties given. The caller must hold every management scope the client may be granted; built-in clients cannot be changed (403).",
			Body:        ClientBody{}, Response: Client{},
			Handle: a.updateClient,
		},
		{
			Method: http.MethodDelete, Path: "/clients/{id}", Scopes: []string{"delete:clients"},
			Summary:     "Delete a client",
			Description: "The client's access tokens stop working at once. The caller must hold every management scope the client may be granted; built-in clients cannot be deleted (403).",
			Status:      http.StatusNoContent,
			Handle:      a.deleteClient,
		},
		{
			Method: http.MethodPost, Path: "/clients/{id}/rotate-secret", Scopes: []string{"update:clients"},
			Summary: "Rotate a client secret",
			Description: "Gives a confidential client a new secret, returned once; the old secret and the tokens issued with it stop working at once. " +
				"Needs update:clients (Auth0: update:client_keys), and the caller must hold every management scope the client may be granted.",
			Response: Client{},
			Handle:   a.rotateClientSecret,
		},
	}
}

func (a *API) listClients(r *Request) (any, error) {
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	fields, include, err := r.Fields()
	if err != nil {
		return nil, err
	}
	q := a.cfg.DB.Application.Query()
	if v := r.URL.Query().Get("app_type"); v != "" {
		var types []application.Type
		for at := range strings.SplitSeq(v, ",") {
			t, ok := authgraphType(strings.TrimSpace(at))
			if !ok {
				return nil, badQuery("app_type must be a comma-separated list of spa, native, regular_web, non_interactive")
			}
			types = append(types, application.Type(t))
		}
		q.Where(application.TypeIn(types...))
	}
	firstParty, err := r.Bool("is_first_party", true)
	if err != nil {
		return nil, err
	}
	if !firstParty {
		q.Where(application.ClientIDIn())
	}
	if qv := r.URL.Query(); qv.Has("take") || qv.Has("from") {
		return clientCheckpoint(r, q, fields, include)
	}
	total, err := q.Clone().Count(r.Ctx())
	if err != nil {
		return nil, err
	}
	apps, err := q.Order(ent.Asc(application.FieldID)).Offset(p.Offset()).Limit(p.PerPage).All(r.Ctx())
	if err != nil {
		return nil, err
	}
	return clientPage(p, apps, total, fields, include)
}

// clientCheckpoint serves checkpoint paging: take (default 50, at most 100)
// clients after the one from names, and next (the last one's id) when
// more follow. The cursor is the opaque node id, stable under inserts.
func clientCheckpoint(r *Request, q *ent.ApplicationQuery, fields []string, include bool) (any, error) {
	take, err := r.Take()
	if err != nil {
		return nil, err
	}
	if from := r.URL.Query().Get("from"); from != "" {
		q.Where(application.IDGT(pulid.ID(from)))
	}
	apps, err := q.Order(ent.Asc(application.FieldID)).Limit(take + 1).All(r.Ctx())
	if err != nil {
		return nil, err
	}
	next := ""
	if len(apps) > take {
		apps = apps[:take]
		next = string(apps[take-1].ID)
	}
	out := make([]Client, 0, len(apps))
	for _, app := range apps {
		out = append(out, clientJSON(app, ""))
	}
	items, err := Project(out, fields, include)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"clients": items}
	if next != "" {
		body["next"] = next
	}
	return body, nil
}

func clientPage(p Page, apps []*ent.Application, total int, fields []string, include bool) (any, error) {
	out := make([]Client, 0, len(apps))
	for _, app := range apps {
		out = append(out, clientJSON(app, ""))
	}
	return ProjectedList(p, "clients", out, total, fields, include)
}

func (a *API) readClient(r *Request) (any, error) {
	fields, include, err := r.Fields()
	if err != nil {
		return nil, err
	}
	app, err := clients.Find(r.Ctx(), a.cfg.DB, r.Param("id"))
	if err != nil {
		return nil, err
	}
	return Project(clientJSON(app, ""), fields, include)
}

func (a *API) createClient(r *Request) (any, error) {
	var b ClientBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	p, err := b.params()
	if err != nil {
		return nil, err
	}
	created, err := clients.Manager{DB: a.cfg.DB}.Create(r.Ctx(), p)
	if err != nil {
		return nil, clientInputError(err)
	}
	return clientJSON(created.Client, created.Secret), nil
}

func (a *API) updateClient(r *Request) (any, error) {
	var b ClientBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	id := r.Param("id")
	m := clients.Manager{DB: a.cfg.DB}
	// The body is checked against the client as it is (app_type, grant
	// types and the other fixed properties may be sent back unchanged);
	// the use case then looks it up again inside its transaction.
	// The route checked update:clients: a caller may name a client it
	// cannot read.
	current, err := clients.Find(authz.SystemContext(r.Ctx()), a.cfg.DB, id)
	if err != nil {
		return nil, err
	}
	c, err := b.changes(current)
	if err != nil {
		return nil, err
	}
	app, err := m.Update(r.Ctx(), id, c)
	if err != nil {
		return nil, clientInputError(err)
	}
	return clientJSON(app, ""), nil
}

func (a *API) deleteClient(r *Request) (any, error) {
	_, err := clients.Manager{DB: a.cfg.DB}.Delete(r.Ctx(), r.Param("id"))
	return nil, err
}

func (a *API) rotateClientSecret(r *Request) (any, error) {
	rotated, err := clients.Manager{DB: a.cfg.DB}.RotateSecret(r.Ctx(), r.Param("id"))
	if err != nil {
		return nil, err
	}
	return clientJSON(rotated.Client, rotated.Secret), nil
}

// clientFieldNames renames the use case's (GraphQL's) input names in its
// messages to Auth0's property names.
var clientFieldNames = strings.NewReplacer(
	"invalid client parameters: ", "",
	clients.FieldRedirectURIs, "callbacks",
	clients.FieldLogoutURLs, "allowed_logout_urls",
	clients.FieldWebOrigins, "web_origins",
	"refreshTokenIdleLifetime", "refresh_token.idle_token_lifetime",
	"refreshTokenLifetime", "refresh_token.token_lifetime",
	"idTokenLifetime", "jwt_configuration.lifetime_in_seconds",
	"clientMetadata", "client_metadata",
	"managementScopes", "scopes",
)

// clientInputError turns a refused client parameter into a 400 naming
// Auth0's property; other errors pass through.
func clientInputError(err error) error {
	if errors.Is(err, clients.ErrInvalid) {
		return badRequest("%s", clientFieldNames.Replace(err.Error()))
	}
	return err
}

// clientJSON maps a client to Auth0's shape; secret is shown when given.
func clientJSON(app *ent.Application, secret string) Client {
	t := string(app.Type)
	method := "none"
	if clients.IsConfidential(t) {
		method = "client_secret_basic"
	}
	return Client{
		ClientID:                app.ClientID,
		Name:                    app.Name,
		AppType:                 appTypes[t],
		Callbacks:               clientStrings(app.RedirectUris),
		AllowedLogoutURLs:       clientStrings(app.LogoutUrls),
		WebOrigins:              clientStrings(app.WebOrigins),
		AllowedOrigins:          clientStrings(app.WebOrigins),
		GrantTypes:              clientStrings(app.GrantTypes),
		TokenEndpointAuthMethod: method,
		IsFirstParty:            true,
		OIDCConformant:          true,
		JWTConfiguration: ClientJWTConfiguration{Alg: "RS256",
			LifetimeInSeconds: clientLifetime(app.IDTokenLifetime, oidc.DefaultIDTokenLifetime)},
		RefreshToken: ClientRefreshToken{RotationType: "rotating", ExpirationType: "expiring",
			TokenLifetime:     clientLifetime(app.RefreshTokenLifetime, oidc.DefaultRefreshTokenLifetime),
			IdleTokenLifetime: clientLifetime(app.RefreshTokenIdleLifetime, oidc.DefaultRefreshTokenIdleLifetime)},
		ClientMetadata: clientMetadataMap(app.Metadata),
		ClientSecret:   secret,
	}
}

// clientLifetime is a stored lifetime in seconds, the server default when 0.
func clientLifetime(seconds int, def time.Duration) int {
	if seconds > 0 {
		return seconds
	}
	return int(def / time.Second)
}

// params converts a POST /clients body.
func (b *ClientBody) params() (clients.Params, error) {
	var p clients.Params
	if b.ClientID != nil {
		return p, badRequest("client_id is generated by the server and cannot be set")
	}
	if b.Name == nil {
		return p, badRequest("Missing required property: name")
	}
	p.Name = *b.Name
	p.Type = clients.TypeRegularWeb // Auth0's client without app_type is a confidential web app
	if b.AppType != nil {
		t, ok := authgraphType(*b.AppType)
		if !ok {
			return p, badRequest("app_type must be one of spa, native, regular_web, non_interactive on property app_type")
		}
		p.Type = t
	}
	if err := b.fixed(p.Type, nil); err != nil {
		return p, err
	}
	p.RedirectURIs, p.LogoutURLs, p.WebOrigins = b.Callbacks, b.AllowedLogoutURLs, b.origins()
	var err error
	if p.Lifetimes, err = b.lifetimes(); err != nil {
		return p, err
	}
	if p.Metadata, err = clientMetadata(b.ClientMetadata); err != nil {
		return p, err
	}
	if b.ClientSecret != nil {
		if !clients.IsConfidential(p.Type) {
			return p, badRequest("%s clients have no secret on property client_secret", appTypes[p.Type])
		}
		p.Secret = *b.ClientSecret
	}
	return p, nil
}

// changes converts a PATCH /clients/{id} body against the client as it is.
func (b *ClientBody) changes(app *ent.Application) (clients.Changes, error) {
	var c clients.Changes
	if b.ClientID != nil && *b.ClientID != app.ClientID {
		return c, badRequest("client_id cannot be changed")
	}
	if b.ClientSecret != nil {
		return c, badRequest("client_secret cannot be set: POST /clients/{id}/rotate-secret gives a new one")
	}
	if b.AppType != nil && *b.AppType != appTypes[string(app.Type)] {
		return c, badRequest("app_type cannot be changed (it is %s)", appTypes[string(app.Type)])
	}
	if err := b.fixed(string(app.Type), app.GrantTypes); err != nil {
		return c, err
	}
	c.Name = b.Name
	c.RedirectURIs, c.LogoutURLs, c.WebOrigins = b.Callbacks, b.AllowedLogoutURLs, b.origins()
	var err error
	if c.Lifetimes, err = b.lifetimes(); err != nil {
		return c, err
	}
	if c.Metadata, err = clientMetadata(b.ClientMetadata); err != nil {
		return c, err
	}
	return c, nil
}

// fixed refuses values of the properties Authgraph does not let a caller
// choose, unless they are the ones the client has anyway. grants are the
// client's grant types (nil: a new client of type t).
func (b *ClientBody) fixed(t string, grants []string) error {
	if b.Description != nil && *b.Description != "" {
		return badRequest("description is not stored by Authgraph on property description")
	}
	if b.IsFirstParty != nil && !*b.IsFirstParty {
		return badRequest("every Authgraph client is first-party on property is_first_party")
	}
	if b.OIDCConformant != nil && !*b.OIDCConformant {
		return badRequest("every Authgraph client is OIDC-conformant on property oidc_conformant")
	}
	if b.GrantTypes != nil {
		if grants == nil {
			grants = clients.DefaultGrantTypes(t)
		}
		if !clientSameSet(b.GrantTypes, grants) {
			return badRequest("grant_types follow from app_type (%s: %s) on property grant_types",
				appTypes[t], strings.Join(grants, ", "))
		}
	}
	if m := b.TokenEndpointAuthMethod; m != nil {
		ok := *m == "none"
		if clients.IsConfidential(t) {
			ok = *m == "client_secret_basic" || *m == "client_secret_post"
		}
		if !ok {
			return badRequest("token_endpoint_auth_method of a %s client must be %s on property token_endpoint_auth_method",
				appTypes[t], map[bool]string{true: "client_secret_basic or client_secret_post", false: "none"}[clients.IsConfidential(t)])
		}
	}
	if j := b.JWTConfiguration; j != nil && j.Alg != nil && *j.Alg != "RS256" {
		return badRequest("ID tokens are signed with RS256 on property jwt_configuration.alg")
	}
	if rt := b.RefreshToken; rt != nil {
		switch {
		case rt.RotationType != nil && *rt.RotationType != "rotating":
			return badRequest("refresh tokens always rotate on property refresh_token.rotation_type")
		case rt.ExpirationType != nil && *rt.ExpirationType != "expiring":
			return badRequest("refresh tokens always expire on property refresh_token.expiration_type")
		case rt.InfiniteTokenLifetime != nil && *rt.InfiniteTokenLifetime,
			rt.InfiniteIdleTokenLifetime != nil && *rt.InfiniteIdleTokenLifetime:
			return badRequest("refresh tokens always expire on property refresh_token")
		}
	}
	return nil
}

// origins merges web_origins and allowed_origins: Authgraph has one list
// for both (nil when neither is given).
func (b *ClientBody) origins() []string {
	if b.WebOrigins == nil && b.AllowedOrigins == nil {
		return nil
	}
	out := []string{}
	for _, o := range slices.Concat(b.WebOrigins, b.AllowedOrigins) {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

func (b *ClientBody) lifetimes() (clients.Lifetimes, error) {
	var l clients.Lifetimes
	if j := b.JWTConfiguration; j != nil && j.LifetimeInSeconds != nil {
		n, err := strconv.Atoi(j.LifetimeInSeconds.String())
		if err != nil {
			return l, badRequest("jwt_configuration.lifetime_in_seconds must be an integer")
		}
		l.IDToken = &n
	}
	if rt := b.RefreshToken; rt != nil {
		l.Refresh, l.RefreshIdle = rt.TokenLifetime, rt.IdleTokenLifetime
	}
	return l, nil
}

// clientMetadata narrows client_metadata to string values (nil: absent).
// A null value drops the key, as it would from Auth0's metadata.
func clientMetadata(m map[string]any) (map[string]string, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case nil:
		case string:
			out[k] = v
		default:
			return nil, badRequest("client_metadata values must be strings on property client_metadata.%s", k)
		}
	}
	return out, nil
}

func clientSameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func clientStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func clientMetadataMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
