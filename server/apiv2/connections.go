package apiv2

import (
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/connections/manageconn"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
)

// Connection is a connection in Auth0's shape. Secret options (client
// secrets, bind passwords, the custom database's DSN and scripts) are
// write-only and never part of it.
type Connection struct {
	ID                 string         `json:"id" doc:"The connection's id (con_…)."`
	Name               string         `json:"name"`
	Strategy           string         `json:"strategy" doc:"Auth0's strategy: auth0 (database and custom database), oidc, google-oauth2, github, samlp, ad (LDAP)."`
	Options            map[string]any `json:"options" doc:"The non-secret options, with Auth0's names."`
	EnabledClients     []string       `json:"enabled_clients"`
	IsDomainConnection bool           `json:"is_domain_connection" doc:"Always false."`
	Realms             []string       `json:"realms" doc:"The connection's name."`
}

// ConnectionCreate is the body of POST /connections.
type ConnectionCreate struct {
	Name               string            `json:"name"`
	Strategy           string            `json:"strategy" doc:"auth0 (with options.enabledDatabaseCustomization for a custom database), oidc, google-oauth2, github, samlp or ad."`
	Options            map[string]any    `json:"options,omitempty"`
	EnabledClients     []string          `json:"enabled_clients,omitempty"`
	DisplayName        *string           `json:"display_name,omitempty" doc:"Not supported: refused unless empty."`
	IsDomainConnection *bool             `json:"is_domain_connection,omitempty" doc:"Only false is accepted."`
	Realms             []string          `json:"realms,omitempty" doc:"Only the connection's name is accepted."`
	Metadata           map[string]string `json:"metadata,omitempty" doc:"Not supported: refused unless empty."`
	ShowAsButton       *bool             `json:"show_as_button,omitempty" doc:"Only false is accepted."`
}

// ConnectionUpdate is the body of PATCH /connections/{id}. options, when
// given, replace the non-secret options wholesale, as Auth0 does; secret
// options it omits are kept (a null removes one).
type ConnectionUpdate struct {
	Options            map[string]any    `json:"options,omitempty"`
	EnabledClients     *[]string         `json:"enabled_clients,omitempty"`
	ID                 *string           `json:"id,omitempty" doc:"Read-only: accepted when unchanged, so a read object can be sent back."`
	Name               *string           `json:"name,omitempty" doc:"Immutable: accepted when unchanged."`
	Strategy           *string           `json:"strategy,omitempty" doc:"Immutable: accepted when unchanged."`
	DisplayName        *string           `json:"display_name,omitempty" doc:"Not supported: refused unless empty."`
	IsDomainConnection *bool             `json:"is_domain_connection,omitempty" doc:"Only false is accepted."`
	Realms             *[]string         `json:"realms,omitempty" doc:"Only the connection's name is accepted."`
	Metadata           map[string]string `json:"metadata,omitempty" doc:"Not supported: refused unless empty."`
	ShowAsButton       *bool             `json:"show_as_button,omitempty" doc:"Only false is accepted."`
}

// ConnectionList is the include_totals envelope of GET /connections.
type ConnectionList struct {
	Start       int          `json:"start"`
	Limit       int          `json:"limit"`
	Length      int          `json:"length"`
	Total       int          `json:"total"`
	Connections []Connection `json:"connections"`
}

// ConnectionClientList is the body of GET /connections/{id}/clients.
type ConnectionClientList struct {
	Clients []ConnectionClient `json:"clients"`
	Next    string             `json:"next,omitempty" doc:"The from value of the next page; absent on the last."`
}

// ConnectionClient is one enabled client.
type ConnectionClient struct {
	ClientID string `json:"client_id"`
}

// ConnectionClientStatus enables or disables the connection for a client.
type ConnectionClientStatus struct {
	ClientID string `json:"client_id"`
	Status   *bool  `json:"status" doc:"true enables the connection for the client, false disables it."`
}

// ConnectionClientsQuery documents GET /connections/{id}/clients' paging.
type ConnectionClientsQuery struct {
	Take int    `query:"take" doc:"Number of results per page (1 to 100, default 50)."`
	From string `query:"from" doc:"The next value of the previous page."`
}

// ConnectionsQuery documents GET /connections' parameters.
type ConnectionsQuery struct {
	PageQuery
	Name     string `query:"name" doc:"Only the connection with this name."`
	Strategy string `query:"strategy" doc:"Only connections of this Auth0 strategy; repeat the parameter for several."`
	connectionFieldsQuery
}

// connectionFieldsQuery documents fields and include_fields.
type connectionFieldsQuery struct {
	Fields        string `query:"fields" doc:"Comma-separated properties to include (or exclude, with include_fields=false)."`
	IncludeFields bool   `query:"include_fields" doc:"Whether fields lists the properties to include (true, default) or to exclude."`
}

// Auth0's strategies, as Authgraph's connections map to them.
const (
	a0Database = "auth0" // database, and customdb with enabledDatabaseCustomization
	a0OIDC     = "oidc"
	a0Google   = "google-oauth2" // oidc with preset google
	a0GitHub   = "github"        // oidc with preset github
	a0SAML     = "samlp"
	a0AD       = "ad" // ldap
)

var a0Strategies = []string{a0Database, a0OIDC, a0Google, a0GitHub, a0SAML, a0AD}

// secretOptions are never returned, whatever is stored where: the sealed
// secret options under Authgraph's and Auth0's names.
var secretOptions = []string{"client_secret", "bind_password", "dsn", "scripts", "customScripts", "configuration"}

func (a *API) connectionRoutes() []*Route {
	read, create, update, del := []string{"read:connections"}, []string{manageconn.ScopeCreate},
		[]string{manageconn.ScopeUpdate}, []string{manageconn.ScopeDelete}
	return []*Route{
		{Method: http.MethodGet, Path: "/connections", Scopes: read,
			Summary:     "Get all connections",
			Description: "Lists connections, by name, filtered by name and strategy. Secret options are never returned.",
			Query:       ConnectionsQuery{}, Response: ConnectionList{}, Handle: a.listConnections},
		{Method: http.MethodPost, Path: "/connections", Scopes: create, Status: http.StatusCreated,
			Summary:     "Create a connection",
			Description: "Creates a connection. Options use Auth0's names; the custom database's customScripts are Auth0's JavaScript functions or WebAssembly modules (base64), its configuration the scripts' secret values (dsn: the database they reach).",
			Body:        ConnectionCreate{}, Response: Connection{}, Handle: a.createConnection},
		{Method: http.MethodGet, Path: "/connections/{id}", Scopes: read,
			Summary: "Get a connection", Description: "Reads a connection by id (con_…) or name.",
			Query: connectionFieldsQuery{}, Response: Connection{}, Handle: a.getConnection},
		{Method: http.MethodPatch, Path: "/connections/{id}", Scopes: update,
			Summary:     "Update a connection",
			Description: "Replaces the non-secret options wholesale when options are given (secret options omitted are kept, a null removes one), and the enabled clients when given.",
			Body:        ConnectionUpdate{}, Response: Connection{}, Handle: a.updateConnection},
		{Method: http.MethodGet, Path: "/connections/{id}/clients", Scopes: read,
			Summary:     "Get the enabled clients of a connection",
			Description: "Lists the client ids of the applications the connection is enabled for, with checkpoint paging (take, from).",
			Query:       ConnectionClientsQuery{}, Response: ConnectionClientList{}, Handle: a.getConnectionClients},
		{Method: http.MethodPatch, Path: "/connections/{id}/clients", Scopes: update, Status: http.StatusNoContent,
			Summary:     "Update the enabled clients of a connection",
			Description: "Enables (status true) or disables (status false) the connection for each client listed; others are unchanged.",
			Body:        []ConnectionClientStatus{}, Handle: a.patchConnectionClients},
		{Method: http.MethodDelete, Path: "/connections/{id}", Scopes: del, Status: http.StatusNoContent,
			Summary:     "Delete a connection",
			Description: "Deletes a connection with its identities and the users left without any.",
			Handle:      a.deleteConnection},
	}
}

func (a *API) listConnections(r *Request) (any, error) {
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	fields, include, err := r.Fields()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	names, strategies := q["name"], q["strategy"]
	all, err := a.cfg.DB.Connection.Query().Order(ent.Asc(connection.FieldName)).All(r.Ctx())
	if err != nil {
		return nil, err
	}
	// Connections are few, and Auth0's strategies are not stored as such
	// (google-oauth2 is an oidc connection with a preset): filter here.
	items := make([]Connection, 0, len(all))
	for _, c := range all {
		out := toConnection(c)
		if (len(names) == 0 || slices.Contains(names, out.Name)) &&
			(len(strategies) == 0 || slices.Contains(strategies, out.Strategy)) {
			items = append(items, out)
		}
	}
	total := len(items)
	page := items[min(p.Offset(), total):min(p.Offset()+p.PerPage, total)]
	return ProjectedList(p, "connections", page, total, fields, include)
}

func (a *API) getConnection(r *Request) (any, error) {
	fields, include, err := r.Fields()
	if err != nil {
		return nil, err
	}
	c, err := manageconn.Find(r.Ctx(), a.cfg.DB, r.Param("id"))
	if err != nil {
		return nil, err
	}
	return Project(toConnection(c), fields, include)
}

func (a *API) createConnection(r *Request) (any, error) {
	var in ConnectionCreate
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	switch {
	case in.Name == "":
		return nil, badRequest("Missing required property: name")
	case in.Strategy == "":
		return nil, badRequest("Missing required property: strategy")
	}
	if err := unsupported(in.Name, in.DisplayName, in.IsDomainConnection, in.ShowAsButton, in.Metadata, in.Realms); err != nil {
		return nil, err
	}
	strategy, preset, err := fromAuth0Strategy(in.Strategy, in.Options)
	if err != nil {
		return nil, err
	}
	opts, err := fromAuth0Options(strategy, preset, in.Options)
	if err != nil {
		return nil, err
	}
	c, err := manageconn.Create(r.Ctx(), a.cfg.Connections, a.cfg.DB, connections.CreateParams{
		Name: in.Name, Strategy: strategy, Options: opts, EnabledClients: in.EnabledClients,
	})
	if err != nil {
		return nil, connectionError(err)
	}
	return toConnection(c), nil
}

func (a *API) updateConnection(r *Request) (any, error) {
	var in ConnectionUpdate
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	// The route checked update:connections; the use case checks it again
	// before writing. Reading first decides how Auth0's options map onto
	// this connection's strategy, which cannot change.
	c, err := manageconn.Find(authz.SystemContext(r.Ctx()), a.cfg.DB, r.Param("id"))
	if err != nil {
		return nil, err
	}
	cur := toConnection(c)
	for _, f := range []struct {
		name       string
		given, was *string
	}{{"id", in.ID, &cur.ID}, {"name", in.Name, &cur.Name}, {"strategy", in.Strategy, &cur.Strategy}} {
		if f.given != nil && *f.given != *f.was {
			return nil, badRequest("%s cannot be changed", f.name)
		}
	}
	var realms []string
	if in.Realms != nil {
		realms = *in.Realms
	}
	if err := unsupported(c.Name, in.DisplayName, in.IsDomainConnection, in.ShowAsButton, in.Metadata, realms); err != nil {
		return nil, err
	}
	p := manageconn.UpdateParams{ReplaceOptions: true}
	if in.Options != nil {
		preset, _ := c.Options["preset"].(string)
		if p.Options, err = fromAuth0Options(string(c.Strategy), preset, in.Options); err != nil {
			return nil, err
		}
	}
	if in.EnabledClients != nil {
		p.EnabledClients = append([]string{}, *in.EnabledClients...)
	}
	c, err = manageconn.Update(r.Ctx(), a.cfg.Connections, a.cfg.DB, string(c.ID), p)
	if err != nil {
		return nil, connectionError(err)
	}
	return toConnection(c), nil
}

func (a *API) deleteConnection(r *Request) (any, error) {
	_, err := manageconn.Delete(r.Ctx(), a.cfg.Connections, a.cfg.DB, r.Param("id"))
	return nil, err
}

// toConnection is c in Auth0's shape.
func toConnection(c *ent.Connection) Connection {
	opts := maps.Clone(c.Options)
	if opts == nil {
		opts = map[string]any{}
	}
	for _, k := range secretOptions {
		delete(opts, k)
	}
	strategy := a0Database
	switch string(c.Strategy) {
	case connections.StrategyCustomDB:
		opts["enabledDatabaseCustomization"] = true
	case connections.StrategyOIDC:
		strategy = a0OIDC
		switch opts["preset"] {
		case "google":
			strategy = a0Google
		case "github":
			strategy = a0GitHub
		}
		if strategy != a0OIDC {
			// The strategy says it; Auth0's social options have a list of
			// scopes where its oidc options have a string.
			delete(opts, "preset")
			if s, ok := opts["scope"].(string); ok {
				opts["scope"] = strings.Fields(s)
			}
		}
	case connections.StrategySAML:
		strategy = a0SAML
	case connections.StrategyLDAP:
		strategy = a0AD
	}
	clients := c.EnabledClients
	if clients == nil {
		clients = []string{}
	}
	return Connection{
		ID: string(c.ID), Name: c.Name, Strategy: strategy, Options: opts,
		EnabledClients: clients, Realms: []string{c.Name},
	}
}

// fromAuth0Strategy maps Auth0's strategy to Authgraph's, and the preset an
// Auth0 social strategy stands for.
func fromAuth0Strategy(s string, opts map[string]any) (strategy, preset string, err error) {
	switch s {
	case a0Database:
		if b, _ := opts["enabledDatabaseCustomization"].(bool); b {
			return connections.StrategyCustomDB, "", nil
		}
		return connections.StrategyDatabase, "", nil
	case a0OIDC:
		return connections.StrategyOIDC, "", nil
	case a0Google:
		return connections.StrategyOIDC, "google", nil
	case a0GitHub:
		return connections.StrategyOIDC, "github", nil
	case a0SAML:
		return connections.StrategySAML, "", nil
	case a0AD:
		return connections.StrategyLDAP, "", nil
	}
	return "", "", badRequest("strategy %q is not supported (one of %s)", s, strings.Join(a0Strategies, ", "))
}

// fromAuth0Options maps Auth0's option names onto Authgraph's for a
// connection of strategy (Authgraph's) and preset. Most names are the same;
// the differences are listed in docs/AUTH0-COMPATIBILITY.md (Connections).
func fromAuth0Options(strategy, preset string, in map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(in))
	for k, v := range in {
		switch {
		case k == "enabledDatabaseCustomization" && (strategy == connections.StrategyDatabase || strategy == connections.StrategyCustomDB):
			if b, ok := v.(bool); v != nil && (!ok || b != (strategy == connections.StrategyCustomDB)) {
				return nil, &connections.OptionError{Key: k, Message: "cannot change: a custom database connection is created with it true and stays one"}
			}
			continue
		case k == "customScripts" && strategy == connections.StrategyCustomDB:
			wasm, js, err := splitCustomScripts(v)
			if err != nil {
				return nil, err
			}
			if wasm != nil {
				out["scripts"] = wasm
			}
			if js != nil {
				out["customScripts"] = js
			}
			continue
		case k == "configuration" && strategy == connections.StrategyCustomDB:
			if v == nil {
				out["dsn"], out["configuration"] = nil, nil
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, &connections.OptionError{Key: k, Message: "must be an object"}
			}
			// dsn is the database the scripts reach; the other values are
			// the scripts' configuration.
			if dsn, ok := m["dsn"]; ok {
				out["dsn"] = dsn
			}
			rest := maps.Clone(m)
			delete(rest, "dsn")
			if len(rest) > 0 {
				out["configuration"] = rest
			}
			continue
		case k == "type" && strategy == connections.StrategyOIDC:
			if v != nil && v != "back_channel" {
				return nil, &connections.OptionError{Key: k, Message: "must be back_channel: logins use the back-channel code flow"}
			}
			continue
		case k == "scope" && strategy == connections.StrategyOIDC:
			if list, ok := v.([]any); ok {
				scopes := make([]string, 0, len(list))
				for _, s := range list {
					str, ok := s.(string)
					if !ok {
						return nil, &connections.OptionError{Key: k, Message: "must be a string or a list of strings"}
					}
					scopes = append(scopes, str)
				}
				v = strings.Join(scopes, " ")
			}
		case k == "preset" && strategy == connections.StrategyOIDC:
			if v != nil && v != preset {
				return nil, &connections.OptionError{Key: k, Message: "is set by the strategy (google-oauth2, github)"}
			}
			continue
		}
		if v == nil && !isOption(strategy, k) {
			// Auth0's SDKs send null for the unset fields of some typed
			// options (go-auth0's oidc jwks_uri): null is absent.
			continue
		}
		out[k] = v
	}
	if preset != "" {
		out["preset"] = preset
	}
	return out, nil
}

// isOption reports whether key is an option of strategy.
func isOption(strategy, key string) bool {
	_, _, err := connections.Split(strategy, map[string]any{key: nil})
	return err == nil
}

// unsupported refuses the Auth0 properties Authgraph does not store, unless
// given with the value Authgraph always has.
func unsupported(name string, displayName *string, domain, button *bool, metadata map[string]string, realms []string) error {
	switch {
	case displayName != nil && *displayName != "":
		return badRequest("display_name is not supported")
	case domain != nil && *domain:
		return badRequest("is_domain_connection is not supported: it must be false")
	case button != nil && *button:
		return badRequest("show_as_button is not supported: it must be false")
	case len(metadata) > 0:
		return badRequest("metadata is not supported")
	case len(realms) > 0 && !slices.Equal(realms, []string{name}):
		return badRequest("realms must be the connection's name")
	}
	return nil
}

// connectionError gives the use case's errors Auth0's names: a duplicate
// name is 409 connection_conflict, option keys are Auth0's.
func connectionError(err error) error {
	if errors.Is(err, connections.ErrNameTaken) {
		return asConflict(err, "connection_conflict", "A connection with the same name already exists")
	}
	var oe *connections.OptionError
	if errors.As(err, &oe) {
		key := oe.Key
		switch {
		case key == "enabledClients":
			key = "enabled_clients"
		case key == "scripts" || strings.HasPrefix(key, "scripts."):
			key = "customScripts" + strings.TrimPrefix(key, "scripts")
		}
		if key != oe.Key {
			return &connections.OptionError{Key: key, Message: oe.Message}
		}
	}
	return err
}

func (a *API) getConnectionClients(r *Request) (any, error) {
	q := r.URL.Query()
	from := 0
	take, err := r.Take()
	if err != nil {
		return nil, err
	}
	if v := q.Get("from"); v != "" {
		if from, err = strconv.Atoi(v); err != nil || from < 0 || from > maxPage {
			return nil, badQuery("from must be the next value of a previous page")
		}
	}
	c, err := manageconn.Find(r.Ctx(), a.cfg.DB, r.Param("id"))
	if err != nil {
		return nil, err
	}
	ids := c.EnabledClients
	out := ConnectionClientList{Clients: []ConnectionClient{}}
	for _, id := range ids[min(from, len(ids)):min(from+take, len(ids))] {
		out.Clients = append(out.Clients, ConnectionClient{ClientID: id})
	}
	if from+take < len(ids) {
		out.Next = strconv.Itoa(from + take)
	}
	return out, nil
}

func (a *API) patchConnectionClients(r *Request) (any, error) {
	var in []ConnectionClientStatus
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	var p manageconn.UpdateParams
	seen := map[string]bool{}
	for i, e := range in {
		switch {
		case e.ClientID == "":
			return nil, badRequest("Missing required property: %d.client_id", i)
		case e.Status == nil:
			return nil, badRequest("Missing required property: %d.status", i)
		case seen[e.ClientID]:
			return nil, badRequest("client %s is listed twice", e.ClientID)
		}
		seen[e.ClientID] = true
		if *e.Status {
			p.EnableClients = append(p.EnableClients, e.ClientID)
		} else {
			p.DisableClients = append(p.DisableClients, e.ClientID)
		}
	}
	if len(in) == 0 { // nothing to change, but an unknown connection is still 404
		_, err := manageconn.Find(authz.SystemContext(r.Ctx()), a.cfg.DB, r.Param("id"))
		return nil, err
	}
	_, err := manageconn.Update(r.Ctx(), a.cfg.Connections, a.cfg.DB, r.Param("id"), p)
	return nil, connectionError(err)
}

// splitCustomScripts sorts Auth0's customScripts: a WebAssembly module in
// base64 goes to scripts, anything else is JavaScript source (Auth0's
// scripts) and stays in customScripts. A null removes either.
func splitCustomScripts(v any) (wasm, js map[string]any, err error) {
	if v == nil {
		return nil, nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, &connections.OptionError{Key: "customScripts", Message: "must be an object"}
	}
	for op, s := range m {
		str, isString := s.(string)
		switch {
		case s == nil:
			wasm, js = put(wasm, op, nil), put(js, op, nil)
		case isString && isWasmBase64(str):
			wasm = put(wasm, op, s)
		default:
			js = put(js, op, s)
		}
	}
	return wasm, js, nil
}

func put(m map[string]any, k string, v any) map[string]any {
	if m == nil {
		m = map[string]any{}
	}
	m[k] = v
	return m
}

// isWasmBase64 reports whether s is standard base64 of a WebAssembly
// module ("\x00asm" encodes as AGFzbQ).
func isWasmBase64(s string) bool {
	if !strings.HasPrefix(s, "AGFzbQ") {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && len(b) >= 4
}
